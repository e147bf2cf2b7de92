//! Long seeded random simulations: random store shapes, random operations,
//! random power cuts (inside operations, between them, and during
//! recovery), many reboots in one run.
//!
//! Everything is drawn from one `u64` seed: the device kind and shape, the
//! configuration, the operations, where the power is cut and what the cuts
//! leave behind. A run that finds a violation stops and reports its seed;
//! `cairn-sim simulate --seed S --steps N` replays it exactly.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use cairn_core::{Allocation, Config, Db, Error, Geometry, Memory};
use rand::RngExt;

use crate::oracle::{show_key, Op, Oracle};
use crate::rng::{derive, rng_from, SimRng};
use crate::sweep::{
    check_db, check_device, check_poisoned, panic_message, run_op, verify_live, verify_recovered,
    DeviceKind,
};
use crate::workload::Gen;
use crate::{EraseFill, FileSim, NorSim, SimDevice, SimError};

/// The outcome of one simulation.
#[derive(Clone, Debug, Default)]
pub struct SimReport {
    /// The seed.
    pub seed: u64,
    /// Steps asked for.
    pub steps: u64,
    /// Device kind drawn.
    pub device: &'static str,
    /// A description of the device shape and configuration drawn.
    pub setup: String,
    /// Steps completed.
    pub steps_done: u64,
    /// Operations acknowledged.
    pub acked: u64,
    /// Operations refused with `Full`.
    pub full: u64,
    /// Armed cuts that fired inside an operation.
    pub cuts: u64,
    /// Power losses between operations.
    pub crashes: u64,
    /// Cuts that fired during recovery (inside `Db::open`).
    pub recovery_cuts: u64,
    /// Injected I/O errors that failed an operation.
    pub io_errors: u64,
    /// Device reboots.
    pub reboots: u64,
    /// Successful `Db::open` calls.
    pub opens: u64,
    /// The store ran in fixed memory (`Db::open_in`), not on the heap.
    pub fixed_memory: bool,
    /// The violation that stopped the run, if any.
    pub violation: Option<String>,
    /// Wall time.
    pub elapsed: Duration,
}

impl SimReport {
    /// The command that replays this run.
    pub fn replay(&self) -> String {
        format!(
            "cargo run -p cairn-sim --release -- simulate --seed {} --steps {}",
            self.seed, self.steps
        )
    }
}

impl fmt::Display for SimReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {:<6} {:<4} steps {:>6}  acked {:>6}  cuts {:>4}  crashes {:>4}  \
             recovery cuts {:>4}  I/O errors {:>3}  reboots {:>5}  {}  {:.1}s",
            self.seed,
            self.device,
            self.steps_done,
            self.acked,
            self.cuts,
            self.crashes,
            self.recovery_cuts,
            self.io_errors,
            self.reboots,
            if self.violation.is_some() {
                "VIOLATION"
            } else {
                "ok"
            },
            self.elapsed.as_secs_f64()
        )?;
        if let Some(v) = &self.violation {
            write!(
                f,
                "\n  setup: {}\n  {}\n  replay: {}",
                self.setup,
                v.replace('\n', "\n  "),
                self.replay()
            )?;
        }
        Ok(())
    }
}

/// Runs the simulation of `seed` for `steps` steps, on the device kind the
/// seed draws (or on `device` if given).
pub fn simulate(seed: u64, steps: u64, device: Option<DeviceKind>) -> SimReport {
    let mut rng = rng_from(derive(&[seed, 0x51]));
    let kind = device.unwrap_or(if rng.random_bool(0.5) {
        DeviceKind::Nor
    } else {
        DeviceKind::File
    });
    let start = Instant::now();
    let mut report = match kind {
        DeviceKind::Nor => {
            let g = nor_geometry(&mut rng);
            let dev = NorSim::with_geometry(g, derive(&[seed, 0xD0]));
            run(seed, steps, rng, dev)
        }
        DeviceKind::File => {
            let bs = if rng.random_bool(0.5) { 4096 } else { 8192 };
            let count = rng.random_range(24..=64);
            let fill =
                [EraseFill::Zeros, EraseFill::Random, EraseFill::Ones][rng.random_range(0..3)];
            let dev = FileSim::new(bs, count, derive(&[seed, 0xD0])).with_erase_fill(fill);
            run(seed, steps, rng, dev)
        }
    };
    report.elapsed = start.elapsed();
    report
}

