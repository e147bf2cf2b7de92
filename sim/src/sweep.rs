//! The crash sweep: cut the power at every mutating device operation of a
//! workload, and check every recovery.
//!
//! For a workload and a device kind:
//!
//! 1. A counting run formats a fresh device, runs the workload without a
//!    cut and counts its mutating device operations, N (programs and
//!    erases; on a file device syncs too). It also checks the store without
//!    any crash, so a plain bug is not mistaken for a crash bug.
//! 2. For every cut point k in `0..N`, and for each tear seed, the workload
//!    is replayed on a fresh device: format, arm the cut at the k-th
//!    mutation, run operations until one fails (an error is an
//!    unacknowledged, in-flight operation; no further operation is issued).
//! 3. Recovery: reboot, `Db::open` (which must succeed), compare a full
//!    scan with the [`Oracle`], compare `get` with the scan, run
//!    `Db::check` (which must find no problem), write a few more
//!    operations (which must succeed), check again, lose power once more,
//!    reopen and check again.
//! 4. Cuts during recovery: on copies of the crashed device, the power is
//!    cut again at each mutation `Db::open` makes (up to a limit), and at a
//!    few random mutations of the first writes after it; then recovery
//!    as in 3.
//! 5. Cuts inside `Db::format`, on a blank device and on the device the
//!    counting run left: the device must then hold the old store, an empty
//!    one, or none, and `Db::open_or_format` must give a working store.
//!
//! With [`SweepOptions::io_errors`], each cut point injects an I/O error
//! (the power stays on) instead of a power cut; after a failed `sync` the
//! store must refuse writes with `Poisoned`.
//!
//! Every breach of the device contract (a word programmed twice, a
//! misaligned access) is a violation too, and so is a panic. Each violation
//! names its workload, device, cut point and seed, and the command that
//! replays it (for the built-in workloads, which the command line knows by
//! name).

use std::fmt;
use std::ops::Bound;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use cairn_core::{Batch, Config, Db, Error, Memory};
use rand::RngExt;

use crate::oracle::{show_key, show_value, Model, Op, Oracle};
use crate::rng::{derive, rng_from};
use crate::workload::Workload;
use crate::{Access, EraseFill, FileSim, NorSim, SimDevice, SimError};

/// The kinds of simulated device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// [`NorSim`].
    Nor,
    /// [`FileSim`].
    File,
}

impl DeviceKind {
    /// `"nor"` or `"file"`.
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Nor => "nor",
            DeviceKind::File => "file",
        }
    }

    /// Parses `"nor"` or `"file"`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "nor" => Some(DeviceKind::Nor),
            "file" => Some(DeviceKind::File),
            _ => None,
        }
    }

    fn tag(self) -> u64 {
        match self {
            DeviceKind::Nor => 1,
            DeviceKind::File => 2,
        }
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fresh NOR device of a workload's shape.
pub fn nor_for(w: &Workload, seed: u64) -> NorSim {
    NorSim::with_geometry(w.nor, seed)
}

/// A fresh file device of a workload's block size and count. What erased
/// blocks read as (zeros, random bytes or `0xFF`) depends on the seed.
pub fn file_for(w: &Workload, seed: u64) -> FileSim {
    let fill = [EraseFill::Zeros, EraseFill::Random, EraseFill::Ones][(seed % 3) as usize];
    FileSim::new(w.nor.block_size, w.nor.block_count, seed).with_erase_fill(fill)
}

/// How thoroughly to sweep.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// Tear seeds per cut point: each replays the same cut with different
    /// random choices of what the cut leaves behind.
    pub seeds: u32,
    /// At most this many cut points inside `Db::open` per crash (they are
    /// tried exhaustively up to this limit).
    pub open_cuts: u32,
    /// Random cut points in the writes after reopening, per crash.
    pub recovery_cuts: u32,
    /// Test only this cut point.
    pub only_k: Option<u64>,
    /// Test only this tear seed.
    pub only_seed: Option<u32>,
    /// Stop a workload after this many violations.
    pub max_violations: usize,
    /// Skip the cut points of the workload: only the counting run and the
    /// cuts inside `Db::format`.
    pub format_only: bool,
    /// At each cut point, inject an I/O error (the power stays on) instead
    /// of cutting the power.
    pub io_errors: bool,
    /// Run every store in fixed memory (`Db::format_in`, `Db::open_in`),
    /// closed with `Db::close` and reopened in the same memory.
    pub fixed_memory: bool,
}

