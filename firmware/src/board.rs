//! What differs between the two builds: the shape of the emulated flash,
//! and the store's configuration and workload.
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
    /// Keys the workload keeps.
    #[cfg(feature = "store")]
    pub const KEYS: usize = 48;
    /// Length of every value the workload writes.
    #[cfg(feature = "store")]
    pub const VALUE_LEN: usize = 24;
    /// Times every key is overwritten.
    #[cfg(feature = "store")]
    pub const ROUNDS: u16 = 40;

    /// The store's configuration: a memtable of 512 bytes, keys and values
    /// short enough for 1 KiB blocks, and level 0 merged down once it holds
    /// two memtables' worth (each sorted run a scan may merge takes a
    /// cursor of memory).
    #[cfg(feature = "store")]
    pub const CONFIG: cairn_core::Config = cairn_core::Config {
        memtable_bytes: 512,
        data_block_bytes: 128,
        max_key_len: 16,
        max_value_len: 64,
        l0_compaction_trigger: 3,
        allocation: cairn_core::Allocation::RoundRobin,
        ..cairn_core::Config::DEFAULT
    };
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
    pub const CONFIG: cairn_core::Config = cairn_core::Config {
        memtable_bytes: 2048,
        data_block_bytes: 256,
        max_key_len: 32,
        max_value_len: 128,
        allocation: cairn_core::Allocation::RoundRobin,
        ..cairn_core::Config::DEFAULT
    };
}

pub use shape::*;

/// Bytes of emulated flash.
pub const FLASH_BYTES: usize = ERASE * UNITS;

/// The geometry the store sees: the whole emulated flash.
#[cfg(feature = "store")]
pub const GEOMETRY: cairn_core::Geometry = cairn_core::Geometry {
    block_size: ERASE as u32,
    block_count: UNITS as u32,
    read_size: READ as u32,
    program_size: WRITE as u32,
};

/// Bytes of RAM the store needs for this configuration and geometry: the
/// size of its static buffer.
#[cfg(feature = "store")]
pub const STORE_MEMORY: usize = CONFIG.memory_needed(&GEOMETRY);

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

/// Sets `flag`; panics with `why` if it was set already.
fn take_once(flag: &Mutex<Cell<bool>>, why: &str) {
    interrupt::free(|cs| {
        let taken = flag.borrow(cs);
        assert!(!taken.get(), "{}", why);
        taken.set(true);
    });
}

/// The store's memory, in `.bss`: zeroed at boot, never on the stack.
#[cfg(feature = "store")]
static mut STORE_BUFFER: [u8; STORE_MEMORY] = [0; STORE_MEMORY];

#[cfg(feature = "store")]
static STORE_TAKEN: Mutex<Cell<bool>> = Mutex::new(Cell::new(false));

/// The store's memory, in `.bss` too. Panics if called twice.
#[cfg(feature = "store")]
pub fn take_store_memory() -> &'static mut cairn_core::Memory {
    take_once(&STORE_TAKEN, "the store's memory is taken once");
    let buf = &raw mut STORE_BUFFER;
    let memory = &raw mut STORE_MEMORY_HANDLE;
    // SAFETY: the guard above lets this run once, and nothing else names
    // these statics, so these are the only references to them.
    let (buf, memory) = unsafe { (&mut *buf, &mut *memory) };
    memory.insert(cairn_core::Memory::new(buf))
}

/// The handle of the store's memory: what is left of the buffer, and what
/// the store gives back when it closes.
#[cfg(feature = "store")]
static mut STORE_MEMORY_HANDLE: Option<cairn_core::Memory> = None;

/// The emulated flash, factory-fresh. Panics if called twice.
pub fn take_flash() -> Flash {
    take_once(&FLASH_TAKEN, "the flash is taken once");
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
