//! The heap, for as long as `cairn_core::Db` needs the `alloc` feature: a
//! linked-list first-fit heap (`embedded-alloc`) in a static buffer, with
//! its use measured.
//!
//! Besides the bytes live at any moment, it records the peak of those and
//! the high-water mark: the highest byte of the heap ever handed out. A
//! first-fit heap of exactly the high-water mark would have served every
//! request of the run, fragmentation included, so that is the heap this
//! configuration needs.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::mem::MaybeUninit;

use cortex_m::interrupt::{self, Mutex};
use embedded_alloc::LlffHeap;

use crate::board::HEAP_BYTES;

#[global_allocator]
static HEAP: TrackedHeap = TrackedHeap {
    heap: LlffHeap::empty(),
    usage: Mutex::new(Cell::new(Usage {
        start: 0,
        size: 0,
        live: 0,
        peak: 0,
        high_water: 0,
        allocations: 0,
    })),
};

/// What the heap has been asked for.
#[derive(Clone, Copy)]
pub struct Usage {
    /// Address of the heap's first byte.
    start: usize,
    /// Bytes of heap.
    pub size: usize,
    /// Bytes in live allocations now.
    pub live: usize,
    /// Most bytes ever live at once.
    pub peak: usize,
    /// Offset past the highest byte ever handed out.
    pub high_water: usize,
    /// Allocations made.
    pub allocations: u32,
}

struct TrackedHeap {
    heap: LlffHeap,
    usage: Mutex<Cell<Usage>>,
}

// SAFETY: every call is forwarded to `LlffHeap`, which upholds the
// `GlobalAlloc` contract; the bookkeeping only reads the results.
unsafe impl GlobalAlloc for TrackedHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { self.heap.alloc(layout) };
        if !p.is_null() {
            interrupt::free(|cs| {
                let cell = self.usage.borrow(cs);
                let mut u = cell.get();
                u.live += layout.size();
                u.peak = u.peak.max(u.live);
                u.high_water = u.high_water.max(p as usize + layout.size() - u.start);
                u.allocations += 1;
                cell.set(u);
            });
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.heap.dealloc(ptr, layout) };
        interrupt::free(|cs| {
            let cell = self.usage.borrow(cs);
            let mut u = cell.get();
            u.live -= layout.size();
            cell.set(u);
        });
    }
}

/// Hands the heap its memory. Call once, before anything allocates.
pub fn init() {
    static mut MEMORY: [MaybeUninit<u8>; HEAP_BYTES] = [MaybeUninit::uninit(); HEAP_BYTES];
    let start = &raw mut MEMORY as usize;
    // SAFETY: `MEMORY` is used by nothing but the heap, and `LlffHeap::init`
    // panics if it is called a second time.
    unsafe { HEAP.heap.init(start, HEAP_BYTES) };
    interrupt::free(|cs| {
        let cell = HEAP.usage.borrow(cs);
        let mut u = cell.get();
        u.start = start;
        u.size = HEAP_BYTES;
        cell.set(u);
    });
}

/// The heap's use so far.
pub fn usage() -> Usage {
    interrupt::free(|cs| HEAP.usage.borrow(cs).get())
}

/// Bytes in use by the allocator's own count (`LlffHeap::used`).
pub fn used() -> usize {
    HEAP.heap.used()
}
