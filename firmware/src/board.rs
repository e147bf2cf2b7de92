//! What differs between the two builds: the shape of the emulated flash,
//! the heap, and the store's configuration and workload.
//!
//! - `board_m0` (thumbv6m-none-eabi): a small part, 16 KiB of RAM, 32 KiB
//!   of flash in 1 KiB pages programmed in 4-byte words (the layout of an
//!   nRF51's flash).
//! - otherwise (thumbv7em-none-eabihf): a mid-range part, 64 KiB of RAM,
//!   64 KiB of flash in 2 KiB pages programmed in 8-byte double words (the
//!   layout of an STM32L4's flash).

use core::cell::Cell;

use cortex_m::interrupt::{self, Mutex};

use crate::nor::{EmulatedNor, NorMemory};

#[cfg(board_m0)]
mod shape {
    /// Printed at boot.
    pub const NAME: &str = "Cortex-M0 build (thumbv6m-none-eabi), 16 KiB RAM";
    /// Erase unit of the emulated flash.
    pub const ERASE: usize = 1024;
    /// Program word of the emulated flash.
    pub const WRITE: usize = 4;
    /// Read unit of the emulated flash.
    pub const READ: usize = 4;
    /// Erase units of the emulated flash.
    pub const UNITS: usize = 32;
    /// Bytes of heap, for as long as the store needs one.
    #[cfg(feature = "store")]
    pub const HEAP_BYTES: usize = 9 * 1024;
    /// Keys the workload keeps.
    #[cfg(feature = "store")]
    pub const KEYS: usize = 48;
    /// Length of every value the workload writes.
    #[cfg(feature = "store")]
    pub const VALUE_LEN: usize = 24;
    /// Times every key is overwritten.
    #[cfg(feature = "store")]
    pub const ROUNDS: u16 = 40;

    /// The store's configuration: a memtable of 512 bytes, and keys and
    /// values short enough for 1 KiB blocks.
    #[cfg(feature = "store")]
    pub fn config() -> cairn_core::Config {
        cairn_core::Config {
            memtable_bytes: 512,
            data_block_bytes: 128,
            max_key_len: 16,
            max_value_len: 64,
            allocation: cairn_core::Allocation::RoundRobin,
            ..cairn_core::Config::default()
        }
    }
}

#[cfg(not(board_m0))]
mod shape {
    /// Printed at boot.
    pub const NAME: &str = "Cortex-M4 build (thumbv7em-none-eabihf), 64 KiB RAM";
    /// Erase unit of the emulated flash.
    pub const ERASE: usize = 2048;
    /// Program word of the emulated flash.
    pub const WRITE: usize = 8;
    /// Read unit of the emulated flash.
    pub const READ: usize = 4;
    /// Erase units of the emulated flash.
    pub const UNITS: usize = 32;
    /// Bytes of heap, for as long as the store needs one.
    #[cfg(feature = "store")]
    pub const HEAP_BYTES: usize = 16 * 1024;
    /// Keys the workload keeps.
    #[cfg(feature = "store")]
    pub const KEYS: usize = 96;
    /// Length of every value the workload writes.
    #[cfg(feature = "store")]
    pub const VALUE_LEN: usize = 40;
    /// Times every key is overwritten.
    #[cfg(feature = "store")]
    pub const ROUNDS: u16 = 40;

    /// The store's configuration: a memtable of 2 KiB.
    #[cfg(feature = "store")]
    pub fn config() -> cairn_core::Config {
        cairn_core::Config {
            memtable_bytes: 2048,
            data_block_bytes: 256,
            max_key_len: 32,
            max_value_len: 128,
            allocation: cairn_core::Allocation::RoundRobin,
            ..cairn_core::Config::default()
        }
    }
}

pub use shape::*;

/// Bytes of emulated flash.
pub const FLASH_BYTES: usize = ERASE * UNITS;

/// The emulated flash of this board.
pub type Flash = EmulatedNor<ERASE, WRITE, READ>;

// The emulated chip's memory, in the `.nor` section: a region of its own
// outside RAM (see memory-*.x), as a flash chip would be.
#[link_section = ".nor"]
static mut NOR_CELLS: [u8; FLASH_BYTES] = [0; FLASH_BYTES];
#[link_section = ".nor"]
static mut NOR_PROGRAMMED: [u32; FLASH_BYTES / WRITE / 32] = [0; FLASH_BYTES / WRITE / 32];
#[link_section = ".nor"]
static mut NOR_ERASES: [u32; UNITS] = [0; UNITS];

static FLASH_TAKEN: Mutex<Cell<bool>> = Mutex::new(Cell::new(false));

/// The emulated flash, factory-fresh. Panics if called twice.
pub fn take_flash() -> Flash {
    interrupt::free(|cs| {
        let taken = FLASH_TAKEN.borrow(cs);
        assert!(!taken.get(), "the flash is taken once");
        taken.set(true);
    });
    let cells = &raw mut NOR_CELLS;
    let programmed = &raw mut NOR_PROGRAMMED;
    let erases = &raw mut NOR_ERASES;
    // SAFETY: the guard above lets this run once, and nothing else names
    // these statics, so these are the only references to them.
    let mem = unsafe {
        NorMemory {
            cells: &mut *cells,
            programmed: &mut *programmed,
            erases: &mut *erases,
        }
    };
    Flash::new_erased(mem)
}