impl Default for SweepOptions {
    fn default() -> Self {
        SweepOptions {
            seeds: 1,
            open_cuts: 4,
            recovery_cuts: 1,
            only_k: None,
            only_seed: None,
            max_violations: 10,
            format_only: false,
            io_errors: false,
            fixed_memory: false,
        }
    }
}

/// A broken promise, with what it takes to replay it.
#[derive(Clone, Debug)]
pub struct Violation {
    /// Workload name.
    pub workload: String,
    /// Device kind.
    pub device: &'static str,
    /// Cut point, `None` for the counting run.
    pub k: Option<u64>,
    /// Tear seed.
    pub seed: u64,
    /// Where it happened ("recovery", "cut 3 inside open", ...).
    pub phase: String,
    /// What was wrong.
    pub detail: String,
    /// The command that replays it.
    pub replay: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = match self.k {
            Some(k) => k.to_string(),
            None => "none (counting run)".into(),
        };
        write!(
            f,
            "VIOLATION workload={} device={} k={} seed={} phase={}\n  {}\n  replay: {}",
            self.workload,
            self.device,
            k,
            self.seed,
            self.phase,
            self.detail.replace('\n', "\n  "),
            self.replay
        )
    }
}

/// The result of sweeping one workload on one device kind.
#[derive(Clone, Debug, Default)]
pub struct SweepReport {
    /// Workload name.
    pub workload: String,
    /// Device kind.
    pub device: &'static str,
    /// Seed the workload was generated from.
    pub workload_seed: u64,
    /// Operations in the workload.
    pub ops: usize,
    /// Mutating device operations the workload makes: the cut points.
    pub mutations: u64,
    /// Crashes tested during the workload (cut points times seeds).
    pub cut_points: u64,
    /// Crashes tested during recovery.
    pub recovery_cut_points: u64,
    /// Crashes tested inside `Db::format`, on a blank device and on one
    /// holding a store.
    pub format_cut_points: u64,
    /// Device reboots.
    pub reboots: u64,
    /// Successful `Db::open` calls.
    pub opens: u64,
    /// Operations refused with `Full`.
    pub full: u64,
    /// Crashes after which the in-flight operation was found applied.
    pub inflight_kept: u64,
    /// Crashes after which the in-flight operation was found lost (or
    /// there was none: the cut hit a flush or compaction between writes).
    pub inflight_lost: u64,
    /// Everything found wrong.
    pub violations: Vec<Violation>,
    /// Wall time.
    pub elapsed: Duration,
}

impl fmt::Display for SweepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<10} {:<4} seed {:<3} ops {:>4}  cut points {:>6}  recovery cuts {:>6}  format cuts {:>3}  \
             reboots {:>7}  \
             opens {:>7}  in-flight kept/lost {:>5}/{:<5}  full {:>5}  violations {:>3}  {:>6.1}s",
            self.workload,
            self.device,
            self.workload_seed,
            self.ops,
            self.cut_points,
            self.recovery_cut_points,
            self.format_cut_points,
            self.reboots,
            self.opens,
            self.inflight_kept,
            self.inflight_lost,
            self.full,
            self.violations.len(),
            self.elapsed.as_secs_f64()
        )
    }
}

/// Runs one operation on a store.
pub fn run_op<D: cairn_core::BlockDevice>(db: &mut Db<D>, op: &Op) -> Result<(), Error<D::Error>> {
    match op {
        Op::Put(k, v) => db.put(k, v),
        Op::Delete(k) => db.delete(k),
        Op::Batch(entries) => {
            let mut b = Batch::new();
            for (k, v) in entries {
                match v {
                    Some(v) => b.put(k, v),
                    None => b.delete(k),
                }
            }
            db.write(&b)
        }
        Op::Flush => db.flush(),
        Op::Compact => db.compact(),
        Op::Sync => db.sync(),
    }
}

/// How a run of operations ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ran {
    /// Every operation was issued (some may have been refused as `Full`).
    All,
    /// Operation `at` failed because the power was lost; nothing after it
    /// was issued.
    PowerLost {
        /// Index of the in-flight operation.
        at: usize,
    },
    /// Operation `at` failed because of an injected I/O error (the power
    /// is on); nothing after it was issued.
    Failed {
        /// Index of the operation that failed.
        at: usize,
    },
}