fn nor_geometry(rng: &mut SimRng) -> Geometry {
    let unit = |rng: &mut SimRng| [1u32, 2, 4, 8, 16, 32][rng.random_range(0..6)];
    Geometry {
        block_size: if rng.random_bool(0.5) { 4096 } else { 8192 },
        block_count: rng.random_range(24..=64),
        read_size: unit(rng),
        program_size: unit(rng),
    }
}

fn config(rng: &mut SimRng, g: &Geometry) -> Config {
    Config {
        memtable_bytes: [1024, 2048, 4096, 8192][rng.random_range(0..4)],
        data_block_bytes: [512, 1024, 2048][rng.random_range(0..3)].min(g.block_size / 4),
        max_key_len: 64,
        l0_compaction_trigger: rng.random_range(2..=4),
        level_size_multiplier: rng.random_range(2..=4),
        bloom_bits_per_key: [1, 4, 10, 16][rng.random_range(0..4)],
        sync_writes: rng.random_bool(0.85),
        allocation: if rng.random_bool(0.5) {
            Allocation::RoundRobin
        } else {
            Allocation::LowestFree
        },
        ..Config::default()
    }
}

/// Whether `op` is a batch that the store may refuse as too large for its
/// memtable: `Db::write` promises room for the keys and values plus 64
/// bytes per operation.
fn batch_may_be_too_large(op: &Op, cfg: &Config) -> bool {
    match op {
        Op::Batch(entries) => {
            let bytes: usize = entries
                .iter()
                .map(|(k, v)| k.len() + v.as_ref().map_or(0, |v| v.len()) + 64)
                .sum();
            bytes > cfg.memtable_bytes
        }
        _ => false,
    }
}

/// The space figures of a store, for reports about `Full`.
pub fn show_stats(s: &cairn_core::Stats) -> String {
    format!(
        "blocks in use {}, free {}, of {} x {} B; wal blocks {}; tables per level {:?}; \
         memtable {} B; flushes {}, compactions {}",
        s.blocks_in_use,
        s.blocks_free,
        s.block_count,
        s.block_size,
        s.wal_blocks,
        s.tables_per_level,
        s.memtable_bytes,
        s.flushes,
        s.compactions
    )
}

struct Sim<D: SimDevice> {
    rng: SimRng,
    dev: D,
    cfg: Config,
    oracle: Oracle,
    report: SimReport,
    /// Keys drawn from `0..space`, values up to `max_value` bytes.
    space: u32,
    max_value: usize,
    gen: Gen,
    /// The memory of a store that runs without a heap, between opens.
    memory: Option<Memory>,
}

fn run<D: SimDevice>(seed: u64, steps: u64, mut rng: SimRng, dev: D) -> SimReport {
    let g = dev.geometry();
    let cfg = config(&mut rng, &g);
    let space = rng.random_range(8..=200);
    let max_value = [64usize, 512, 2000][rng.random_range(0..3)];
    // Half the runs keep the store in memory sized by `memory_needed`,
    // handed back at every close and in at every open.
    let memory = rng.random_bool(0.5).then(|| {
        let need = cfg.memory_needed(&g);
        Memory::new(Box::leak(vec![0u8; need].into_boxed_slice()))
    });
    let setup = format!(
        "{} device {}x{} bytes (read {}, program {}); memtable {} B, data blocks {} B, \
         L0 trigger {}, multiplier {}, bloom {}, sync_writes {}, {:?}; {} keys, values up \
         to {} B; {}",
        dev.kind(),
        g.block_count,
        g.block_size,
        g.read_size,
        g.program_size,
        cfg.memtable_bytes,
        cfg.data_block_bytes,
        cfg.l0_compaction_trigger,
        cfg.level_size_multiplier,
        cfg.bloom_bits_per_key,
        cfg.sync_writes,
        cfg.allocation,
        space,
        max_value,
        match &memory {
            Some(m) => format!("fixed memory of {} B", m.len()),
            None => "on the heap".to_string(),
        }
    );
    let mut sim = Sim {
        gen: Gen::new(derive(&[seed, 0x6E])),
        rng,
        report: SimReport {
            seed,
            steps,
            device: dev.kind(),
            setup,
            fixed_memory: memory.is_some(),
            ..SimReport::default()
        },
        memory,
        dev,
        cfg,
        oracle: Oracle::new(),
        space,
        max_value,
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| sim.steps(steps)))
        .unwrap_or_else(|p| Err(format!("panic: {}", panic_message(&*p))));
    if let Err(e) = outcome {
        sim.report.violation = Some(format!("at step {}: {e}", sim.report.steps_done));
    }
    sim.report
}

