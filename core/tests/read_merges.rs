//! Merges that reads pay for (`Db::maintenance_due`, `Db::maintain`): a
//! store whose reads keep consulting several sorted runs is merged into
//! one, with every key intact, and a store that is already one run is
//! never rewritten for its reads.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::rc::Rc;

use cairn_core::{BlockDevice, Config, Db, Error, Geometry, RamDevice, LEVELS};

fn config() -> Config {
    Config {
        memtable_bytes: 4096,
        data_block_bytes: 512,
        max_key_len: 32,
        ..Config::default()
    }
}

fn key(i: u32) -> Vec<u8> {
    format!("key:{i:08}").into_bytes()
}

/// A key between `key(i)` and `key(i + 1)`: inside every run's key range,
/// in none of them.
fn missing(i: u32) -> Vec<u8> {
    format!("key:{i:08}~").into_bytes()
}

/// Levels holding tables (a store in one sorted run has one).
fn levels_with_tables<D: BlockDevice>(db: &Db<D>) -> usize {
    let s = db.stats();
    (0..LEVELS).filter(|&l| s.tables_per_level[l] > 0).count()
}

/// A store with data in level 0, in a deeper level and in the memtable,
/// with overwrites and deletes spread across them; and its model.
fn layered_store() -> (Db<RamDevice>, BTreeMap<Vec<u8>, Vec<u8>>) {
    layered_store_on(RamDevice::new(4096, 256, 4))
}

fn layered_store_on<D: BlockDevice>(dev: D) -> (Db<D>, BTreeMap<Vec<u8>, Vec<u8>>) {
    let mut db = Db::format(dev, config()).unwrap();
    let mut model = BTreeMap::new();
    for round in 0..3u32 {
        for i in (0..1500u32).filter(|i| i % (round + 2) == 0) {
            let v = format!("value {i} round {round}").into_bytes();
            db.put(&key(i), &v).unwrap();
            model.insert(key(i), v);
        }
        for i in (0..1500u32).filter(|i| i % 7 == round) {
            db.delete(&key(i)).unwrap();
            model.remove(&key(i));
        }
    }
    for i in 0..40u32 {
        let v = b"in the memtable".to_vec();
        db.put(&key(i * 31), &v).unwrap();
        model.insert(key(i * 31), v);
    }
    (db, model)
}

fn assert_matches<D: BlockDevice>(db: &mut Db<D>, model: &BTreeMap<Vec<u8>, Vec<u8>>) {
    let mut seen = Vec::new();
    db.scan(Bound::Unbounded, Bound::Unbounded, |k, v| {
        seen.push((k.to_vec(), v.to_vec()));
        true
    })
    .unwrap();
    let expected: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(seen.len(), expected.len());
    assert!(seen == expected, "a scan differs from the model");
    for i in 0..1500u32 {
        assert_eq!(
            db.get_vec(&key(i)).unwrap().as_ref(),
            model.get(&key(i)),
            "key {i}"
        );
    }
}

/// Looks up keys the store lacks until the lookups have paid for a merge.
fn look_up_missing_keys_until_a_merge_is_due<D: BlockDevice>(db: &mut Db<D>) {
    let mut buf = [0u8; 64];
    let mut lookups = 0;
    while !db.maintenance_due() {
        db.get(&missing(lookups % 1500), &mut buf).unwrap();
        lookups += 1;
        assert!(lookups < 1_000_000, "lookups never paid for a merge");
    }
}

#[test]
fn lookups_that_miss_many_runs_merge_the_store_into_one() {
    let (mut db, model) = layered_store();
    assert!(levels_with_tables(&db) >= 2, "{:?}", db.stats());
    assert!(!db.maintenance_due(), "nothing read yet");
    assert!(!db.maintain().unwrap(), "nothing to pay for yet");

    look_up_missing_keys_until_a_merge_is_due(&mut db);
    let writes_before = db.stats().bytes_programmed;
    assert!(db.maintain().unwrap());
    let s = db.stats();
    assert_eq!(s.read_merges, 1);
    assert!(s.bytes_programmed > writes_before, "a merge writes tables");
    assert_eq!(levels_with_tables(&db), 1, "{s:?}");
    assert_eq!(s.memtable_bytes, 0, "the memtable was flushed");
    assert!(!db.maintenance_due(), "the debt was paid");
    assert_matches(&mut db, &model);

    // The merge survives a reopen.
    let dev = db.into_device();
    let mut db = Db::open(dev, config()).unwrap();
    assert_eq!(levels_with_tables(&db), 1);
    assert_matches(&mut db, &model);
    assert!(db.check().unwrap().is_ok());
}

