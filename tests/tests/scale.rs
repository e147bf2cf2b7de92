//! The engine at the scale the issue names, through the file backend:
//! 100,000 keys written, reopened and read back; 10,000 keys overwritten 20
//! times in bounded space. Run with `--nocapture` to see the figures.

use std::time::Instant;

use cairn_std::{Batch, Db, Options};

fn key(i: u32) -> [u8; 16] {
    let mut k = *b"user000000000000";
    k[4..].copy_from_slice(
        format!("{:012}", i.wrapping_mul(2_654_435_761) % 1_000_000_007).as_bytes(),
    );
    k
}

fn value(i: u32, round: u32) -> [u8; 100] {
    let mut v = [b'.'; 100];
    let tag = format!("{i}/{round}");
    v[..tag.len()].copy_from_slice(tag.as_bytes());
    v
}

#[test]
fn hundred_thousand_keys_survive_a_reopen() {
    const N: u32 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.cairn");
    {
        let db = Db::open(&path).unwrap();
        let mut batch = Batch::new();
        for i in 0..N {
            batch.put(&key(i), &value(i, 0));
            if batch.len() == 100 {
                db.write(&batch).unwrap();
                batch.clear();
            }
        }
        db.write(&batch).unwrap();
    }
    let start = Instant::now();
    let db = Db::open(&path).unwrap();
    let open_time = start.elapsed();
    let before = db.stats();
    for i in 0..N {
        assert_eq!(
            db.get(key(i)).unwrap().as_deref(),
            Some(&value(i, 0)[..]),
            "key {i}"
        );
    }
    let after = db.stats();
    let reads_per_get = (after.table_block_reads - before.table_block_reads) as f64 / N as f64;
    eprintln!(
        "100,000 keys: open {open_time:?}; {reads_per_get:.3} table blocks read per get \
         ({:.3} device reads); {} blocks in use; tables per level {:?}",
        (after.device_reads - before.device_reads) as f64 / N as f64,
        after.blocks_in_use,
        after.tables_per_level,
    );
    // Every key lives in exactly one table: a get reads at most one data
    // block, and fewer when the bloom filter rules a table out.
    assert!(reads_per_get <= 1.0 + 1e-9);
    assert_eq!(db.iter().count(), N as usize);
    db.flush().unwrap();
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.entries, N as u64, "{report:?}");
}

#[test]
fn overwriting_ten_thousand_keys_twenty_times_stays_under_twice_the_live_data() {
    const N: u32 = 10_000;
    const ROUNDS: u32 = 20;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.cairn");
    // A write buffer smaller than the data set: with a write buffer as large
    // as the data, the buffer and its log alone would equal the live data.
    let options = Options::new()
        .memtable_bytes(256 << 10)
        .block_size(64 << 10);
    let db = Db::open_with(&path, options.clone()).unwrap();
    let live = N as u64 * (16 + 100);
    let mut worst = 0u64;
    for round in 0..ROUNDS {
        let mut batch = Batch::new();
        for i in 0..N {
            batch.put(&key(i), &value(i, round));
            if batch.len() == 50 {
                db.write(&batch).unwrap();
                batch.clear();
                let s = db.stats();
                worst = worst.max(s.blocks_in_use as u64 * s.block_size as u64);
            }
        }
        db.write(&batch).unwrap();
    }
    let s = db.stats();
    eprintln!(
        "overwrites: live {live} bytes; worst space in use {worst} bytes ({:.2}x); \
         write amplification {:.2}",
        worst as f64 / live as f64,
        s.write_amplification(),
    );
    assert!(
        worst < 2 * live,
        "space in use {worst} >= 2x live data {live}"
    );
    drop(db);
    let db = Db::open_with(&path, options).unwrap();
    for i in 0..N {
        assert_eq!(
            db.get(key(i)).unwrap().as_deref(),
            Some(&value(i, ROUNDS - 1)[..])
        );
    }
    assert_eq!(db.iter().count(), N as usize);
}
