//! Regression: a store that had been full, then emptied by deletes and a
//! compaction, refused small puts again soon after.
//!
//! Found by the format cuts of `cairn-sim sweep` (workload `full`, NOR,
//! workload seeds 0 and 1: `put failed: store is full` on the store left
//! by the workload). After the compaction, keys written in increasing order
//! were flushed as half-full tables that overlapped nothing below: each was
//! copied alone into level 1 and then moved down, half full, so the levels
//! held about 2.5 KiB per 4 KiB block. Reopening starts a log block, which
//! took the last block above the reserve; with level 0 empty, a put short
//! of space had nothing to compact and was refused, with 18 KiB of live
//! data on a 64 KiB device.

use cairn_core::{Db, Error};
use cairn_sim::sweep::run_op;
use cairn_sim::workload::Workload;
use cairn_sim::NorSim;

#[test]
fn regression_full_store_refuses_puts_with_level_0_empty() {
    for seed in [0, 1] {
        let w = Workload::named("full", seed).unwrap();
        let cfg = w.config_for("nor");
        let mut db = Db::format(NorSim::with_geometry(w.nor, seed), cfg.clone()).unwrap();
        for op in &w.ops {
            match run_op(&mut db, op) {
                Ok(()) | Err(Error::Full) => {}
                Err(e) => panic!("seed {seed}: {e}"),
            }
        }
        // As the sweep does: reopen, the writes after a recovery (which may
        // be refused), reopen again, then one small put.
        let mut db = Db::open(db.into_device(), cfg.clone()).unwrap();
        for op in &w.after {
            match run_op(&mut db, op) {
                Ok(()) | Err(Error::Full) => {}
                Err(e) => panic!("seed {seed}: {e}"),
            }
        }
        let mut db = Db::open(db.into_device(), cfg.clone()).unwrap();
        let s = db.stats();
        db.put(b"after-format", b"1").unwrap_or_else(|e| {
            panic!(
                "seed {seed}: {e}; {} blocks free, tables per level {:?}, {} table bytes, {} log blocks",
                s.blocks_free, s.tables_per_level, s.table_bytes, s.wal_blocks
            )
        });
    }
}
