//! Workloads: fixed, seeded sequences of operations with the store
//! configuration and device shape they run on.
//!
//! Each workload aims at one part of the engine: small values in the log,
//! values spanning several data blocks, batches, deletes and their
//! tombstones, flushes, compactions, and all of them mixed. The
//! configurations are small on purpose (memtables of a few KiB, blocks of
//! 4 KiB, a few dozen blocks), so flushes and compactions happen within a
//! few hundred operations and a sweep of every cut point stays cheap.

use cairn_core::{Allocation, Config, Geometry};
use rand::RngExt;

use crate::oracle::Op;
use crate::rng::{derive, rng_from, SimRng};

/// Names of the built-in workloads, in sweep order.
pub const NAMES: &[&str] = &[
    "small",
    "spanning",
    "batches",
    "deletes",
    "flush",
    "compaction",
    "mixed",
    "buffered",
    "full",
];

/// A workload: what to run, on what.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Its name (one of [`NAMES`], or a description for random ones).
    pub name: String,
    /// The seed its operations were generated from.
    pub seed: u64,
    /// The store configuration. `allocation` is adjusted per device by
    /// [`Workload::config_for`].
    pub config: Config,
    /// Shape of the NOR device. The file device uses the same block size
    /// and count with 1-byte reads and programs.
    pub nor: Geometry,
    /// The operations run before the power cut.
    pub ops: Vec<Op>,
    /// The operations run after recovery, to show the store is writable.
    pub after: Vec<Op>,
}