impl<D: SimDevice> Sim<D> {
    fn steps(&mut self, steps: u64) -> Result<(), String> {
        let mut db = match &mut self.memory {
            Some(m) => Db::format_in(self.dev.clone(), self.cfg.clone(), m),
            None => Db::format(self.dev.clone(), self.cfg.clone()),
        }
        .map_err(|e| format!("format failed: {e}"))?;
        while self.report.steps_done < steps {
            self.report.steps_done += 1;
            if !self.dev.cut_pending() && self.rng.random_bool(0.06) {
                let k = self.rng.random_range(0..40);
                if self.rng.random_bool(0.2) {
                    self.dev.fail_at(k);
                } else {
                    self.dev.cut_at(k);
                }
            }
            let roll = self.rng.random_range(0..1000u32);
            if roll < 10 {
                // Power lost between operations.
                self.report.crashes += 1;
                self.release(db);
                self.dev.crash();
                db = self.recover()?;
            } else if roll < 20 {
                // A clean close and reopen: nothing may be lost (unless an
                // armed cut fires inside open, which makes it a crash).
                let io_errors = self.dev.counters().io_errors;
                self.release(db);
                if self.dev.counters().io_errors > io_errors || !self.dev.powered() {
                    // Closing hands buffered log records to the device; an
                    // I/O error or a cut there loses what was never synced,
                    // as a crash would.
                    self.report.io_errors += 1;
                    self.dev.crash();
                    db = self.recover()?;
                    continue;
                }
                match self.open() {
                    Ok(mut reopened) if self.dev.powered() => {
                        self.report.opens += 1;
                        verify_live(&mut reopened, &self.oracle)
                            .map_err(|e| format!("after a clean reopen: {e}"))?;
                        db = reopened;
                    }
                    Ok(unnoticed) => {
                        self.release(unnoticed);
                        self.report.recovery_cuts += 1;
                        db = self.recover()?;
                    }
                    Err(_) if !self.dev.powered() => {
                        self.report.recovery_cuts += 1;
                        db = self.recover()?;
                    }
                    Err(e) => return Err(format!("reopening after a clean close failed: {e}")),
                }
            } else if roll < 50 {
                verify_live(&mut db, &self.oracle)?;
            } else if roll < 55 {
                check_db(&mut db)?;
            } else if roll < 150 {
                let k = self.gen.key(self.space);
                let want = self.oracle.expected().get(&k).cloned();
                match db.get_vec(&k) {
                    Ok(v) if v == want => {}
                    Ok(v) => {
                        return Err(format!(
                            "get {} returned {:?} bytes, want {:?}",
                            show_key(&k),
                            v.map(|v| v.len()),
                            want.map(|v| v.len())
                        ))
                    }
                    Err(e) if !self.dev.powered() => {
                        return Err(format!("a get lost the power: {e}"))
                    }
                    Err(e) => return Err(format!("get {} failed: {e}", show_key(&k))),
                }
            } else {
                // Values the store accepts: its limit depends on the
                // memtable and block sizes drawn.
                let op = self
                    .gen
                    .op(self.space, self.max_value.min(db.max_value_len()));
                let id = self.oracle.issue(&op);
                let io_errors = self.dev.counters().io_errors;
                match run_op(&mut db, &op) {
                    Ok(()) => {
                        self.report.acked += 1;
                        self.oracle.ack(id, self.cfg.sync_writes || !op.is_write());
                        if op == Op::Sync {
                            self.oracle.sync_point();
                        }
                    }
                    Err(Error::TooLarge) if batch_may_be_too_large(&op, &self.cfg) => {
                        // Refused whole: larger than an empty memtable.
                        self.oracle.reject(id);
                    }
                    Err(Error::Full) => {
                        self.report.full += 1;
                        self.oracle.reject(id);
                        // Make room: delete a few keys.
                        let mut interrupted = false;
                        for _ in 0..4 {
                            let k = self.gen.key(self.space);
                            let op = Op::Delete(k);
                            let id = self.oracle.issue(&op);
                            let io_errors = self.dev.counters().io_errors;
                            match run_op(&mut db, &op) {
                                Ok(()) => self.oracle.ack(id, self.cfg.sync_writes),
                                Err(_) if !self.dev.powered() => {
                                    self.report.cuts += 1;
                                    interrupted = true;
                                    break;
                                }
                                Err(Error::Device(SimError::Io) | Error::Poisoned)
                                    if self.dev.counters().io_errors > io_errors =>
                                {
                                    self.report.io_errors += 1;
                                    check_poisoned(&mut db, &self.dev)?;
                                    interrupted = true;
                                    break;
                                }
                                Err(e) => {
                                    return Err(format!(
                                        "a delete on a full store failed: {e}\n{}",
                                        show_stats(&db.stats())
                                    ))
                                }
                            }
                        }
                        if interrupted {
                            self.release(db);
                            db = self.recover()?;
                        }
                    }
                    Err(_) if !self.dev.powered() => {
                        self.report.cuts += 1;
                        self.release(db);
                        db = self.recover()?;
                    }
                    Err(Error::Device(SimError::Io) | Error::Poisoned)
                        if self.dev.counters().io_errors > io_errors =>
                    {
                        // An I/O error with the power on: the store may
                        // refuse further writes; reopen it.
                        self.report.io_errors += 1;
                        check_poisoned(&mut db, &self.dev)?;
                        self.release(db);
                        db = self.recover()?;
                    }
                    Err(e) => {
                        return Err(format!("{} failed with the power on: {e}", op.describe()))
                    }
                }
            }
            check_device(&self.dev)?;
        }
        self.release(db);
        self.dev.disarm();
        self.dev.crash();
        let mut db = self.recover()?;
        check_db(&mut db)
    }