/// Issues `ops` in order, recording each in `oracle`; stops at the first
/// failure caused by a power loss. An error with the power on is a
/// violation, except `Full`, which refuses the operation (counted in
/// `full`). `durable`: whether an acknowledged write is durable (the
/// store's `sync_writes`).
pub fn run_ops<D: SimDevice>(
    db: &mut Db<D>,
    dev: &D,
    ops: &[Op],
    oracle: &mut Oracle,
    durable: bool,
    full: &mut u64,
) -> Result<Ran, String> {
    for (i, op) in ops.iter().enumerate() {
        let id = oracle.issue(op);
        let io_errors = dev.counters().io_errors;
        match run_op(db, op) {
            Ok(()) => {
                oracle.ack(id, durable || !op.is_write());
                if *op == Op::Sync {
                    oracle.sync_point();
                }
            }
            Err(Error::Full) if dev.powered() && must_work_when_full(op) => {
                return Err(format!(
                    "operation #{i} ({}) was refused with Full: deletes and compaction must \
                     work on a full store",
                    op.describe()
                ))
            }
            Err(Error::Full) => {
                oracle.reject(id);
                *full += 1;
            }
            Err(_) if !dev.powered() => return Ok(Ran::PowerLost { at: i }),
            Err(Error::Device(SimError::Io) | Error::Poisoned)
                if dev.counters().io_errors > io_errors =>
            {
                return Ok(Ran::Failed { at: i })
            }
            Err(e) => {
                return Err(format!(
                    "operation #{i} ({}) failed with the power on: {e}",
                    op.describe()
                ))
            }
        }
    }
    Ok(Ran::All)
}

/// After an injected I/O error in a `sync`, the store must refuse every
/// later write with `Poisoned`: checks one.
pub fn check_poisoned<D: SimDevice>(db: &mut Db<D>, dev: &D) -> Result<(), String> {
    if dev.last_io_error() != Some(Access::Sync) {
        return Ok(());
    }
    match db.put(b"after-failed-sync", b"x") {
        Err(Error::Poisoned) => Ok(()),
        Ok(()) => Err(
            "a write was acknowledged after a sync failed; the store must refuse \
                       writes with Poisoned"
                .into(),
        ),
        Err(e) => Err(format!(
            "a write after a failed sync failed with \"{e}\", not Poisoned"
        )),
    }
}

/// Whether an operation must succeed even on a full store: deletes (alone
/// or in a batch of deletes) and compaction, for which cairn keeps a
/// reserve of blocks.
pub fn must_work_when_full(op: &Op) -> bool {
    match op {
        Op::Delete(_) | Op::Compact => true,
        Op::Batch(e) => e.iter().all(|(_, v)| v.is_none()),
        _ => false,
    }
}

/// Reads the whole store with `scan`, checks the keys come in strictly
/// increasing order, and returns them.
pub fn scan_all<D: SimDevice>(db: &mut Db<D>) -> Result<Model, String> {
    let mut got = Model::new();
    let mut disorder = None;
    db.scan(Bound::Unbounded, Bound::Unbounded, |k, v| {
        if let Some((last, _)) = got.last_key_value() {
            if last.as_slice() >= k && disorder.is_none() {
                disorder = Some(format!(
                    "scan returned {} after {}",
                    show_key(k),
                    show_key(last)
                ));
            }
        }
        got.insert(k.to_vec(), v.to_vec());
        true
    })
    .map_err(|e| format!("scan failed: {e}"))?;
    match disorder {
        Some(d) => Err(d),
        None => Ok(got),
    }
}

/// Checks that `get` agrees with `scan` for a sample of keys: the keys
/// the oracle knows (present or deleted) and one that never existed.
pub fn check_gets<D: SimDevice>(
    db: &mut Db<D>,
    got: &Model,
    oracle: &Oracle,
) -> Result<(), String> {
    let mut keys = oracle.known_keys();
    keys.extend(got.keys().cloned());
    keys.sort();
    keys.dedup();
    let step = keys.len() / 64 + 1;
    let mut sample: Vec<Vec<u8>> = keys.into_iter().step_by(step).collect();
    sample.push(b"never-written".to_vec());
    for k in sample {
        let v = db
            .get_vec(&k)
            .map_err(|e| format!("get {} failed: {e}", show_key(&k)))?;
        if v.as_ref() != got.get(&k) {
            let show = |v: Option<&Vec<u8>>| v.map_or("absent".to_string(), |v| show_value(v));
            return Err(format!(
                "get {} returned {} but scan has {}",
                show_key(&k),
                show(v.as_ref()),
                show(got.get(&k))
            ));
        }
    }
    Ok(())
}

