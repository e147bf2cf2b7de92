//! Peak stack use, by stack painting.
//!
//! cortex-m-rt's `paint-stack` feature fills all RAM between the end of the
//! static data (`_stack_end`) and the top of the stack (`_stack_start`)
//! with `STACK_PAINT_VALUE` before `main` runs. Whatever the stack has
//! reached since has lost its paint; the lowest such word marks the peak.

use core::ptr;

use cortex_m_rt::STACK_PAINT_VALUE;

extern "C" {
    static _stack_start: u32;
    static _stack_end: u32;
}

/// How much of the stack was used.
pub struct StackUse {
    /// Deepest the stack has been, in bytes.
    pub peak: usize,
    /// Bytes of RAM the stack may grow into.
    pub size: usize,
}

impl StackUse {
    /// Whether the stack reached the end of its area, and so may have
    /// overwritten the static data below it.
    pub fn overflowed(&self) -> bool {
        self.peak >= self.size
    }
}

/// Measures the peak so far.
pub fn measure() -> StackUse {
    let top = &raw const _stack_start as usize;
    let bottom = &raw const _stack_end as usize;
    let mut at = bottom;
    // SAFETY: every word in [bottom, top) is RAM reserved for the stack by
    // the linker script; reading it (even below the live stack pointer)
    // has no side effects.
    while at < top && unsafe { ptr::read_volatile(at as *const u32) } == STACK_PAINT_VALUE {
        at += 4;
    }
    StackUse {
        peak: top - at,
        size: top - bottom,
    }
}