    /// Opens the store, in its fixed memory if it has one.
    fn open(&mut self) -> Result<Db<D>, Error<SimError>> {
        match &mut self.memory {
            Some(m) => Db::open_in(self.dev.clone(), self.cfg.clone(), m),
            None => Db::open(self.dev.clone(), self.cfg.clone()),
        }
    }

    /// Closes the store as dropping it would (buffered log records are
    /// handed to the device), keeping its fixed memory for the next open.
    fn release(&mut self, db: Db<D>) {
        match &mut self.memory {
            Some(m) => {
                db.close(m);
            }
            None => drop(db),
        }
    }

    /// After a power loss: reboot and open until an open survives (the
    /// power may be cut again inside open), then check the state.
    fn recover(&mut self) -> Result<Db<D>, String> {
        for _ in 0..16 {
            if !self.dev.powered() {
                self.dev.reboot();
                self.report.reboots += 1;
            }
            if !self.dev.cut_pending() && self.rng.random_bool(0.2) {
                let k = self.rng.random_range(0..6);
                self.dev.cut_at(k);
            }
            match self.open() {
                Ok(mut db) if self.dev.powered() => {
                    self.report.opens += 1;
                    verify_recovered(&mut db, &mut self.oracle)
                        .map_err(|e| format!("after recovery: {e}"))?;
                    if self.rng.random_bool(0.3) {
                        check_db(&mut db).map_err(|e| format!("after recovery: {e}"))?;
                    }
                    return Ok(db);
                }
                Ok(unnoticed) => {
                    // The power went during open, which did not notice.
                    self.release(unnoticed);
                    self.report.recovery_cuts += 1;
                }
                Err(_) if !self.dev.powered() => {
                    self.report.recovery_cuts += 1;
                }
                Err(e) => return Err(format!("open after a power loss or I/O error failed: {e}")),
            }
        }
        // Sixteen cuts in a row: open without one.
        self.dev.disarm();
        self.dev.reboot();
        self.report.reboots += 1;
        let mut db = self
            .open()
            .map_err(|e| format!("open after a power loss or I/O error failed: {e}"))?;
        self.report.opens += 1;
        verify_recovered(&mut db, &mut self.oracle).map_err(|e| format!("after recovery: {e}"))?;
        Ok(db)
    }
}