impl Workload {
    /// The built-in workload `name`, generated from `seed`; `None` for an
    /// unknown name.
    pub fn named(name: &str, seed: u64) -> Option<Workload> {
        let mut g = Gen::new(derive(&[seed, name_hash(name)]));
        let mut cfg = Config {
            max_key_len: 64,
            ..Config::default()
        };
        let mut nor = geometry(4096, 32, 1, 4);
        let mut ops = Vec::new();
        match name {
            "small" => {
                cfg.memtable_bytes = 8 * 1024;
                for _ in 0..150 {
                    let k = g.key(20);
                    if g.chance(0.2) {
                        ops.push(Op::Delete(k));
                    } else {
                        let len = g.rng.random_range(1..40);
                        ops.push(Op::Put(k.clone(), g.value(&k, len)));
                    }
                }
            }
            "spanning" => {
                // Values of several data blocks each, on 16 KiB erase units.
                cfg.memtable_bytes = 16 * 1024;
                cfg.data_block_bytes = 1024;
                nor = geometry(16 * 1024, 24, 8, 8);
                for i in 0..60 {
                    let k = g.key(10);
                    if i % 9 == 8 {
                        ops.push(Op::Delete(k));
                    } else {
                        let len = g.rng.random_range(1500..6 * 1024);
                        ops.push(Op::Put(k.clone(), g.value(&k, len)));
                    }
                }
            }
            "batches" => {
                cfg.memtable_bytes = 4 * 1024;
                nor = geometry(4096, 32, 16, 16);
                for i in 0..80 {
                    let n = g.rng.random_range(1..=8);
                    let mut entries = Vec::new();
                    for _ in 0..n {
                        let k = g.key(40);
                        if g.chance(0.25) {
                            entries.push((k, None));
                        } else {
                            let len = g.rng.random_range(1..100);
                            let v = g.value(&k, len);
                            entries.push((k, Some(v)));
                        }
                    }
                    ops.push(Op::Batch(entries));
                    if i % 10 == 9 {
                        let k = g.key(40);
                        ops.push(Op::Put(k.clone(), g.value(&k, 30)));
                    }
                }
            }
            "deletes" => {
                cfg.memtable_bytes = 2 * 1024;
                cfg.l0_compaction_trigger = 2;
                for i in 0..40 {
                    let k = key(i);
                    ops.push(Op::Put(k.clone(), g.value(&k, 40)));
                }
                for i in (0..40).filter(|i| i % 4 != 0) {
                    ops.push(Op::Delete(key(i)));
                }
                for i in (0..40).step_by(3) {
                    let k = key(i);
                    ops.push(Op::Put(k.clone(), g.value(&k, 20)));
                }
                for i in 0..40 {
                    ops.push(Op::Delete(key(i)));
                }
                for i in 40..50 {
                    let k = key(i);
                    ops.push(Op::Put(k.clone(), g.value(&k, 10)));
                }
            }
            "flush" => {
                cfg.memtable_bytes = 2 * 1024;
                nor = geometry(4096, 48, 1, 8);
                for i in 0..300 {
                    let k = g.key(60);
                    let len = g.rng.random_range(20..200);
                    ops.push(Op::Put(k.clone(), g.value(&k, len)));
                    if i == 150 {
                        ops.push(Op::Flush);
                    }
                }
            }
            "compaction" => {
                cfg.memtable_bytes = 2 * 1024;
                cfg.l0_compaction_trigger = 2;
                cfg.level_size_multiplier = 2;
                nor = geometry(4096, 64, 4, 4);
                for i in 0..400 {
                    let k = g.key(100);
                    if g.chance(0.25) {
                        ops.push(Op::Delete(k));
                    } else {
                        let len = g.rng.random_range(10..120);
                        ops.push(Op::Put(k.clone(), g.value(&k, len)));
                    }
                    if i % 100 == 99 {
                        ops.push(Op::Compact);
                    }
                }
            }
            "mixed" => {
                cfg.memtable_bytes = 2 * 1024;
                cfg.data_block_bytes = 1024;
                cfg.l0_compaction_trigger = 3;
                nor = geometry(4096, 48, 2, 2);
                for _ in 0..250 {
                    ops.push(g.op(50, 1500));
                }
            }
            "buffered" => {
                // Writes acknowledged before they are durable; a sync now
                // and then makes everything before it durable.
                cfg.sync_writes = false;
                cfg.memtable_bytes = 4 * 1024;
                for i in 0..300 {
                    let k = g.key(80);
                    if g.chance(0.15) {
                        ops.push(Op::Delete(k));
                    } else {
                        let len = g.rng.random_range(1..120);
                        ops.push(Op::Put(k.clone(), g.value(&k, len)));
                    }
                    if i % 25 == 24 {
                        ops.push(Op::Sync);
                    }
                }
            }
            "full" => {
                // More live data than the device holds: writes are refused
                // with `Full`, then deletes and a compaction make room.
                cfg.memtable_bytes = 2 * 1024;
                cfg.l0_compaction_trigger = 2;
                nor = geometry(4096, 16, 1, 4);
                for i in 0..120 {
                    let k = key(i);
                    let len = g.rng.random_range(300..800);
                    ops.push(Op::Put(k.clone(), g.value(&k, len)));
                }
                for i in (0..120).filter(|i| i % 3 != 0) {
                    ops.push(Op::Delete(key(i)));
                }
                ops.push(Op::Compact);
                for i in 120..160 {
                    let k = key(i);
                    ops.push(Op::Put(k.clone(), g.value(&k, 200)));
                }
            }
            _ => return None,
        }
        let after = g.after_ops();
        Some(Workload {
            name: name.to_string(),
            seed,
            config: cfg,
            nor,
            ops,
            after,
        })
    }

    /// The configuration for a device kind: round-robin allocation on
    /// flash, lowest-free on files.
    pub fn config_for(&self, kind: &str) -> Config {
        let mut c = self.config.clone();
        c.allocation = if kind == "file" {
            Allocation::LowestFree
        } else {
            Allocation::RoundRobin
        };
        c
    }
}

fn geometry(block_size: u32, block_count: u32, read_size: u32, program_size: u32) -> Geometry {
    Geometry {
        block_size,
        block_count,
        read_size,
        program_size,
    }
}

fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// Key number `i`, zero-padded so keys sort by number.
pub fn key(i: u32) -> Vec<u8> {
    format!("k{i:05}").into_bytes()
}

/// A seeded generator of keys, values and operations.
pub struct Gen {
    /// The generator's randomness.
    pub rng: SimRng,
    version: u64,
}

