//! The crash harness end to end, small enough for a debug build: sweeps of
//! built-in workloads on both devices, a check that the harness does catch
//! a device that loses acknowledged writes, and seeded simulations that
//! replay exactly.

use cairn_core::{Config, Db, Error};
use cairn_sim::simulate::simulate;
use cairn_sim::sweep::check_poisoned;
use cairn_sim::sweep::{file_for, nor_for, sweep, sweep_with, DeviceKind, SweepOptions};
use cairn_sim::workload::Workload;
use cairn_sim::{FileSim, SimDevice, SimError};

fn opts() -> SweepOptions {
    SweepOptions {
        seeds: 1,
        open_cuts: 2,
        recovery_cuts: 1,
        ..SweepOptions::default()
    }
}

#[test]
fn small_workload_survives_every_cut_on_both_devices() {
    let w = Workload::named("small", 0).unwrap();
    for kind in [DeviceKind::Nor, DeviceKind::File] {
        let r = sweep(&w, kind, &opts());
        for v in &r.violations {
            eprintln!("{v}");
        }
        assert!(r.violations.is_empty(), "{r}");
        // Every mutation of the workload was a cut point, each followed by
        // at least two reopens.
        assert!(r.mutations >= w.ops.len() as u64, "{r}");
        assert_eq!(r.cut_points, r.mutations, "{r}");
        assert!(r.reboots >= 2 * r.cut_points, "{r}");
        // The cuts landed both before and after writes became durable.
        assert!(r.inflight_kept > 0 && r.inflight_lost > 0, "{r}");
    }
}

#[test]
fn batches_and_deletes_survive_every_cut_on_nor() {
    for name in ["batches", "deletes"] {
        let w = Workload::named(name, 0).unwrap();
        let r = sweep(&w, DeviceKind::Nor, &opts());
        for v in &r.violations {
            eprintln!("{v}");
        }
        assert!(r.violations.is_empty(), "{r}");
        assert!(r.cut_points > 50, "{r}");
    }
}

#[test]
fn the_harness_catches_a_device_that_loses_acknowledged_writes() {
    // A file whose sync makes nothing durable: acknowledged writes vanish
    // at the next crash, and the oracle must say so.
    let w = Workload::named("small", 0).unwrap();
    let lying = |w: &Workload, seed| file_for(w, seed).with_lying_sync();
    let r = sweep_with(&w, DeviceKind::File, &opts(), lying);
    // Already the counting run, which ends with a power loss, shows it.
    assert!(!r.violations.is_empty(), "{r}");
    let v = &r.violations[0];
    assert!(v.replay.contains("--workload small"), "{v}");
    let text = v.to_string();
    assert!(
        text.contains("matches no allowed prefix") || text.contains("open failed"),
        "{text}"
    );
}

#[test]
fn the_harness_catches_a_flash_that_loses_the_last_program_at_a_cut() {
    // The counting run cannot show this broken device (it has no cut);
    // cut points must.
    let w = Workload::named("small", 0).unwrap();
    let lagging = |w: &Workload, seed| nor_for(w, seed).with_lagging_programs();
    let r = sweep_with(&w, DeviceKind::Nor, &opts(), lagging);
    let v = r
        .violations
        .iter()
        .find(|v| v.k.is_some())
        .unwrap_or_else(|| panic!("no cut point caught it: {r}"));
    assert!(v.replay.contains("--k"), "{v}");
    assert!(
        v.detail.contains("matches no allowed prefix") || v.detail.contains("open failed"),
        "{v}"
    );
}

#[test]
fn a_failed_sync_poisons_the_store() {
    let dev = FileSim::new(4096, 16, 1);
    let mut db = Db::format(dev.clone(), Config::default()).unwrap();
    db.put(b"a", b"1").unwrap();
    // A put is a program and a sync: fail the sync.
    dev.fail_at(1);
    assert_eq!(db.put(b"b", b"2"), Err(Error::Device(SimError::Io)));
    assert_eq!(check_poisoned(&mut db, &dev), Ok(()));
    assert_eq!(db.put(b"c", b"3"), Err(Error::Poisoned));
    drop(db);
    let mut db = Db::open(dev.clone(), Config::default()).unwrap();
    assert_eq!(db.get_vec(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.get_vec(b"c").unwrap(), None);
    db.put(b"d", b"4").unwrap();
}

#[test]
fn io_errors_at_every_cut_point_of_a_small_workload() {
    let w = Workload::named("batches", 0).unwrap();
    let o = SweepOptions {
        io_errors: true,
        ..opts()
    };
    for kind in [DeviceKind::Nor, DeviceKind::File] {
        let r = sweep(&w, kind, &o);
        for v in &r.violations {
            eprintln!("{v}");
        }
        assert!(r.violations.is_empty(), "{r}");
        assert!(r.cut_points > 50, "{r}");
        assert!(r.violations.is_empty() && r.opens > r.reboots, "{r}");
    }
}

#[test]
fn a_single_cut_point_replays() {
    let w = Workload::named("flush", 0).unwrap();
    let one = SweepOptions {
        only_k: Some(40),
        only_seed: Some(0),
        ..opts()
    };
    let a = sweep(&w, DeviceKind::File, &one);
    let b = sweep(&w, DeviceKind::File, &one);
    assert_eq!(a.cut_points, 1);
    assert_eq!(
        (a.reboots, a.opens, a.inflight_kept, a.violations.len()),
        (b.reboots, b.opens, b.inflight_kept, b.violations.len())
    );
    assert!(a.violations.is_empty(), "{:#?}", a.violations);
}

#[test]
fn simulations_replay_from_their_seed() {
    for (seed, kind) in [(1, DeviceKind::Nor), (2, DeviceKind::File)] {
        let a = simulate(seed, 400, Some(kind));
        let b = simulate(seed, 400, Some(kind));
        assert_eq!(a.device, kind.name());
        assert_eq!(
            (
                a.steps_done,
                a.acked,
                a.cuts,
                a.crashes,
                a.reboots,
                &a.violation
            ),
            (
                b.steps_done,
                b.acked,
                b.cuts,
                b.crashes,
                b.reboots,
                &b.violation
            )
        );
        assert_eq!(a.setup, b.setup);
        assert!(a.reboots > 0, "{a}");
        assert!(a.replay().contains(&format!("--seed {seed}")));
    }
}
