//! A store opened in caller memory (`Db::format_in`, `Db::open_in`) does
//! everything a store on the heap does, and allocates nothing: writes,
//! flushes, merges, lookups, scans, checks, a full device, closing and
//! reopening. Its memory is what `Config::memory_needed` says.

use std::collections::BTreeMap;
use std::ops::Bound;

use cairn_core::format::{parse_record, BlockHeader, BlockKind};
use cairn_core::{BlockDevice, Config, Db, Error, Memory, RamDevice};

mod common;
use common::allocations;

#[global_allocator]
static ALLOC: common::Counting = common::Counting;

/// A firmware-sized configuration: small memtable, short keys and values.
fn config() -> Config {
    Config {
        memtable_bytes: 512,
        data_block_bytes: 128,
        max_key_len: 16,
        max_value_len: 64,
        l0_compaction_trigger: 2,
        ..Config::DEFAULT
    }
}

/// `bytes` of memory that lives as long as the test process.
fn leaked(bytes: usize) -> Memory {
    Memory::new(Box::leak(vec![0u8; bytes].into_boxed_slice()))
}

/// Runs `f` and fails the test if it allocated.
fn no_alloc<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let before = allocations();
    let r = f();
    let n = allocations() - before;
    assert_eq!(n, 0, "{what} allocated {n} times");
    r
}

fn key(i: u32) -> [u8; 6] {
    let mut k = *b"k00000";
    let mut n = i;
    for d in k[1..].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    k
}

/// Every live entry, by a scan (made without allocating; collected after).
fn scanned(db: &mut Db<RamDevice>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut flat = [0u8; 16 * 1024];
    let mut at = 0;
    let mut lens = [(0usize, 0usize); 256];
    let mut n = 0;
    no_alloc("a scan", || {
        db.scan(Bound::Unbounded, Bound::Unbounded, |k, v| {
            flat[at..at + k.len()].copy_from_slice(k);
            flat[at + k.len()..at + k.len() + v.len()].copy_from_slice(v);
            at += k.len() + v.len();
            lens[n] = (k.len(), v.len());
            n += 1;
            true
        })
        .unwrap()
    });
    let mut out = Vec::new();
    let mut at = 0;
    for &(kl, vl) in &lens[..n] {
        out.push((
            flat[at..at + kl].to_vec(),
            flat[at + kl..at + kl + vl].to_vec(),
        ));
        at += kl + vl;
    }
    out
}

#[test]
fn a_store_in_fixed_memory_matches_a_model_and_never_allocates() {
    let dev = RamDevice::new(1024, 48, 4);
    let cfg = config();
    let need = cfg.memory_needed(&dev.geometry());
    let mut memory = leaked(need);
    let mut db = Db::format_in(dev, cfg.clone(), &mut memory).unwrap();
    let mut model = BTreeMap::new();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = |m: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % m
    };
    let mut buf = [0u8; 64];
    let (mut flushes, mut compactions) = (0, 0);
    for round in 0..12 {
        for _ in 0..300 {
            let i = rnd(150) as u32;
            let k = key(i);
            match rnd(10) {
                0..=5 => {
                    let len = rnd(40) as usize + 1;
                    let v = [b'a' + (round as u8 % 26); 64];
                    no_alloc("a put", || db.put(&k, &v[..len]).unwrap());
                    model.insert(k.to_vec(), v[..len].to_vec());
                }
                6..=7 => {
                    no_alloc("a delete", || db.delete(&k).unwrap());
                    model.remove(&k[..]);
                }
                _ => {
                    let got = no_alloc("a lookup", || db.get(&k, &mut buf).unwrap());
                    let want = model.get(&k[..]);
                    assert_eq!(got.map(|n| &buf[..n]), want.map(|v| &v[..]), "key {i}");
                }
            }
        }
        let want: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(scanned(&mut db), want, "round {round}");
        if round % 3 == 2 {
            no_alloc("a compaction", || db.compact().unwrap());
        }
        if round % 4 == 3 {
            // A reboot: the same memory, handed back and in again.
            let s = db.stats();
            (flushes, compactions) = (flushes + s.flushes, compactions + s.compactions);
            let dev = no_alloc("a close", || db.close(&mut memory));
            db = no_alloc("an open", || {
                Db::open_in(dev, cfg.clone(), &mut memory).unwrap()
            });
            assert_eq!(scanned(&mut db), want, "after reopening, round {round}");
        }
        let report = no_alloc("a check", || db.check().unwrap());
        assert!(report.is_ok(), "{:?}", report.problems);
    }
    let s = db.stats();
    let (flushes, compactions) = (flushes + s.flushes, compactions + s.compactions);
    assert!(
        flushes > 10 && compactions > 3,
        "{flushes} flushes, {compactions} compactions"
    );
}

