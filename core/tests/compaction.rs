//! Compaction policy on a small NOR-like device: where tables go, what is
//! rewritten, and that every write stays readable.

use cairn_core::{Config, Db, RamDevice, LEVELS};

/// The shape cairn is measured with on flash: 256 blocks of 4 KiB, a 4 KiB
/// memtable, 512-byte data blocks.
fn flash() -> (RamDevice, Config) {
    let cfg = Config {
        memtable_bytes: 4096,
        data_block_bytes: 512,
        max_key_len: 64,
        ..Config::default()
    };
    (RamDevice::new(4096, 256, 4), cfg)
}

fn key(i: u32) -> [u8; 16] {
    let mut k = [b'0'; 16];
    k[..4].copy_from_slice(b"key:");
    let s = format!("{i:012}");
    k[4..].copy_from_slice(s.as_bytes());
    k
}

fn value(i: u32, round: u32) -> [u8; 32] {
    let mut v = [0u8; 32];
    v[..4].copy_from_slice(&i.to_le_bytes());
    v[4..8].copy_from_slice(&round.to_le_bytes());
    v
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u32) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as u32
    }
}

fn levels_in_use(db: &Db<RamDevice>) -> Vec<usize> {
    let s = db.stats();
    (1..LEVELS).filter(|&l| s.tables_per_level[l] > 0).collect()
}

#[test]
fn keys_written_in_order_reach_one_level_without_rewrites() {
    let (dev, cfg) = flash();
    let mut db = Db::format(dev, cfg).unwrap();
    for i in 0..10_000 {
        db.put(&key(i), &value(i, 0)).unwrap();
    }
    // Each flushed table overlaps nothing below: it moves, never merges,
    // and straight to the one level holding the data.
    assert_eq!(levels_in_use(&db).len(), 1, "{:?}", db.stats());
    for i in (0..10_000).step_by(97) {
        assert_eq!(db.get_vec(&key(i)).unwrap().unwrap(), value(i, 0));
    }
    assert!(db.check().unwrap().is_ok());
}

#[test]
fn random_overwrites_stay_readable() {
    let (dev, cfg) = flash();
    let mut db = Db::format(dev, cfg.clone()).unwrap();
    const KEYS: u32 = 4000;
    let mut latest = vec![None; KEYS as usize];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..40_000 {
        let i = rng.below(KEYS);
        if rng.below(4) == 0 {
            db.delete(&key(i)).unwrap();
            latest[i as usize] = None;
        } else {
            db.put(&key(i), &value(i, round)).unwrap();
            latest[i as usize] = Some(round);
        }
    }
    let s = db.stats();
    eprintln!(
        "write amplification {:.2}, tables per level {:?}",
        s.write_amplification(),
        s.tables_per_level
    );
    let mut db = Db::open(db.into_device(), cfg).unwrap();
    for (i, r) in latest.iter().enumerate() {
        let got = db.get_vec(&key(i as u32)).unwrap();
        assert_eq!(got, r.map(|r| value(i as u32, r).to_vec()), "key {i}");
    }
    assert!(db.check().unwrap().is_ok());
}

#[test]
fn a_small_store_merges_level_0_once_it_reaches_its_trigger() {
    let (dev, cfg) = flash();
    let mut db = Db::format(dev, cfg).unwrap();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for round in 0..20_000 {
        let i = rng.below(100);
        db.put(&key(i), &value(i, round)).unwrap();
    }
    // 100 keys make about 5 KiB of tables, less than level 1's budget
    // (16 KiB): level 0 merges once it holds 3/4 of its trigger (about
    // four flushes), not whenever it outweighs half the level below.
    let s = db.stats();
    assert!(
        s.compactions * 3 <= s.flushes,
        "{} compactions for {} flushes",
        s.compactions,
        s.flushes
    );
}
