//! Model-based tests: random operation sequences against a `BTreeMap`.

use std::collections::BTreeMap;
use std::ops::Bound;

use cairn_core::{Batch, BlockDevice, Config, Db, Error, Memory, RamDevice};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Put(u16, Vec<u8>),
    Delete(u16),
    Batch(Vec<(u16, Option<Vec<u8>>)>),
    Get(u16),
    Range(u16, u16),
    Flush,
    Compact,
    Reopen,
}

fn key(k: u16) -> Vec<u8> {
    format!("key-{k:04}").into_bytes()
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..40),
        1 => proptest::collection::vec(any::<u8>(), 200..700),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0u16..120;
    prop_oneof![
        30 => (k.clone(), value()).prop_map(|(k, v)| Op::Put(k, v)),
        10 => k.clone().prop_map(Op::Delete),
        5 => proptest::collection::vec((k.clone(), proptest::option::of(value())), 1..8)
            .prop_map(Op::Batch),
        10 => k.clone().prop_map(Op::Get),
        4 => (k.clone(), k).prop_map(|(a, b)| Op::Range(a.min(b), a.max(b))),
        2 => Just(Op::Flush),
        1 => Just(Op::Compact),
        2 => Just(Op::Reopen),
    ]
}

/// The store's shape: how a memtable compares with a table block.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// A flush writes one table.
    OneTablePerFlush,
    /// A flush writes several tables (small erase blocks, a larger
    /// memtable), so level 0 holds runs of several tables.
    SeveralTablesPerFlush,
}

fn config(sync_writes: bool, shape: Shape) -> Config {
    let base = Config {
        sync_writes,
        memtable_bytes: 2048,
        data_block_bytes: 512,
        max_key_len: 64,
        l0_compaction_trigger: 2,
        level_size_multiplier: 3,
        // Small enough that lookups also exercise eviction.
        cache_bytes: 4096,
        ..Config::default()
    };
    match shape {
        Shape::OneTablePerFlush => base,
        Shape::SeveralTablesPerFlush => Config {
            memtable_bytes: 6144,
            data_block_bytes: 256,
            max_key_len: 16,
            l0_compaction_trigger: 3,
            ..base
        },
    }
}

fn device(shape: Shape) -> RamDevice {
    match shape {
        Shape::OneTablePerFlush => RamDevice::new(4096, 96, 4),
        Shape::SeveralTablesPerFlush => RamDevice::new(1024, 512, 4),
    }
}

fn run(ops: Vec<Op>, sync_writes: bool) -> Result<(), TestCaseError> {
    run_shaped(ops, sync_writes, Shape::OneTablePerFlush, false)
}

fn run_shaped(
    ops: Vec<Op>,
    sync_writes: bool,
    shape: Shape,
    fixed: bool,
) -> Result<(), TestCaseError> {
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let cfg = config(sync_writes, shape);
    let dev = device(shape);
    // In fixed memory: one buffer for the whole run, back at every reopen.
    let mut memory = fixed.then(|| {
        let need = cfg.memory_needed(&dev.geometry());
        Memory::new(Box::leak(vec![0u8; need].into_boxed_slice()))
    });
    let mut db = match &mut memory {
        Some(m) => Db::format_in(dev, cfg.clone(), m).unwrap(),
        None => Db::format(dev, cfg.clone()).unwrap(),
    };
    for op in ops {
        match op {
            Op::Put(k, v) => {
                db.put(&key(k), &v).unwrap();
                model.insert(key(k), v);
            }
            Op::Delete(k) => {
                db.delete(&key(k)).unwrap();
                model.remove(&key(k));
            }
            Op::Batch(ops) => {
                let mut b = Batch::new();
                for (k, v) in &ops {
                    match v {
                        Some(v) => b.put(&key(*k), v),
                        None => b.delete(&key(*k)),
                    }
                }
                match db.write(&b) {
                    Ok(()) => {
                        for (k, v) in ops {
                            match v {
                                Some(v) => model.insert(key(k), v),
                                None => model.remove(&key(k)),
                            };
                        }
                    }
                    // A batch larger than one log block is refused whole.
                    Err(Error::TooLarge) => {}
                    Err(e) => panic!("batch failed: {e:?}"),
                }
            }
            Op::Get(k) => {
                prop_assert_eq!(db.get_vec(&key(k)).unwrap(), model.get(&key(k)).cloned());
            }
            Op::Range(a, b) => {
                let (lo, hi) = (key(a), key(b));
                let got: Vec<_> = db
                    .range(Bound::Included(&lo), Bound::Excluded(&hi))
                    .map(|r| r.unwrap())
                    .collect();
                let want: Vec<_> = model
                    .range(lo.clone()..hi.clone())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                prop_assert_eq!(got, want);
            }
            Op::Flush => db.flush().unwrap(),
            Op::Compact => db.compact().unwrap(),
            Op::Reopen => {
                db = match &mut memory {
                    Some(m) => {
                        let dev = db.close(m);
                        Db::open_in(dev, cfg.clone(), m).unwrap()
                    }
                    None => Db::open(db.into_device(), cfg.clone()).unwrap(),
                };
            }
        }
    }
    let all: Vec<_> = db
        .range(Bound::Unbounded, Bound::Unbounded)
        .map(|r| r.unwrap())
        .collect();
    let want: Vec<_> = model.into_iter().collect();
    prop_assert_eq!(all, want);
    let report = db.check().unwrap();
    prop_assert!(report.is_ok(), "{:?}", report.problems);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn matches_btreemap_model(ops in proptest::collection::vec(op(), 1..300)) {
        run(ops, true)?;
    }

    /// The same with `sync_writes` off: log records gather in a buffer.
    #[test]
    fn matches_btreemap_model_with_buffered_writes(ops in proptest::collection::vec(op(), 1..300)) {
        run(ops, false)?;
    }

    /// The same where each flush writes several tables into level 0,
    /// which reads and merges them as runs.
    #[test]
    fn matches_btreemap_model_with_several_tables_per_flush(
        ops in proptest::collection::vec(op(), 1..400),
    ) {
        run_shaped(ops, false, Shape::SeveralTablesPerFlush, false)?;
    }

    /// The same with the store in fixed memory, handed back and in again at
    /// every reopen.
    #[test]
    fn matches_btreemap_model_in_fixed_memory(
        ops in proptest::collection::vec(op(), 1..400),
        sync_writes in any::<bool>(),
        several in any::<bool>(),
    ) {
        let shape = if several { Shape::SeveralTablesPerFlush } else { Shape::OneTablePerFlush };
        run_shaped(ops, sync_writes, shape, true)?;
    }
}
