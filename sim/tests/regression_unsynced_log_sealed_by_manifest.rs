//! Regression: with `sync_writes` off on a device with a volatile cache, a
//! crash while the manifest seals a full log block can make the store
//! impossible to open.
//!
//! Found by `cairn-sim sweep --device file --workload buffered` (k=137,
//! seed=0, among others): `Db::open` fails with
//! `Corrupted("sealed log block truncated")`.
//!
//! What happens: when the active log block is full, the next write starts a
//! new log block and commits a manifest record that seals the old block at
//! its current end. The log records in the old block were programmed but,
//! with `sync_writes` off, never synced. The manifest commit programs its
//! record and then syncs once, so the crash model may keep the manifest
//! record and drop the log records it vouches for. Reopening then finds a
//! sealed block shorter than its recorded end and refuses to open, although
//! nothing but a crash happened.
//!
//! Fixed by syncing before every manifest record, not only after it: what
//! the record names (tables, the log records it seals, a new metadata
//! block's header) is durable before the record can be.

use cairn_core::Config;
use cairn_sim::sweep::{sweep, DeviceKind, SweepOptions};
use cairn_sim::workload::{Gen, Workload};
use cairn_sim::Op;

fn workload() -> Workload {
    let cfg = Config {
        sync_writes: false,
        memtable_bytes: 32 * 1024, // no flush: only log blocks roll over
        max_key_len: 64,
        ..Config::default()
    };
    let mut g = Gen::new(7);
    let mut ops = Vec::new();
    for i in 0..90u32 {
        let k = cairn_sim::workload::key(i % 30);
        ops.push(Op::Put(k.clone(), g.value(&k, 100)));
        if i % 30 == 29 {
            ops.push(Op::Sync);
        }
    }
    Workload {
        name: "unsynced-log-sealed-by-manifest".into(),
        seed: 0,
        config: cfg,
        nor: cairn_core::Geometry {
            block_size: 4096,
            block_count: 32,
            read_size: 1,
            program_size: 1,
        },
        ops,
        after: g.after_ops(),
    }
}

#[test]
fn unsynced_log_sealed_by_manifest() {
    let opts = SweepOptions {
        seeds: 4,
        open_cuts: 0,
        recovery_cuts: 0,
        ..SweepOptions::default()
    };
    let r = sweep(&workload(), DeviceKind::File, &opts);
    assert!(r.cut_points > 100, "{r}");
    for v in &r.violations {
        eprintln!("{v}");
    }
    assert!(r.violations.is_empty(), "{r}");
}

/// The same workload on NOR flash, which has no cache.
#[test]
fn unsynced_log_sealed_by_manifest_on_nor() {
    let opts = SweepOptions {
        seeds: 1,
        open_cuts: 0,
        recovery_cuts: 0,
        ..SweepOptions::default()
    };
    let r = sweep(&workload(), DeviceKind::Nor, &opts);
    // Buffered records reach the flash a buffer at a time, so the
    // workload makes a few dozen mutations, each one a cut point.
    assert!(r.cut_points >= 20, "{r}");
    assert!(r.violations.is_empty(), "{:#?}", r.violations);
}
