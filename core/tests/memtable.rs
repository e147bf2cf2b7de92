//! The store around its fixed-size memtable: what fits, what is refused,
//! logs replayed into a smaller memtable, and flushes that fail.

use std::cell::Cell;
use std::rc::Rc;

use cairn_core::{Batch, BlockDevice, Config, Db, Error, Geometry, RamDevice};

fn config(memtable_bytes: usize) -> Config {
    Config {
        memtable_bytes,
        max_key_len: 64,
        ..Config::default()
    }
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

#[test]
fn a_batch_larger_than_the_memtable_is_refused_whole() {
    let mut db = Db::format(RamDevice::new(4096, 32, 4), config(2048)).unwrap();
    db.put(b"before", b"x").unwrap();
    let mut big = Batch::new();
    for i in 0..20 {
        big.put(&key(i), &[i as u8; 100]);
    }
    assert_eq!(db.write(&big), Err(Error::TooLarge));
    for i in 0..20 {
        assert_eq!(db.get_vec(&key(i)).unwrap(), None);
    }
    // Within the documented bound (key + value + 64 bytes per operation),
    // a batch always fits, flushing first if need be.
    for round in 0..20u32 {
        let mut b = Batch::new();
        let mut bytes = 0;
        let mut i = 0;
        while bytes + 8 + 100 + 64 <= 2048 {
            b.put(&key(round * 100 + i), &[round as u8; 100]);
            bytes += 8 + 100 + 64;
            i += 1;
        }
        db.write(&b).unwrap();
    }
    assert!(db.stats().flushes > 0);
    assert_eq!(db.get_vec(b"before").unwrap().unwrap(), b"x");
    assert_eq!(db.get_vec(&key(1901)).unwrap().unwrap(), vec![19; 100]);
    assert!(db.check().unwrap().is_ok());
}

#[test]
fn the_longest_key_and_value_always_fit_the_memtable() {
    let cfg = config(1024);
    let mut db = Db::format(RamDevice::new(4096, 32, 4), cfg.clone()).unwrap();
    let max = db.max_value_len();
    assert!(max > 800 && max < 1024 - 64, "{max}");
    for i in 0..10u8 {
        let mut k = vec![i; 64];
        k[0] = b'k';
        db.put(&k, &vec![i; max]).unwrap();
        assert!(db.stats().memtable_bytes <= 1024);
    }
    assert_eq!(db.put(b"k", &vec![0; max + 1]), Err(Error::TooLarge));
    let mut db = Db::open(db.into_device(), cfg).unwrap();
    for i in 0..10u8 {
        let mut k = vec![i; 64];
        k[0] = b'k';
        assert_eq!(db.get_vec(&k).unwrap().unwrap(), vec![i; max]);
    }
}

#[test]
fn a_memtable_too_small_for_the_longest_key_is_an_invalid_config() {
    let cfg = Config {
        memtable_bytes: 512,
        max_key_len: 512,
        ..Config::default()
    };
    assert!(matches!(
        Db::format(RamDevice::new(4096, 32, 4), cfg),
        Err(Error::InvalidConfig(_))
    ));
}

#[test]
fn a_log_written_with_a_larger_memtable_replays_into_a_smaller_one() {
    let big = config(64 << 10);
    let mut db = Db::format(RamDevice::new(4096, 64, 4), big.clone()).unwrap();
    for i in 0..300 {
        db.put(&key(i), &[i as u8; 100]).unwrap();
    }
    // Overwrites that take new nodes, and deletes.
    for i in (0..300).step_by(3) {
        db.put(&key(i), &[i as u8; 150]).unwrap();
    }
    for i in (1..300).step_by(7) {
        db.delete(&key(i)).unwrap();
    }
    assert_eq!(db.stats().flushes, 0);
    let used = db.stats().memtable_bytes;
    assert!(used > 40 << 10, "{used}");

    let small = config(2048);
    let mut db = Db::open(db.into_device(), small.clone()).unwrap();
    assert_eq!(db.stats().memtable_bytes, used);
    let want = |i: u32| -> Option<Vec<u8>> {
        if i % 7 == 1 {
            None
        } else if i % 3 == 0 {
            Some(vec![i as u8; 150])
        } else {
            Some(vec![i as u8; 100])
        }
    };
    for i in 0..300 {
        assert_eq!(db.get_vec(&key(i)).unwrap(), want(i), "{i}");
    }
    assert!(db.check().unwrap().is_ok());
    // The next write flushes (the memtable holds more than its configured
    // size); the memtable is back to that size.
    db.put(b"after", b"reopen").unwrap();
    assert_eq!(db.stats().flushes, 1);
    assert!(db.stats().memtable_bytes <= 2048);
    for i in 300..400 {
        db.put(&key(i), &[1; 100]).unwrap();
        assert!(db.stats().memtable_bytes <= 2048);
    }
    let mut db = Db::open(db.into_device(), small).unwrap();
    for i in 0..300 {
        assert_eq!(db.get_vec(&key(i)).unwrap(), want(i), "{i}");
    }
    assert_eq!(db.get_vec(b"after").unwrap().unwrap(), b"reopen");
    assert!(db.check().unwrap().is_ok());
}

/// A device whose programs fail while `fail` is set.
struct Flaky {
    dev: RamDevice,
    fail: Rc<Cell<bool>>,
}

#[derive(Debug)]
#[allow(dead_code)] // read through Debug
enum FlakyError {
    Injected,
    Ram(cairn_core::device::RamError),
}

impl BlockDevice for Flaky {
    type Error = FlakyError;
    fn geometry(&self) -> Geometry {
        self.dev.geometry()
    }
    fn read(&mut self, block: u32, offset: u32, buf: &mut [u8]) -> Result<(), FlakyError> {
        self.dev.read(block, offset, buf).map_err(FlakyError::Ram)
    }
    fn program(&mut self, block: u32, offset: u32, data: &[u8]) -> Result<(), FlakyError> {
        if self.fail.get() {
            return Err(FlakyError::Injected);
        }
        self.dev
            .program(block, offset, data)
            .map_err(FlakyError::Ram)
    }
    fn erase(&mut self, block: u32) -> Result<(), FlakyError> {
        self.dev.erase(block).map_err(FlakyError::Ram)
    }
    fn sync(&mut self) -> Result<(), FlakyError> {
        self.dev.sync().map_err(FlakyError::Ram)
    }
}

#[test]
fn a_failed_flush_loses_nothing() {
    let fail = Rc::new(Cell::new(false));
    let dev = Flaky {
        dev: RamDevice::new(4096, 32, 4),
        fail: fail.clone(),
    };
    let cfg = config(4096);
    let mut db = Db::format(dev, cfg.clone()).unwrap();
    for i in 0..20 {
        db.put(&key(i), &[i as u8; 50]).unwrap();
    }
    let used = db.stats().memtable_bytes;
    fail.set(true);
    assert!(matches!(db.flush(), Err(Error::Device(_))));
    // The memtable still serves every write.
    assert_eq!(db.stats().memtable_bytes, used);
    for i in 0..20 {
        assert_eq!(db.get_vec(&key(i)).unwrap().unwrap(), vec![i as u8; 50]);
    }
    let dev = db.into_device();
    fail.set(false);
    let mut db = Db::open(dev, cfg).unwrap();
    for i in 0..20 {
        assert_eq!(db.get_vec(&key(i)).unwrap().unwrap(), vec![i as u8; 50]);
    }
    db.flush().unwrap();
    assert_eq!(db.stats().memtable_bytes, 0);
    for i in 0..20 {
        assert_eq!(db.get_vec(&key(i)).unwrap().unwrap(), vec![i as u8; 50]);
    }
    assert!(db.check().unwrap().is_ok());
}