/// Checks a recovered store against the oracle (scan, then `get` for a
/// sample), then settles the oracle on the state found. Returns how many
/// operations beyond the required ones the recovered state contains.
pub fn verify_recovered<D: SimDevice>(
    db: &mut Db<D>,
    oracle: &mut Oracle,
) -> Result<usize, String> {
    let got = scan_all(db)?;
    let n = oracle.check(&got)?;
    check_gets(db, &got, oracle)?;
    let extra = n - oracle.required();
    oracle.settle(n);
    Ok(extra)
}

/// Checks a running store (no crash since the oracle's last operation):
/// it must hold exactly the state after every operation issued.
pub fn verify_live<D: SimDevice>(db: &mut Db<D>, oracle: &Oracle) -> Result<(), String> {
    let got = scan_all(db)?;
    let want = oracle.expected();
    if got != want {
        let mut s = String::from("running store differs from its operations:");
        for line in crate::oracle::diff(&got, &want, 12) {
            s.push_str("\n  ");
            s.push_str(&line);
        }
        return Err(s);
    }
    check_gets(db, &got, oracle)
}

/// Runs `Db::check`; an error or any problem it reports is a violation.
pub fn check_db<D: SimDevice>(db: &mut Db<D>) -> Result<(), String> {
    let report = db.check().map_err(|e| format!("check failed: {e}"))?;
    if !report.is_ok() {
        return Err(format!(
            "check found {} problems:\n  {}",
            report.problem_count(),
            report
                .problems
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("\n  ")
        ));
    }
    Ok(())
}

/// Fails if the device recorded any breach of its contract.
pub fn check_device<D: SimDevice>(dev: &D) -> Result<(), String> {
    let v = dev.violations();
    if v.is_empty() {
        return Ok(());
    }
    let mut s = format!("{} device contract violations:", v.len());
    for e in v.iter().take(8) {
        s.push_str("\n  ");
        s.push_str(&e.to_string());
    }
    Err(s)
}

thread_local! {
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Replaces the panic hook with one that prints nothing and remembers the
/// panic's message and location for [`panic_message`]: sweeps catch the
/// engine's panics and report them as violations, with their cut point.
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
    }));
}

/// The message of a caught panic (with its location if [`quiet_panics`]
/// is in force).
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(m) = LAST_PANIC.with(|l| l.borrow_mut().take()) {
        return m;
    }
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".into()
    }
}

/// Sweeps one workload on one device kind.
pub fn sweep(w: &Workload, kind: DeviceKind, opts: &SweepOptions) -> SweepReport {
    match kind {
        DeviceKind::Nor => sweep_with(w, kind, opts, nor_for),
        DeviceKind::File => sweep_with(w, kind, opts, file_for),
    }
}

/// Sweeps one workload on devices made by `make` (from the workload and a
/// seed); `kind` picks the configuration and names the device in reports.
pub fn sweep_with<D: SimDevice>(
    w: &Workload,
    kind: DeviceKind,
    opts: &SweepOptions,
    make: fn(&Workload, u64) -> D,
) -> SweepReport {
    Sweeper::new(w, kind, opts, make).run()
}

/// A failure: the phase it happened in and what was wrong.
type Failure = (String, String);

struct Sweeper<'a, D: SimDevice> {
    w: &'a Workload,
    kind: DeviceKind,
    opts: &'a SweepOptions,
    make: fn(&Workload, u64) -> D,
    cfg: Config,
    report: SweepReport,
    /// With `fixed_memory`: the stores' memory, handed from one to the next,
    /// and the bytes it takes.
    memory: Option<Memory>,
    need: usize,
}

