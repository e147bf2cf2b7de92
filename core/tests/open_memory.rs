//! Opening a store on a device with large erase blocks (MCU internal
//! flash often has 128 KiB sectors) reads its log and manifest a record at
//! a time: the memory it takes does not grow with the erase block.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_core::{Config, Db, RamDevice};

/// The system allocator, counting the bytes live and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(live, Ordering::SeqCst);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const BLOCK: u32 = 128 * 1024;

#[test]
fn opening_a_store_with_128_kib_blocks_does_not_hold_a_block() {
    let cfg = Config {
        memtable_bytes: 16 * 1024,
        max_key_len: 32,
        max_value_len: 256,
        data_block_bytes: 1024,
        ..Config::default()
    };
    let mut db = Db::format(RamDevice::new(BLOCK, 16, 4), cfg.clone()).unwrap();
    // Log records in the open log block, and a few commits in the
    // metadata block (each flush commits).
    for i in 0..400u32 {
        db.put(format!("key{i:05}").as_bytes(), &[i as u8; 100])
            .unwrap();
    }
    let expected: Vec<_> = (0..400u32)
        .map(|i| db.get_vec(format!("key{i:05}").as_bytes()).unwrap())
        .collect();
    assert!(db.stats().flushes >= 1);
    let dev = db.into_device();

    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let mut db = Db::open(dev, cfg).unwrap();
    let opened = PEAK.load(Ordering::SeqCst) - before;
    // The memtable's arena and a few small buffers, not a 128 KiB block.
    assert!(
        opened < 16 * 1024 + 24 * 1024,
        "opening took {opened} bytes at its peak"
    );
    for (i, v) in expected.iter().enumerate() {
        assert_eq!(&db.get_vec(format!("key{i:05}").as_bytes()).unwrap(), v);
    }
    assert!(db.check().unwrap().is_ok());
}
