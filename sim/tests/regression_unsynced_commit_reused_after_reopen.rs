//! Regression: with manifest commits no longer synced, a store closed
//! without `sync` and opened again could reuse blocks that a crash then
//! showed to be still in use.
//!
//! Found by `cairn-sim simulate` (seed 250: `open` fails with "device holds
//! no cairn store"; seed 73: `Corrupted("block is not a table")`), each
//! after a clean close and reopen followed by a crash.
//!
//! What happens: a commit (a flush, say) programs its manifest record and
//! keeps the blocks it frees in use until a sync makes the record durable.
//! The store is dropped before any sync: the record is in the device's
//! cache (a file's page cache), not on the media. The next `Db::open` reads
//! that record, sees the freed blocks as free, and the first writes erase
//! and reuse them. A crash then drops the record: the manifest in force is
//! the previous one, which names the reused blocks (the previous metadata
//! block, a log block, a table).
//!
//! Fixed by syncing before a newly opened store erases its first block, so
//! that the manifest it mounted is durable before anything it freed is
//! reused.

use cairn_core::{Allocation, Config, Db};
use cairn_sim::sweep::scan_all;
use cairn_sim::{FileSim, Model, SimDevice};

fn config() -> Config {
    Config {
        sync_writes: false,
        memtable_bytes: 2 * 1024,
        l0_compaction_trigger: 2,
        max_key_len: 64,
        // As on files: blocks just freed are the first reused.
        allocation: Allocation::LowestFree,
        ..Config::default()
    }
}

fn put(db: &mut Db<FileSim>, model: &mut Model, k: String, round: u32) {
    let v = format!("{k}@{round}:").repeat(6).into_bytes();
    db.put(k.as_bytes(), &v).unwrap();
    model.insert(k.into_bytes(), v);
}

/// Returns what went wrong with device seed `seed` and a power cut at
/// the `k`-th mutation after the reopen, if anything.
fn run(seed: u64, k: u64) -> Option<String> {
    let dev = FileSim::new(4096, 32, seed);
    let mut db = Db::format(dev.clone(), config()).unwrap();
    let mut durable = Model::new();
    for i in 0..40 {
        put(&mut db, &mut durable, format!("k{i:02}"), 0);
    }
    db.sync().unwrap();
    // A compaction frees every table; its commit is not synced. Then a
    // clean close.
    let mut model = durable.clone();
    for i in 0..40 {
        put(&mut db, &mut model, format!("k{i:02}"), 1);
    }
    db.compact().unwrap();
    drop(db);
    // Reopen and write: the first blocks taken are the ones just freed.
    let mut db = Db::open(dev.clone(), config()).unwrap();
    assert_eq!(
        scan_all(&mut db).unwrap(),
        model,
        "seed {seed}: clean reopen"
    );
    dev.cut_at(k);
    for i in 0..40 {
        let k = format!("k{i:02}");
        if db.put(k.as_bytes(), b"round 2").is_err() {
            break;
        }
    }
    drop(db);
    if dev.powered() {
        dev.crash();
    }
    dev.reboot();
    let mut db = match Db::open(dev.clone(), config()) {
        Ok(db) => db,
        Err(e) => {
            return Some(format!(
                "seed {seed} k {k}: open after the crash failed: {e}"
            ))
        }
    };
    // No deletes: every key synced before must still be there.
    let got = scan_all(&mut db).unwrap();
    if got.keys().ne(durable.keys()) {
        return Some(format!(
            "seed {seed} k {k}: {} keys after the crash, {} synced",
            got.len(),
            durable.len()
        ));
    }
    let report = db.check().unwrap();
    if !report.is_ok() {
        return Some(format!("seed {seed} k {k}: check: {:?}", report.problems));
    }
    None
}

#[test]
fn unsynced_commit_reused_after_reopen() {
    let failures: Vec<String> = (0..32)
        .flat_map(|seed| (0..8).filter_map(move |k| run(seed, k)))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}