impl<'a, D: SimDevice> Sweeper<'a, D> {
    fn new(
        w: &'a Workload,
        kind: DeviceKind,
        opts: &'a SweepOptions,
        make: fn(&Workload, u64) -> D,
    ) -> Self {
        Sweeper {
            w,
            kind,
            opts,
            make,
            cfg: w.config_for(kind.name()),
            memory: None,
            need: w
                .config_for(kind.name())
                .memory_needed(&make(w, 0).geometry()),
            report: SweepReport {
                workload: w.name.clone(),
                device: kind.name(),
                workload_seed: w.seed,
                ops: w.ops.len(),
                ..SweepReport::default()
            },
        }
    }

    fn replay(&self, k: Option<u64>, seed: u64) -> String {
        let mut s = format!(
            "cargo run -p cairn-sim --release -- sweep --device {} --workload {}",
            self.kind, self.w.name
        );
        if self.w.seed != 0 {
            s.push_str(&format!(" --workload-seed {}", self.w.seed));
        }
        if self.opts.io_errors {
            s.push_str(" --io-errors");
        }
        if self.opts.fixed_memory {
            s.push_str(" --fixed-memory");
        }
        match k {
            Some(k) => s.push_str(&format!(" --k {k} --seed {seed}")),
            None => s.push_str(" --format-only"),
        }
        s
    }

    fn record(&mut self, k: Option<u64>, seed: u64, (phase, detail): Failure) {
        let v = Violation {
            workload: self.w.name.clone(),
            device: self.kind.name(),
            k,
            seed,
            phase,
            detail,
            replay: self.replay(k, seed),
        };
        self.report.violations.push(v);
    }

