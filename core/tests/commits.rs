//! What the commit protocol costs in syncs: log blocks started ahead of
//! need are entered without a commit, and commits are not synced on their
//! own.

use cairn_core::{Config, Db, RamDevice};

fn config(sync_writes: bool) -> Config {
    Config {
        sync_writes,
        memtable_bytes: 32 * 1024,
        ..Config::default()
    }
}

fn value(i: u32) -> Vec<u8> {
    format!("value {i:05} ").repeat(8).into_bytes()
}

/// Writes until the first flush has happened; returns the next key.
fn until_first_flush(db: &mut Db<RamDevice>) -> u32 {
    let mut i = 0;
    while db.stats().flushes == 0 {
        db.put(format!("k{i:05}").as_bytes(), &value(i)).unwrap();
        i += 1;
    }
    i
}

/// Writes about three log blocks of records (less than a memtable) after
/// the first flush; returns the keys written in all, the number written
/// last, and the sync count before and after those.
fn three_log_blocks(db: &mut Db<RamDevice>) -> (u32, u32, u64, u64) {
    let start = until_first_flush(db);
    let before = db.stats();
    let n = 3 * 4096 / value(0).len() as u32;
    for i in start..start + n {
        db.put(format!("k{i:05}").as_bytes(), &value(i)).unwrap();
    }
    let after = db.stats();
    assert_eq!(after.flushes, before.flushes, "no flush in between");
    (start + n, n, before.syncs, after.syncs)
}

#[test]
fn buffered_writes_move_through_log_blocks_without_syncing() {
    let mut db = Db::format(RamDevice::new(4096, 256, 4), config(false)).unwrap();
    let (total, _, before, after) = three_log_blocks(&mut db);
    assert_eq!(after, before, "no sync while writing the log");
    db.sync().unwrap();
    let mut db = Db::open(db.into_device(), config(false)).unwrap();
    for i in 0..total {
        assert_eq!(
            db.get_vec(format!("k{i:05}").as_bytes()).unwrap(),
            Some(value(i)),
            "k{i:05}"
        );
    }
    assert!(db.check().unwrap().is_ok());
}

#[test]
fn durable_writes_sync_once_each_across_log_blocks() {
    let mut db = Db::format(RamDevice::new(4096, 256, 4), config(true)).unwrap();
    let (_, n, before, after) = three_log_blocks(&mut db);
    assert_eq!(after - before, n as u64, "one sync per write");
}

/// A write that flushes and compacts commits once, so syncs once, unless
/// its compactions hold more blocks than the log may take (then it commits
/// as it goes, so that a file does not grow by all of them).
#[test]
fn a_write_that_flushes_and_compacts_costs_one_sync() {
    let cfg = Config {
        l0_compaction_trigger: 1,
        level_size_multiplier: 2,
        ..config(false)
    };
    let mut db = Db::format(RamDevice::new(4096, 1024, 4), cfg.clone()).unwrap();
    let mut i = 0u32;
    let mut most = 0;
    let mut small_merges = 0;
    while db.stats().compactions < 10 {
        // Overwrites too, so that compactions merge.
        let k = format!("k{:05}", i * 7 % 1500);
        let before = db.stats();
        db.put(k.as_bytes(), &value(i)).unwrap();
        let after = db.stats();
        let syncs = after.syncs - before.syncs;
        most = most.max(syncs);
        if after.flushes > before.flushes && after.compactions - before.compactions <= 2 {
            assert_eq!(syncs, 1, "syncs in write {i}, which flushed and compacted");
            small_merges += 1;
        }
        i += 1;
    }
    assert!(small_merges >= 2);
    assert!(most <= 2, "syncs in one write: {most}");
    db.sync().unwrap();
    assert!(db.check().unwrap().is_ok());
    let mut db = Db::open(db.into_device(), cfg).unwrap();
    assert!(db.check().unwrap().is_ok());
    for j in i.saturating_sub(200)..i {
        let k = format!("k{:05}", j * 7 % 1500);
        assert!(db.get_vec(k.as_bytes()).unwrap().is_some(), "{k}");
    }
}