#[test]
fn the_memory_needed_is_enough_and_less_is_refused() {
    let dev = RamDevice::new(1024, 48, 4);
    let cfg = config();
    let need = cfg.memory_needed(&dev.geometry());
    assert!(need < 12 * 1024, "a 16 KiB part cannot hold {need} bytes");
    let r = Db::format_in(dev.clone(), cfg.clone(), &mut leaked(need / 2));
    assert!(matches!(r, Err(Error::OutOfMemory)), "{:?}", r.err());
    let mut memory = leaked(need);
    let mut db = Db::format_in(dev, cfg.clone(), &mut memory).unwrap();
    db.put(b"k", b"v").unwrap();
    let dev = db.close(&mut memory);
    // All of it comes back, but for what aligning its lists skipped...
    assert!(
        memory.len() <= need && memory.len() + 256 >= need,
        "{memory:?} of {need}"
    );
    // ...and a failed open gives it back too.
    let blank = RamDevice::new(1024, 48, 4);
    let r = Db::open_in(blank, cfg.clone(), &mut memory);
    assert!(matches!(r, Err(Error::NotFormatted)), "{:?}", r.err());
    let mut db = Db::open_in(dev, cfg, &mut memory).unwrap();
    assert_eq!(db.get_vec(b"k").unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn a_full_store_in_fixed_memory_refuses_writes_and_keeps_deleting() {
    let dev = RamDevice::new(1024, 24, 4);
    let cfg = config();
    let need = cfg.memory_needed(&dev.geometry());
    let mut db = Db::format_in(dev, cfg, &mut leaked(need)).unwrap();
    let value = [7u8; 60];
    let mut stored = 0;
    let full = no_alloc("filling the store", || loop {
        match db.put(&key(stored), &value) {
            Ok(()) => stored += 1,
            Err(e) => break e,
        }
        assert!(stored < 100_000, "never filled");
    });
    assert_eq!(full, Error::Full);
    assert!(stored > 50, "only {stored} values fitted");
    no_alloc("deleting", || {
        for i in 0..stored {
            db.delete(&key(i)).unwrap();
        }
    });
    let mut buf = [0u8; 64];
    for i in 0..stored {
        assert_eq!(db.get(&key(i), &mut buf).unwrap(), None);
    }
    assert!(db.check().unwrap().is_ok());
}

#[test]
fn many_small_flushes_stay_within_the_cursors_a_scan_has() {
    let dev = RamDevice::new(1024, 64, 4);
    let cfg = Config {
        l0_compaction_trigger: 64,
        ..config()
    };
    let need = cfg.memory_needed(&dev.geometry());
    let mut db = Db::format_in(dev, cfg, &mut leaked(need)).unwrap();
    // Each flush is a run of level 0 whose keys overlap the others'.
    for i in 0..40u32 {
        no_alloc("a write and a flush", || {
            db.put(&key(i), b"first").unwrap();
            db.put(&key(1000 - i), b"last").unwrap();
            db.flush().unwrap();
        });
        let n = scanned(&mut db).len();
        assert_eq!(n, 2 * (i as usize + 1));
    }
    assert!(db.check().unwrap().is_ok());
}

/// The log block of a store on `dev`, and where its valid records end.
fn log_tail(dev: &mut RamDevice) -> (u32, u32) {
    let g = dev.geometry();
    let mut block = vec![0u8; g.block_size as usize];
    for b in 0..g.block_count {
        dev.read(b, 0, &mut block).unwrap();
        let Some(h) = BlockHeader::parse(&block) else {
            continue;
        };
        if h.kind != BlockKind::Wal {
            continue;
        }
        let mut off = 32;
        while let Some(r) = parse_record(&block, off, h.epoch, 4) {
            off = r.next;
        }
        if off > 32 {
            return (b, off as u32);
        }
    }
    panic!("no log block holds records");
}

/// A record torn by a power cut may leave a length that points far past
/// anything this store writes: the end of the log, not an error (a store in
/// fixed memory failed to open, out of memory, after such a cut).
#[test]
fn regression_torn_record_longer_than_fixed_buffer_ends_the_log() {
    let dev = RamDevice::new(4096, 16, 4);
    let cfg = config();
    let mut memory = leaked(cfg.memory_needed(&dev.geometry()));
    let mut db = Db::format_in(dev, cfg.clone(), &mut memory).unwrap();
    db.put(b"kept", b"value").unwrap();
    let mut dev = db.close(&mut memory);
    // A frame whose length was programmed, and nothing after it.
    let (block, off) = log_tail(&mut dev);
    let mut frame = [0u8; 16];
    frame[4..8].copy_from_slice(&3000u32.to_le_bytes());
    dev.program(block, off, &frame).unwrap();
    let mut db = Db::open_in(dev, cfg, &mut memory).unwrap();
    assert_eq!(db.get_vec(b"kept").unwrap().as_deref(), Some(&b"value"[..]));
}

/// A log written with a larger memtable holds records a smaller fixed
/// memory cannot replay: opening says so, and loses nothing.
#[test]
fn a_log_too_large_for_fixed_memory_is_refused_not_dropped() {
    let dev = RamDevice::new(4096, 16, 4);
    let big = Config {
        memtable_bytes: 8192,
        ..config()
    };
    let mut db = Db::format(dev, big.clone()).unwrap();
    let value = [5u8; 60];
    let keys: Vec<[u8; 6]> = (0..40).map(key).collect();
    let ops: Vec<(&[u8], Option<&[u8]>)> =
        keys.iter().map(|k| (&k[..], Some(&value[..]))).collect();
    db.write_ops(&ops).unwrap();
    let dev = db.into_device();
    let mut memory = leaked(config().memory_needed(&dev.geometry()));
    let r = Db::open_in(dev.clone(), config(), &mut memory);
    assert!(matches!(r, Err(Error::OutOfMemory)), "{:?}", r.err());
    // With the configuration that wrote it, everything is there.
    let mut memory = leaked(big.memory_needed(&dev.geometry()));
    let mut db = Db::open_in(dev, big, &mut memory).unwrap();
    assert_eq!(db.get_vec(&key(39)).unwrap().as_deref(), Some(&value[..]));
}
