//! A store of 100,000 keys through the file backend, and repeated
//! overwrites. Both print what `stats` says about them (run with
//! `--nocapture` to see it).

use std::time::Instant;

use cairn_std::{Batch, Db};

fn key(i: u32) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..6].copy_from_slice(b"key-k-");
    k[6..].copy_from_slice(format!("{i:010}").as_bytes());
    k
}

fn value(i: u32, round: u32) -> Vec<u8> {
    let mut v = format!("{i}:{round}:").into_bytes();
    v.resize(100, b'a' + (i % 26) as u8);
    v
}

#[test]
fn hundred_thousand_keys_survive_a_reopen() {
    const N: u32 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    {
        let db = Db::open(&path).unwrap();
        let mut batch = Batch::new();
        for i in 0..N {
            batch.put(&key(i), &value(i, 0));
            if batch.len() == 500 {
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
        assert_eq!(db.get(key(i)).unwrap(), Some(value(i, 0)), "key {i}");
    }
    let after = db.stats();
    let file_len = std::fs::metadata(&path).unwrap().len();
    eprintln!(
        "100k keys: opened in {open_time:?}; {:.2} table blocks and {:.2} device reads per get; \
         file {file_len} bytes, {} blocks in use, tables per level {:?}",
        (after.table_block_reads - before.table_block_reads) as f64 / N as f64,
        (after.device_reads - before.device_reads) as f64 / N as f64,
        after.blocks_in_use,
        after.tables_per_level,
    );
    assert_eq!(db.iter().count(), N as usize);
    assert!(db.check().unwrap().is_ok());
}

#[test]
fn repeated_overwrites_read_back_the_last_round() {
    const N: u32 = 10_000;
    const ROUNDS: u32 = 20;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let db = Db::open(&path).unwrap();
    let live = N as u64 * (16 + 100);
    let mut worst = 0u64;
    for round in 0..ROUNDS {
        let mut batch = Batch::new();
        for i in 0..N {
            batch.put(&key(i), &value(i, round));
            if batch.len() == 500 {
                db.write(&batch).unwrap();
                batch.clear();
            }
        }
        db.write(&batch).unwrap();
        let s = db.stats();
        worst = worst.max(s.blocks_in_use as u64 * s.block_size as u64);
    }
    let s = db.stats();
    eprintln!(
        "overwrites: live {live} bytes, worst space in use {worst} bytes ({:.2}x), \
         write amplification {:.2}, file {} bytes",
        worst as f64 / live as f64,
        s.write_amplification(),
        std::fs::metadata(&path).unwrap().len()
    );
    for i in 0..N {
        assert_eq!(
            db.get(key(i)).unwrap(),
            Some(value(i, ROUNDS - 1)),
            "key {i}"
        );
    }
    drop(db);
    let db = Db::open(&path).unwrap();
    for i in (0..N).step_by(7) {
        assert_eq!(
            db.get(key(i)).unwrap(),
            Some(value(i, ROUNDS - 1)),
            "key {i}"
        );
    }
    assert_eq!(db.iter().count(), N as usize);
}
