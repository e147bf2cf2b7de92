//! Once a store on the heap is open and warmed up, its everyday operations
//! allocate nothing: lookups, writes that do not flush, and short scans
//! reuse the buffers the store already holds. (A store in fixed memory
//! allocates nothing at all: `fixed_memory.rs`.)

use std::ops::Bound;

use common::allocations;

use cairn_core::{Config, Db, RamDevice};

mod common;

#[global_allocator]
static ALLOC: common::Counting = common::Counting;

/// `key:` and eight decimal digits (made without allocating).
fn key(i: u32) -> [u8; 12] {
    let mut k = *b"key:00000000";
    let mut n = i;
    for d in k[4..].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    k
}

/// A store with tables in several levels and entries in the memtable.
fn store(cache_bytes: usize) -> Db<RamDevice> {
    let cfg = Config {
        memtable_bytes: 16 * 1024,
        data_block_bytes: 1024,
        max_key_len: 32,
        cache_bytes,
        ..Config::default()
    };
    let mut db = Db::format(RamDevice::new(16 * 1024, 256, 4), cfg).unwrap();
    for round in 0..3u32 {
        for i in (0..6000).filter(|i| i % (round + 1) == 0) {
            db.put(&key(i), &[round as u8; 40]).unwrap();
        }
    }
    for i in (0..6000).step_by(5) {
        db.delete(&key(i)).unwrap();
    }
    db
}

/// Runs `work` once to warm the store up, then again, and returns the
/// allocations of the second run.
fn allocations_of(db: &mut Db<RamDevice>, mut work: impl FnMut(&mut Db<RamDevice>)) -> u64 {
    work(db);
    let before = allocations();
    work(db);
    allocations() - before
}

#[test]
fn lookups_allocate_nothing() {
    for cache in [0, 1 << 20] {
        let mut db = store(cache);
        let mut buf = [0u8; 64];
        let n = allocations_of(&mut db, |db| {
            for i in 0..6000 {
                db.get(&key(i), &mut buf).unwrap();
                db.get(&key(i * 7 + 100_000), &mut buf).unwrap();
            }
        });
        assert_eq!(n, 0, "12,000 lookups (cache {cache}) allocated {n} times");
    }
}

#[test]
fn writes_that_do_not_flush_allocate_nothing() {
    let mut db = store(0);
    let mut i = 0;
    let n = allocations_of(&mut db, |db| {
        let flushes = db.stats().flushes;
        for _ in 0..40 {
            db.put(&key(i % 6000), &[9; 40]).unwrap();
            db.delete(&key((i * 3) % 6000)).unwrap();
            i += 1;
        }
        assert_eq!(db.stats().flushes, flushes, "the memtable filled up");
    });
    assert_eq!(n, 0, "80 writes allocated {n} times");
}

#[test]
fn short_scans_allocate_nothing() {
    for cache in [0, 1 << 20] {
        let mut db = store(cache);
        let n = allocations_of(&mut db, |db| {
            for i in (0..6000).step_by(50) {
                let k = key(i);
                let mut seen = 0;
                db.scan(Bound::Included(&k[..]), Bound::Unbounded, |_, _| {
                    seen += 1;
                    seen < 10
                })
                .unwrap();
            }
        });
        assert_eq!(n, 0, "120 scans (cache {cache}) allocated {n} times");
    }
}