impl Gen {
    /// A generator seeded from `seed`.
    pub fn new(seed: u64) -> Self {
        Gen {
            rng: rng_from(seed),
            version: 0,
        }
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    /// A key among the first `space` keys, skewed towards low numbers so
    /// some keys are rewritten often.
    pub fn key(&mut self, space: u32) -> Vec<u8> {
        let a = self.rng.random_range(0..space);
        let b = self.rng.random_range(0..space);
        key(if self.chance(0.5) { a.min(b) } else { a })
    }

    /// A value of `len` bytes (at least 1) that names its key and a fresh
    /// version, so a stale value read back is told apart from the right
    /// one.
    pub fn value(&mut self, key: &[u8], len: usize) -> Vec<u8> {
        self.version += 1;
        let mut v = format!("{}@{}:", String::from_utf8_lossy(key), self.version).into_bytes();
        let fill = self.rng.random_range(b'a'..=b'z');
        while v.len() < len {
            let c = if self.chance(0.1) {
                self.rng.random_range(b'A'..=b'Z')
            } else {
                fill
            };
            v.push(c);
        }
        v.truncate(len.max(1));
        v
    }

    /// A random operation over `space` keys with values up to `max_value`
    /// bytes: mostly puts, then deletes and batches, now and then a flush,
    /// compaction or sync.
    pub fn op(&mut self, space: u32, max_value: usize) -> Op {
        let roll = self.rng.random_range(0..100u32);
        let mut len = || {
            let big = self.rng.random_bool(0.1);
            if big {
                self.rng.random_range(1..=max_value)
            } else {
                self.rng.random_range(1..=max_value.min(64))
            }
        };
        let l = len();
        match roll {
            0..=54 => {
                let k = self.key(space);
                let v = self.value(&k, l);
                Op::Put(k, v)
            }
            55..=71 => Op::Delete(self.key(space)),
            72..=93 => {
                let n = self.rng.random_range(1..=6);
                let mut e = Vec::new();
                for _ in 0..n {
                    let k = self.key(space);
                    if self.chance(0.3) {
                        e.push((k, None));
                    } else {
                        let len = self.rng.random_range(1..=max_value.min(200));
                        let v = self.value(&k, len);
                        e.push((k, Some(v)));
                    }
                }
                Op::Batch(e)
            }
            94..=95 => Op::Flush,
            96 => Op::Compact,
            _ => Op::Sync,
        }
    }

    /// Operations run after a recovery: new keys, overwrites, a delete and
    /// a batch.
    pub fn after_ops(&mut self) -> Vec<Op> {
        let mut ops = Vec::new();
        for i in 0..3 {
            let k = format!("after{i}").into_bytes();
            ops.push(Op::Put(k.clone(), self.value(&k, 24)));
        }
        let k = key(1);
        ops.push(Op::Put(k.clone(), self.value(&k, 33)));
        ops.push(Op::Delete(key(2)));
        let k3 = key(3);
        let v3 = self.value(&k3, 17);
        ops.push(Op::Batch(vec![
            (b"after0".to_vec(), None),
            (k3, Some(v3)),
            (b"after9".to_vec(), Some(b"batch".to_vec())),
        ]));
        ops
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_are_deterministic_and_distinct() {
        for name in NAMES {
            let a = Workload::named(name, 1).unwrap();
            let b = Workload::named(name, 1).unwrap();
            assert_eq!(a.ops, b.ops, "{name}");
            assert!(!a.ops.is_empty());
            assert!(a.nor.validate().is_ok(), "{name}");
        }
        assert_ne!(
            Workload::named("small", 1).unwrap().ops,
            Workload::named("small", 2).unwrap().ops
        );
        assert!(Workload::named("nope", 0).is_none());
    }

    #[test]
    fn values_name_their_key_and_version() {
        let mut g = Gen::new(0);
        let v1 = g.value(b"k1", 30);
        let v2 = g.value(b"k1", 30);
        assert_eq!(v1.len(), 30);
        assert!(v1.starts_with(b"k1@1:"));
        assert_ne!(v1, v2);
        assert_eq!(g.value(b"k1", 1).len(), 1);
    }
}
