//! cairn on a microcontroller, under QEMU.
//!
//! With the `store` feature (the default), the firmware puts a cairn store
//! in an emulated NOR flash and works it out (see `store.rs`); without it,
//! it is the baseline: the same runtime, output, emulated flash and stack
//! measurement with no store, so that the difference in code size is what
//! the store costs.
//!
//! Either way it prints its results over semihosting and exits through
//! semihosting: status 0 when every check passed, non-zero on a failed
//! check, a panic or a hard fault. There is no heap: the store lives in a
//! static buffer of the size its configuration needs.
#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

mod board;
mod nor;
mod stack;
#[cfg(feature = "store")]
mod store;

use core::fmt::Display;
use core::panic::PanicInfo;

use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hprintln};

/// Ends the run with a failure status.
fn exit_failure() -> ! {
    debug::exit(debug::EXIT_FAILURE);
    // Only reached without a debugger or semihosting host.
    loop {
        cortex_m::asm::bkpt();
    }
}

/// Reports a failed step and ends the run with a failure status.
pub fn fail(what: &str, detail: &dyn Display) -> ! {
    hprintln!("FAIL {}: {}", what, detail);
    exit_failure()
}

/// Fails the run unless `cond` holds.
pub fn ensure(cond: bool, what: &str, why: &str) {
    if !cond {
        fail(what, &why);
    }
}

#[entry]
fn main() -> ! {
    hprintln!("cairn firmware: {}", board::NAME);
    let mut flash = board::take_flash();

    #[cfg(feature = "store")]
    let (store_memory, store_handle) = store::run(&mut flash);
    #[cfg(not(feature = "store"))]
    let (store_memory, store_handle) = (0, 0);
    #[cfg(not(feature = "store"))]
    {
        match nor::self_test(&mut flash) {
            Ok(n) => hprintln!("ok   baseline: flash self-test on {} erase units", n),
            Err(why) => fail("flash self-test", &why),
        }
    }

    let (least, most) = flash.erase_range();
    hprintln!(
        "info flash: {} units of {} bytes, erased {} to {} times each",
        board::UNITS,
        board::ERASE,
        least,
        most
    );

    let stack = stack::measure();
    ensure(!stack.overflowed(), "stack", "the stack ran out of room");
    hprintln!("info stack: peak {} of {} bytes", stack.peak, stack.size);
    // One line for scripts.
    hprintln!(
        "report stack_peak={} stack_size={} store_memory={} store_handle={}",
        stack.peak,
        stack.size,
        store_memory,
        store_handle
    );
    hprintln!("PASS");
    debug::exit(debug::EXIT_SUCCESS);
    loop {
        cortex_m::asm::bkpt();
    }
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    hprintln!("FAIL panic: {}", info);
    exit_failure()
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    hprintln!("FAIL hard fault at pc {:#010x}", frame.pc());
    exit_failure()
}
