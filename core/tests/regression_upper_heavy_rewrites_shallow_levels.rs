//! Regression: when the levels above the deepest held more than half as
//! much as it did, compaction picked the shallowest non-empty level. Moving
//! data from level 1 into level 2 does not shrink the upper levels, so the
//! bound stayed violated: level 0 was forced down after every flush (its
//! tables, each spanning the whole key range, moved into an emptied level
//! one) and each of them was then merged alone with all of level 2. Random
//! puts and deletes over 4,000 keys on a 1 MiB NOR-like device programmed
//! about 24 bytes per user byte (28 in the flash benchmark's mix workload).

use cairn_core::{Config, Db, RamDevice};

fn key(i: u32) -> [u8; 16] {
    let mut k = *b"key:000000000000";
    k[4..].copy_from_slice(format!("{i:012}").as_bytes());
    k
}

#[test]
fn regression_upper_heavy_rewrites_shallow_levels() {
    let cfg = Config {
        memtable_bytes: 4096,
        data_block_bytes: 512,
        max_key_len: 64,
        ..Config::default()
    };
    let mut db = Db::format(RamDevice::new(4096, 256, 4), cfg).unwrap();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    for round in 0..40_000u32 {
        let i = next(4000) as u32;
        if next(4) == 0 {
            db.delete(&key(i)).unwrap();
        } else {
            let mut v = [0u8; 32];
            v[..4].copy_from_slice(&round.to_le_bytes());
            db.put(&key(i), &v).unwrap();
        }
    }
    let s = db.stats();
    assert!(
        s.write_amplification() < 12.0,
        "write amplification {:.2}, tables per level {:?}",
        s.write_amplification(),
        s.tables_per_level
    );
}