#[test]
fn short_scans_over_many_runs_merge_the_store_into_one() {
    let (mut db, model) = layered_store();
    let mut scans = 0;
    while !db.maintenance_due() {
        let k = key((scans * 37) % 1500);
        let mut n = 0;
        db.scan(Bound::Included(&k[..]), Bound::Unbounded, |_, _| {
            n += 1;
            n < 10
        })
        .unwrap();
        scans += 1;
        assert!(scans < 100_000, "scans never paid for a merge");
    }
    assert!(db.maintain().unwrap());
    assert_eq!(levels_with_tables(&db), 1);
    assert_matches(&mut db, &model);
}

#[test]
fn a_store_of_one_run_is_never_merged_for_its_reads() {
    let (mut db, model) = layered_store();
    db.compact().unwrap();
    assert_eq!(levels_with_tables(&db), 1);
    let programmed = db.stats().bytes_programmed;
    let mut buf = [0u8; 64];
    for i in 0..50_000u32 {
        db.get(&missing(i % 1500), &mut buf).unwrap();
        let k = key(i % 1500);
        db.scan(Bound::Included(&k[..]), Bound::Unbounded, |_, _| false)
            .unwrap();
    }
    assert!(!db.maintenance_due());
    assert!(!db.maintain().unwrap());
    // Misses in the one run it has are no debt: a write that makes a
    // second run does not find a merge already paid for.
    db.put(&key(1), b"new").unwrap();
    assert!(!db.maintenance_due());
    let s = db.stats();
    assert_eq!(s.read_merges, 0);
    assert!(
        s.bytes_programmed < programmed + 4096,
        "reads wrote {} bytes",
        s.bytes_programmed - programmed
    );
    let mut model = model;
    model.insert(key(1), b"new".to_vec());
    assert_matches(&mut db, &model);
}

/// A RAM device whose programs fail while `fail` is set.
struct Failing {
    dev: RamDevice,
    fail: Rc<Cell<bool>>,
}

impl BlockDevice for Failing {
    type Error = &'static str;
    fn geometry(&self) -> Geometry {
        self.dev.geometry()
    }
    fn read(&mut self, block: u32, offset: u32, buf: &mut [u8]) -> Result<(), Self::Error> {
        self.dev.read(block, offset, buf).map_err(|_| "read")
    }
    fn program(&mut self, block: u32, offset: u32, data: &[u8]) -> Result<(), Self::Error> {
        if self.fail.get() {
            return Err("injected");
        }
        self.dev.program(block, offset, data).map_err(|_| "program")
    }
    fn erase(&mut self, block: u32) -> Result<(), Self::Error> {
        self.dev.erase(block).map_err(|_| "erase")
    }
    fn sync(&mut self) -> Result<(), Self::Error> {
        self.dev.sync().map_err(|_| "sync")
    }
}

/// A layered store on a device whose programs fail once the flag is set.
type FailingStore = (Db<Failing>, BTreeMap<Vec<u8>, Vec<u8>>, Rc<Cell<bool>>);

fn failing_store() -> FailingStore {
    let fail = Rc::new(Cell::new(false));
    let dev = Failing {
        dev: RamDevice::new(4096, 256, 4),
        fail: fail.clone(),
    };
    let (db, model) = layered_store_on(dev);
    (db, model, fail)
}

#[test]
fn a_failed_read_merge_loses_nothing_and_reads_go_on() {
    let (mut db, model, fail) = failing_store();
    look_up_missing_keys_until_a_merge_is_due(&mut db);
    fail.set(true);
    assert!(matches!(db.maintain(), Err(Error::Device("injected"))));
    assert_matches(&mut db, &model);

    let dev = db.into_device();
    fail.set(false);
    let mut db = Db::open(dev, config()).unwrap();
    assert_matches(&mut db, &model);
    assert!(db.check().unwrap().is_ok());
}