    fn run(mut self) -> SweepReport {
        let start = Instant::now();
        let counted = catch_unwind(AssertUnwindSafe(|| self.count()))
            .unwrap_or_else(|p| Err(("counting run".into(), panic_message(&*p))));
        match counted {
            Ok((n, used)) => {
                self.report.mutations = n;
                let r = catch_unwind(AssertUnwindSafe(|| self.format_cuts(&used)))
                    .unwrap_or_else(|p| Err(("format".into(), panic_message(&*p))));
                if let Err(f) = r {
                    self.record(None, 0, f);
                }
                let ks: Vec<u64> = match self.opts.only_k {
                    _ if self.opts.format_only => Vec::new(),
                    Some(k) => vec![k],
                    None => (0..n).collect(),
                };
                let seeds: Vec<u32> = match self.opts.only_seed {
                    Some(s) => vec![s],
                    None => (0..self.opts.seeds.max(1)).collect(),
                };
                'outer: for k in ks {
                    for &s in &seeds {
                        let r = catch_unwind(AssertUnwindSafe(|| self.cut_point(k, s)))
                            .unwrap_or_else(|p| {
                                Err(("panic".into(), format!("panic: {}", panic_message(&*p))))
                            });
                        self.report.cut_points += 1;
                        if let Err(f) = r {
                            self.record(Some(k), s as u64, f);
                            if self.report.violations.len() >= self.opts.max_violations {
                                break 'outer;
                            }
                        }
                    }
                }
            }
            Err(f) => self.record(None, 0, f),
        }
        self.report.elapsed = start.elapsed();
        self.report
    }

    /// With `fixed_memory`, the memory for the next store: what the last
    /// one gave back, or a fresh buffer if a store was dropped on a failure
    /// path (which keeps its memory).
    fn memory(&mut self) -> Option<&mut Memory> {
        if !self.opts.fixed_memory {
            return None;
        }
        let need = self.need;
        let m = self.memory.get_or_insert_with(|| Memory::new(&mut []));
        // What comes back lacks only the bytes its pieces' alignment skipped.
        if m.len() + 512 < need {
            *m = Memory::new(Box::leak(vec![0u8; need].into_boxed_slice()));
        }
        Some(m)
    }

    fn db_format(&mut self, dev: &D) -> Result<Db<D>, Error<SimError>> {
        let cfg = self.cfg.clone();
        match self.memory() {
            Some(m) => Db::format_in(dev.clone(), cfg, m),
            None => Db::format(dev.clone(), cfg),
        }
    }

    fn db_open(&mut self, dev: &D) -> Result<Db<D>, Error<SimError>> {
        let cfg = self.cfg.clone();
        match self.memory() {
            Some(m) => Db::open_in(dev.clone(), cfg, m),
            None => Db::open(dev.clone(), cfg),
        }
    }

    fn db_open_or_format(&mut self, dev: &D) -> Result<Db<D>, Error<SimError>> {
        let cfg = self.cfg.clone();
        match self.memory() {
            Some(m) => Db::open_or_format_in(dev.clone(), cfg, m),
            None => Db::open_or_format(dev.clone(), cfg),
        }
    }

    /// Closes a store as dropping it would, keeping its memory.
    fn release(&mut self, db: Db<D>) {
        match (self.opts.fixed_memory, self.memory.as_mut()) {
            (true, Some(m)) => {
                db.close(m);
            }
            _ => drop(db),
        }
    }

    fn open(&mut self, dev: &D, phase: &str) -> Result<Db<D>, Failure> {
        match self.db_open(dev) {
            Ok(db) => {
                self.report.opens += 1;
                Ok(db)
            }
            Err(e) => Err((phase.into(), format!("open failed: {e}"))),
        }
    }

    fn reboot(&mut self, dev: &D) {
        dev.reboot();
        self.report.reboots += 1;
    }

    /// The counting run: no cut; returns the mutations the workload makes,
    /// and the device with the store it leaves.
    fn count(&mut self) -> Result<(u64, D), Failure> {
        let phase = |s: &'static str| move |e: String| (format!("counting run: {s}"), e);
        let dev = (self.make)(self.w, derive(&[self.w.seed, self.kind.tag(), u64::MAX]));
        let mut db = self
            .db_format(&dev)
            .map_err(|e| ("format".to_string(), format!("format failed: {e}")))?;
        let before = dev.counters().mutations;
        let mut oracle = Oracle::new();
        let durable = self.cfg.sync_writes;
        let ran = run_ops(
            &mut db,
            &dev,
            &self.w.ops,
            &mut oracle,
            durable,
            &mut self.report.full,
        )
        .map_err(phase("workload"))?;
        debug_assert_eq!(ran, Ran::All);
        let n = dev.counters().mutations - before;
        verify_live(&mut db, &oracle).map_err(phase("after the workload"))?;
        check_db(&mut db).map_err(phase("after the workload"))?;
        self.release(db);
        dev.crash();
        self.recover(&dev, &mut oracle, "counting run: reopen")?;
        Ok((n, dev))
    }

    /// Cuts the power at every mutation of `Db::format`, on a blank device
    /// and on `used` (which holds a store). Afterwards `Db::open` must find
    /// the old store, an empty one, or none (`NotFormatted`), never fail
    /// otherwise; `Db::open_or_format` must then give a working store.
    fn format_cuts(&mut self, used: &D) -> Result<(), Failure> {
        if self.opts.only_k.is_some() {
            return Ok(());
        }
        let old = {
            let probe = used.snapshot(0);
            probe.reboot();
            let mut db = self.open(&probe, "format: open the used device")?;
            let old =
                scan_all(&mut db).map_err(|e| ("format: scan the used device".to_string(), e))?;
            self.release(db);
            old
        };
        for (what, base) in [("blank", None), ("used", Some(used))] {
            let seed = derive(&[self.w.seed, self.kind.tag(), 0xF0]);
            let (make, w) = (self.make, self.w);
            let fresh = || match base {
                Some(d) => {
                    let d = d.snapshot(seed);
                    d.reboot();
                    d
                }
                None => make(w, seed),
            };
            let probe = fresh();
            let before = probe.counters().mutations;
            let db = self
                .db_format(&probe)
                .map_err(|e| (format!("format ({what} device)"), e.to_string()))?;
            self.release(db);
            let m = probe.counters().mutations - before;
            for j in 0..m {
                let phase = format!("cut {j} inside format ({what} device)");
                self.report.format_cut_points += 1;
                let dev = fresh();
                dev.cut_at(j);
                let formatted = match self.db_format(&dev) {
                    Ok(db) => {
                        self.release(db);
                        true
                    }
                    Err(_) => false,
                };
                if formatted && dev.powered() {
                    return Err((phase, "format succeeded through a power cut".into()));
                }
                dev.disarm();
                dev.crash();
                self.reboot(&dev);
                match self.db_open(&dev) {
                    Ok(mut db) => {
                        self.report.opens += 1;
                        let got = scan_all(&mut db).map_err(|e| (phase.clone(), e))?;
                        if !got.is_empty() && (base.is_none() || got != old) {
                            return Err((
                                phase,
                                format!(
                                    "after a cut format, the store holds {} keys: neither the \
                                     old store ({} keys) nor an empty one",
                                    got.len(),
                                    old.len()
                                ),
                            ));
                        }
                        check_db(&mut db).map_err(|e| (phase.clone(), e))?;
                        self.release(db);
                    }
                    Err(Error::NotFormatted) => {}
                    Err(e) => return Err((phase, format!("open after a cut format failed: {e}"))),
                }
                let mut db = self
                    .db_open_or_format(&dev)
                    .map_err(|e| (phase.clone(), format!("open_or_format failed: {e}")))?;
                match db.put(b"after-format", b"1").and_then(|()| db.sync()) {
                    Ok(()) => {}
                    // The cut left the old store, and it was full: a put may
                    // be refused, as it would have been before the format.
                    Err(Error::Full) if base.is_some() && !old.is_empty() => {
                        let got = scan_all(&mut db).map_err(|e| (phase.clone(), e))?;
                        if got != old {
                            return Err((phase, "a full store changed after a cut format".into()));
                        }
                        check_db(&mut db).map_err(|e| (phase.clone(), e))?;
                        self.release(db);
                        continue;
                    }
                    Err(e) => return Err((phase, format!("put failed: {e}"))),
                }
                self.release(db);
                dev.crash();
                self.reboot(&dev);
                let mut db = self.open(&dev, &phase)?;
                let v = db
                    .get_vec(b"after-format")
                    .map_err(|e| (phase.clone(), format!("get failed: {e}")))?;
                if v.as_deref() != Some(&b"1"[..]) {
                    return Err((phase, "a put acknowledged after format was lost".into()));
                }
                self.release(db);
                check_device(&dev).map_err(|e| (phase.clone(), e))?;
            }
        }
        Ok(())
    }

    /// One cut point with one tear seed.
    fn cut_point(&mut self, k: u64, s: u32) -> Result<(), Failure> {
        let seed = derive(&[self.w.seed, self.kind.tag(), k, s as u64]);
        let dev = (self.make)(self.w, seed);
        let mut db = self
            .db_format(&dev)
            .map_err(|e| ("format".to_string(), format!("format failed: {e}")))?;
        if self.opts.io_errors {
            dev.fail_at(k);
        } else {
            dev.cut_at(k);
        }
        let mut oracle = Oracle::new();
        let durable = self.cfg.sync_writes;
        let ran = run_ops(
            &mut db,
            &dev,
            &self.w.ops,
            &mut oracle,
            durable,
            &mut self.report.full,
        )
        .map_err(|e| ("workload before the cut".to_string(), e))?;
        if let Ran::Failed { .. } = ran {
            check_poisoned(&mut db, &dev).map_err(|e| ("after the I/O error".to_string(), e))?;
        }
        self.release(db);
        if dev.cut_pending() {
            return Err((
                "workload".into(),
                format!(
                    "the cut at mutation {k} never fired: the replay made fewer mutations than \
                     the counting run ({}), so the engine is not deterministic",
                    self.report.mutations
                ),
            ));
        }
        check_device(&dev).map_err(|e| ("workload before the cut".to_string(), e))?;
        if !self.opts.io_errors {
            self.recovery_cuts(&dev, &oracle, seed)?;
        }
        self.recover(&dev, &mut oracle, "recovery")
    }

    /// Reboots a crashed device and checks recovery: open, state, check,
    /// writes, another power loss, open and state again.
    fn recover(&mut self, dev: &D, oracle: &mut Oracle, phase: &str) -> Result<(), Failure> {
        let at = |s: &str| {
            let p = format!("{phase}: {s}");
            move |e: String| (p, e)
        };
        if !dev.powered() {
            self.reboot(dev);
        }
        let mut db = self.open(dev, &format!("{phase}: open"))?;
        let pending = oracle.issued().len() > oracle.required();
        let extra = verify_recovered(&mut db, oracle).map_err(at("state after reopening"))?;
        if pending && extra > 0 {
            self.report.inflight_kept += 1;
        } else {
            self.report.inflight_lost += 1;
        }
        check_db(&mut db).map_err(at("check after reopening"))?;
        let durable = self.cfg.sync_writes;
        let after = self.w.after.clone();
        match run_ops(&mut db, dev, &after, oracle, durable, &mut self.report.full)
            .map_err(at("writes after reopening"))?
        {
            Ran::All => {}
            Ran::PowerLost { at: i } | Ran::Failed { at: i } => {
                return Err((
                    format!("{phase}: writes after reopening"),
                    format!("operation {i} failed with no cut armed"),
                ))
            }
        }
        verify_live(&mut db, oracle).map_err(at("state after writing again"))?;
        if !durable {
            db.sync()
                .map_err(|e| (format!("{phase}: sync"), e.to_string()))?;
            oracle.sync_point();
        }
        self.release(db);
        dev.crash();
        self.reboot(dev);
        let mut db = self.open(dev, &format!("{phase}: second open"))?;
        verify_recovered(&mut db, oracle).map_err(at("state after the second reopening"))?;
        check_db(&mut db).map_err(at("check after the second reopening"))?;
        self.release(db);
        check_device(dev).map_err(at("device"))
    }

    /// Cuts the power again during recovery, on copies of the crashed
    /// device: at every mutation `Db::open` makes (up to `open_cuts`), and
    /// at `recovery_cuts` random mutations of the writes after it.
    fn recovery_cuts(&mut self, dev: &D, oracle: &Oracle, seed: u64) -> Result<(), Failure> {
        if self.opts.open_cuts == 0 && self.opts.recovery_cuts == 0 {
            return Ok(());
        }
        // Measure: how many mutations do open and the writes after it make?
        let probe = dev.snapshot(derive(&[seed, 1]));
        probe.reboot();
        let before = probe.counters().mutations;
        let Ok(mut db) = self.db_open(&probe) else {
            // The main recovery reports it.
            return Ok(());
        };
        let in_open = probe.counters().mutations - before;
        let mut o = oracle.clone();
        let mut full = 0;
        let after = self.w.after.clone();
        if run_ops(&mut db, &probe, &after, &mut o, true, &mut full).is_err() {
            return Ok(());
        }
        let total = probe.counters().mutations - before;
        self.release(db);

        let mut points: Vec<u64> = (0..in_open.min(self.opts.open_cuts as u64)).collect();
        let mut rng = rng_from(derive(&[seed, 2]));
        if total > in_open {
            for _ in 0..self.opts.recovery_cuts {
                points.push(rng.random_range(in_open..total));
            }
        }
        points.sort_unstable();
        points.dedup();
        for j in points {
            let phase = if j < in_open {
                format!("cut {j} inside open")
            } else {
                format!("cut {j} in the writes after open")
            };
            let d2 = dev.snapshot(derive(&[seed, 3, j]));
            self.reboot(&d2);
            d2.cut_at(j);
            let mut o2 = oracle.clone();
            self.report.recovery_cut_points += 1;
            match self.db_open(&d2) {
                Ok(mut db) => {
                    self.report.opens += 1;
                    if d2.powered() {
                        verify_recovered(&mut db, &mut o2)
                            .map_err(|e| (format!("{phase}: state after open"), e))?;
                        run_ops(
                            &mut db,
                            &d2,
                            &after,
                            &mut o2,
                            self.cfg.sync_writes,
                            &mut self.report.full,
                        )
                        .map_err(|e| (format!("{phase}: writes"), e))?;
                    }
                    self.release(db);
                }
                Err(_) if !d2.powered() => {}
                Err(e) => {
                    return Err((
                        format!("{phase}: open"),
                        format!("open failed with the power on: {e}"),
                    ))
                }
            }
            if d2.cut_pending() {
                d2.disarm();
            }
            d2.crash();
            self.recover(&d2, &mut o2, &format!("{phase}: recovery"))?;
        }
        Ok(())
    }
}

/// Sweeps each `(workload, device)` pair, on up to `jobs` threads; reports
/// come back in the order of `pairs`. `progress` is called with each report
/// as it completes.
pub fn sweep_many(
    pairs: &[(Workload, DeviceKind)],
    opts: &SweepOptions,
    jobs: usize,
    progress: &(dyn Fn(&SweepReport) + Sync),
) -> Vec<SweepReport> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(vec![None; pairs.len()]);
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((w, kind)) = pairs.get(i) else { break };
                let r = sweep(w, *kind, opts);
                progress(&r);
                results.lock().unwrap()[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every pair swept"))
        .collect()
}
