//! Regression: a power cut while `Db::format` re-formats a device that
//! holds a store leaves a store that fails to open, or opens with part of
//! its data silently gone.
//!
//! Found by the format cuts of `cairn-sim sweep` (workload `full`,
//! workload seed 1, NOR: `open` fails with
//! `Corrupted("table header invalid")`; workload `deletes`, file device:
//! `open` succeeds with 11 of the old store's 15 keys).
//!
//! What happens: `format` starts from an empty free-space map, so the
//! first block it takes for its metadata may be one the old store's
//! manifest still references (a table or a log block). It erases that
//! block before the new manifest is committed. A cut in between leaves the
//! old manifest in force, pointing at an erased block. Opening then fails
//! with `Corrupted` (and `open_or_format` with it, so the device cannot be
//! used without wiping it by hand), or, when the erased block was the
//! newest log block, accepts it as a log block whose header never became
//! durable and drops its records without a word.
//!
//! After a cut format the device must hold the old store, an empty store,
//! or no store (`NotFormatted`).
//!
//! Fixed by mounting the old store first so that `format` commits into a
//! block the old store does not use (and outranks it by epoch); when the
//! old store fills the device, its metadata blocks are erased first, oldest
//! first, so that a cut in between leaves the old store or none.

use cairn_core::{BlockDevice, Config, Db, Error};
use cairn_sim::sweep::{scan_all, sweep, DeviceKind, SweepOptions};
use cairn_sim::workload::Workload;
use cairn_sim::{Model, NorSim, SimDevice};

fn config() -> Config {
    Config {
        memtable_bytes: 2 * 1024,
        l0_compaction_trigger: 2,
        max_key_len: 64,
        ..Config::default()
    }
}

/// Fills stores of several sizes with tables and a log, then cuts the
/// power at every mutation of a re-format; returns what went wrong.
fn reformat_cuts<D: SimDevice>(fresh: impl Fn() -> D, cfg: Config) -> Vec<String> {
    (5..=80)
        .step_by(5)
        .flat_map(|n| reformat_cuts_after(&fresh, cfg.clone(), n))
        .collect()
}

fn reformat_cuts_after<D: SimDevice>(fresh: impl Fn() -> D, cfg: Config, n: u32) -> Vec<String> {
    let used = fresh();
    let mut db = Db::format(used.clone(), cfg.clone()).unwrap();
    for i in 0..n {
        let v = vec![b'a' + (i % 26) as u8; 300];
        match db.put(format!("k{i:03}").as_bytes(), &v) {
            Ok(()) | Err(Error::Full) => {}
            Err(e) => panic!("put failed: {e}"),
        }
    }
    drop(db);
    cut_reformat(&used, cfg, &format!("{n} puts"))
}

/// Cuts the power at every mutation of a re-format of `used`.
fn cut_reformat<D: SimDevice>(used: &D, cfg: Config, label: &str) -> Vec<String> {
    let old: Model = {
        let mut db = Db::open(used.snapshot(0), cfg.clone()).unwrap();
        scan_all(&mut db).unwrap()
    };
    let probe = used.snapshot(1);
    let before = probe.counters().mutations;
    drop(Db::format(probe.clone(), cfg.clone()).unwrap());
    let m = probe.counters().mutations - before;
    assert!(m > 0);

    let mut problems = Vec::new();
    for j in 0..m {
        // Several seeds: on a file, whether the cut erase reached the media
        // is up to the crash.
        for seed in 0..6 {
            let dev = used.snapshot(seed);
            dev.cut_at(j);
            assert!(Db::format(dev.clone(), cfg.clone()).is_err());
            dev.reboot();
            match Db::open(dev.clone(), cfg.clone()) {
                Ok(mut db) => {
                    let got = scan_all(&mut db).unwrap();
                    if !got.is_empty() && got != old {
                        problems.push(format!(
                            "{label}, cut {j}, seed {seed}: store opens with {} keys, the old \
                             one had {}",
                            got.len(),
                            old.len()
                        ));
                    }
                }
                Err(Error::NotFormatted) => {}
                Err(e) => problems.push(format!("{label}, cut {j}, seed {seed}: open failed: {e}")),
            }
            if let Err(e) = Db::open_or_format(dev.clone(), cfg.clone()) {
                problems.push(format!(
                    "{label}, cut {j}, seed {seed}: open_or_format failed: {e}"
                ));
            }
        }
    }
    problems
}

#[test]
fn cut_reformat_leaves_broken_store_on_nor() {
    let p = reformat_cuts(|| NorSim::new(4096, 16, 1, 4, 5), config());
    assert!(p.is_empty(), "{p:#?}");
}

#[test]
fn cut_reformat_leaves_broken_store_on_file() {
    // The store the `deletes` workload leaves on a file, re-formatted.
    let w = Workload::named("deletes", 0).unwrap();
    let opts = SweepOptions {
        format_only: true,
        ..SweepOptions::default()
    };
    let r = sweep(&w, DeviceKind::File, &opts);
    assert!(r.format_cut_points > 0, "{r}");
    for v in &r.violations {
        eprintln!("{v}");
    }
    assert!(r.violations.is_empty(), "{r}");
}

/// Formatting a blank device survives every cut.
#[test]
fn cut_format_of_a_blank_device_is_harmless() {
    let cfg = config();
    let probe = NorSim::new(4096, 16, 1, 4, 5);
    drop(Db::format(probe.clone(), cfg.clone()).unwrap());
    let m = probe.counters().mutations;
    for j in 0..m {
        let dev = NorSim::new(4096, 16, 1, 4, j);
        dev.cut_at(j);
        assert!(Db::format(dev.clone(), cfg.clone()).is_err());
        dev.reboot();
        match Db::open(dev.clone(), cfg.clone()) {
            Ok(mut db) => assert!(scan_all(&mut db).unwrap().is_empty()),
            Err(Error::NotFormatted) => {}
            Err(e) => panic!("cut {j}: open failed: {e}"),
        }
        let mut db = Db::open_or_format(dev.clone(), cfg.clone()).unwrap();
        db.put(b"k", b"v").unwrap();
        assert_eq!(dev.geometry().block_count, 16);
        assert!(dev.violations().is_empty());
    }
}