#[test]
fn a_store_that_refuses_writes_never_asks_reads_to_merge() {
    let (mut db, model, fail) = failing_store();
    fail.set(true);
    // Enough puts to need a program: the store stops accepting writes.
    let failed = (0..1000u32).any(|i| db.put(&key(i), &[7; 100]).is_err());
    assert!(failed);
    fail.set(false);
    assert!(matches!(db.put(b"k", b"v"), Err(Error::Poisoned)));
    // Reads go on, and however many runs they consult in vain, they never
    // ask for a merge the store cannot write (which would make reads fail).
    let mut buf = [0u8; 64];
    for i in 0..200_000u32 {
        db.get(&missing(i % 1500), &mut buf).unwrap();
    }
    assert!(!db.maintenance_due());
    assert!(!db.maintain().unwrap());
    let dev = db.into_device();
    let mut db = Db::open(dev, config()).unwrap();
    assert_matches(&mut db, &model);
}

/// Lookups in a store whose only tables are in level 0, in several runs,
/// were never charged (probes of the deepest level were exempt, and level 0
/// was the deepest), so reads never merged it.
#[test]
fn regression_level_0_only_store_never_merged_for_reads() {
    let cfg = Config {
        memtable_bytes: 4096,
        ..Config::default()
    };
    let mut db = Db::format(RamDevice::new(4096, 64, 4), cfg).unwrap();
    for i in 0..200u32 {
        db.put(&i.to_be_bytes(), b"some value").unwrap();
    }
    for i in (0..200u32).step_by(7) {
        db.put(&i.to_be_bytes(), b"another value").unwrap();
    }
    db.flush().unwrap();
    let s = db.stats();
    assert!(s.tables_per_level[0] >= 2, "{s:?}");
    assert!(s.tables_per_level[1..].iter().all(|&n| n == 0), "{s:?}");
    let mut buf = [0u8; 16];
    let mut lookups = 0u32;
    while !db.maintenance_due() {
        db.get(&[0, 0, 0, (lookups % 200) as u8, 1], &mut buf)
            .unwrap();
        lookups += 1;
        assert!(lookups < 1_000_000, "lookups never paid for a merge");
    }
    assert!(db.maintain().unwrap());
    assert_eq!(levels_with_tables(&db), 1);
    for i in 0..200u32 {
        let want: &[u8] = if i % 7 == 0 {
            b"another value"
        } else {
            b"some value"
        };
        assert_eq!(db.get_vec(&i.to_be_bytes()).unwrap().as_deref(), Some(want));
    }
}

/// The block cache let go of nothing when compaction freed tables: it
/// evicts only when over its budget, so the blocks of merged-away tables
/// (which can never be read again) held memory up to the budget, and the
/// store's memory grew to it after every large merge.
#[test]
fn regression_cache_kept_blocks_of_freed_tables() {
    let cfg = Config {
        cache_bytes: 64 << 20,
        ..config()
    };
    let mut db = Db::format(RamDevice::new(4096, 256, 4), cfg).unwrap();
    for round in 0..3u32 {
        for i in 0..1500u32 {
            db.put(&key(i), format!("value {i} round {round}").as_bytes())
                .unwrap();
        }
    }
    // Every table's blocks into the cache.
    let mut buf = [0u8; 64];
    for i in 0..1500u32 {
        db.get(&key(i), &mut buf).unwrap();
    }
    db.scan(Bound::Unbounded, Bound::Unbounded, |_, _| true)
        .unwrap();
    let cached = db.stats().cache_bytes;
    assert!(cached > 0);
    db.compact().unwrap();
    let s = db.stats();
    assert!(
        (s.cache_bytes as u64) < s.table_bytes,
        "the cache holds {} bytes after compaction, the live tables {}",
        s.cache_bytes,
        s.table_bytes
    );
    assert!(s.cache_bytes < cached);
    for i in 0..1500u32 {
        let want = format!("value {i} round 2");
        assert_eq!(
            db.get_vec(&key(i)).unwrap().as_deref(),
            Some(want.as_bytes())
        );
    }
}
