//! `cairn-sim`: cut the power at every write of cairn's workloads, and run
//! long seeded simulations. Exits non-zero if any violation is found.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use cairn_sim::simulate::{simulate, SimReport};
use cairn_sim::sweep::{quiet_panics, sweep_many, DeviceKind, SweepOptions, SweepReport};
use cairn_sim::workload::{Workload, NAMES};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "cairn-sim", about = "Power-loss simulator for cairn", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Devices {
    Nor,
    File,
    Both,
}

#[derive(Subcommand)]
enum Command {
    /// Cut the power at every mutating device operation of workloads, and
    /// check every recovery.
    Sweep {
        /// Device kind to sweep.
        #[arg(long, value_enum, default_value = "both")]
        device: Devices,
        /// Workload name, or "all".
        #[arg(long, default_value = "all")]
        workload: String,
        /// Tear seeds per cut point on the file device (what is kept,
        /// dropped or torn).
        #[arg(long, default_value_t = 3)]
        seeds: u32,
        /// Tear seeds per cut point on the NOR device (what a torn program
        /// or erase leaves).
        #[arg(long, default_value_t = 1)]
        nor_seeds: u32,
        /// Cut points tried inside `Db::open` per crash.
        #[arg(long, default_value_t = 4)]
        open_cuts: u32,
        /// Random cut points in the writes after reopening, per crash.
        #[arg(long, default_value_t = 1)]
        recovery_cuts: u32,
        /// Test only this cut point (to replay a violation).
        #[arg(long)]
        k: Option<u64>,
        /// Test only this tear seed (to replay a violation).
        #[arg(long)]
        seed: Option<u32>,
        /// Seed the workloads' operations are generated from.
        #[arg(long, default_value_t = 0)]
        workload_seed: u64,
        /// Sweep each workload generated from this many seeds, starting at
        /// `--workload-seed`: different operations, different cut points.
        #[arg(long, default_value_t = 1)]
        workload_seeds: u64,
        /// Threads.
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Stop a workload after this many violations.
        #[arg(long, default_value_t = 5)]
        max_violations: usize,
        /// Only the counting run and the cuts inside `Db::format`.
        #[arg(long)]
        format_only: bool,
        /// Inject an I/O error at each cut point instead of a power cut
        /// (the power stays on; on a file the cache is lost).
        #[arg(long)]
        io_errors: bool,
        /// Run every store in fixed memory (`Db::open_in`), closed and
        /// reopened in the same memory.
        #[arg(long)]
        fixed_memory: bool,
        /// Print only violations and totals.
        #[arg(long)]
        quiet: bool,
    },
    /// Long seeded random simulations with many crashes and reboots.
    Simulate {
        /// Seed of a single run.
        #[arg(long, conflicts_with = "seeds")]
        seed: Option<u64>,
        /// A range of seeds, `A..B` (B excluded).
        #[arg(long)]
        seeds: Option<String>,
        /// Steps (operations, checks, crashes) per run.
        #[arg(long, default_value_t = 2000)]
        steps: u64,
        /// Force the device kind (otherwise drawn from the seed).
        #[arg(long, value_enum)]
        device: Option<Devices>,
        /// Threads.
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Print only failed runs and totals.
        #[arg(long)]
        quiet: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    quiet_panics();
    match cli.command {
        Command::Sweep {
            device,
            workload,
            seeds,
            nor_seeds,
            open_cuts,
            recovery_cuts,
            k,
            seed,
            workload_seed,
            workload_seeds,
            jobs,
            max_violations,
            format_only,
            io_errors,
            fixed_memory,
            quiet,
        } => {
            let names: Vec<&str> = if workload == "all" {
                NAMES.to_vec()
            } else {
                vec![workload.as_str()]
            };
            let kinds: Vec<DeviceKind> = match device {
                Devices::Nor => vec![DeviceKind::Nor],
                Devices::File => vec![DeviceKind::File],
                Devices::Both => vec![DeviceKind::Nor, DeviceKind::File],
            };
            let mut pairs = Vec::new();
            for ws in workload_seed..workload_seed + workload_seeds.max(1) {
                for name in &names {
                    let Some(w) = Workload::named(name, ws) else {
                        eprintln!("unknown workload {name:?}; known: {}", NAMES.join(", "));
                        return ExitCode::from(2);
                    };
                    for kind in &kinds {
                        pairs.push((w.clone(), *kind));
                    }
                }
            }
            let base = SweepOptions {
                seeds: 1,
                open_cuts,
                recovery_cuts,
                only_k: k,
                only_seed: seed,
                max_violations,
                format_only,
                io_errors,
                fixed_memory,
            };
            run_sweeps(&pairs, &base, seeds, nor_seeds, jobs, quiet)
        }
        Command::Simulate {
            seed,
            seeds,
            steps,
            device,
            jobs,
            quiet,
        } => {
            let range = match (seed, seeds) {
                (Some(s), _) => s..s + 1,
                (None, Some(r)) => match parse_range(&r) {
                    Some(r) => r,
                    None => {
                        eprintln!("--seeds takes A..B, got {r:?}");
                        return ExitCode::from(2);
                    }
                },
                (None, None) => 0..1,
            };
            let device = match device {
                Some(Devices::Nor) => Some(DeviceKind::Nor),
                Some(Devices::File) => Some(DeviceKind::File),
                _ => None,
            };
            run_simulations(range, steps, device, jobs, quiet)
        }
    }
}

fn parse_range(s: &str) -> Option<std::ops::Range<u64>> {
    let (a, b) = s.split_once("..")?;
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a < b).then_some(a..b)
}

fn run_sweeps(
    pairs: &[(Workload, DeviceKind)],
    base: &SweepOptions,
    file_seeds: u32,
    nor_seeds: u32,
    jobs: usize,
    quiet: bool,
) -> ExitCode {
    let start = Instant::now();
    let print = Mutex::new(());
    let progress = |r: &SweepReport| {
        let _g = print.lock().unwrap();
        if !quiet || !r.violations.is_empty() {
            println!("{r}");
        }
        for v in &r.violations {
            println!("{v}");
        }
    };
    // The options differ per device only in the number of tear seeds.
    let nor_opts = SweepOptions {
        seeds: nor_seeds,
        ..base.clone()
    };
    let file_opts = SweepOptions {
        seeds: file_seeds,
        ..base.clone()
    };
    let nor: Vec<_> = pairs
        .iter()
        .filter(|(_, k)| *k == DeviceKind::Nor)
        .cloned()
        .collect();
    let file: Vec<_> = pairs
        .iter()
        .filter(|(_, k)| *k == DeviceKind::File)
        .cloned()
        .collect();
    let mut reports = sweep_many(&nor, &nor_opts, jobs, &progress);
    reports.extend(sweep_many(&file, &file_opts, jobs, &progress));
    let sum = |f: fn(&SweepReport) -> u64| reports.iter().map(f).sum::<u64>();
    let violations = sum(|r| r.violations.len() as u64);
    println!(
        "sweep: {} workload/device pairs, {} cut points, {} recovery cut points, {} reboots, \
         {} opens, {} violations, {:.1}s",
        reports.len(),
        sum(|r| r.cut_points),
        sum(|r| r.recovery_cut_points),
        sum(|r| r.reboots),
        sum(|r| r.opens),
        violations,
        start.elapsed().as_secs_f64()
    );
    for kind in ["nor", "file"] {
        let of = |f: fn(&SweepReport) -> u64| {
            reports
                .iter()
                .filter(|r| r.device == kind)
                .map(f)
                .sum::<u64>()
        };
        if reports.iter().any(|r| r.device == kind) {
            println!(
                "  {kind}: {} cut points, {} recovery cut points, {} reboots",
                of(|r| r.cut_points),
                of(|r| r.recovery_cut_points),
                of(|r| r.reboots)
            );
        }
    }
    if violations > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn run_simulations(
    range: std::ops::Range<u64>,
    steps: u64,
    device: Option<DeviceKind>,
    jobs: usize,
    quiet: bool,
) -> ExitCode {
    let start = Instant::now();
    let seeds: Vec<u64> = range.collect();
    let next = AtomicUsize::new(0);
    let reports: Mutex<Vec<SimReport>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&seed) = seeds.get(i) else { break };
                let r = simulate(seed, steps, device);
                let mut all = reports.lock().unwrap();
                if !quiet || r.violation.is_some() {
                    println!("{r}");
                }
                all.push(r);
            });
        }
    });
    let reports = reports.into_inner().unwrap();
    let sum = |f: fn(&SimReport) -> u64| reports.iter().map(f).sum::<u64>();
    let failed: Vec<&SimReport> = reports.iter().filter(|r| r.violation.is_some()).collect();
    println!(
        "simulate: {} runs ({} in fixed memory), {} steps, {} acked operations, {} cuts \
         inside operations, {} crashes between operations, {} cuts during recovery, {} I/O \
         errors, {} reboots, {} violations, {:.1}s",
        reports.len(),
        reports.iter().filter(|r| r.fixed_memory).count(),
        sum(|r| r.steps_done),
        sum(|r| r.acked),
        sum(|r| r.cuts),
        sum(|r| r.crashes),
        sum(|r| r.recovery_cuts),
        sum(|r| r.io_errors),
        sum(|r| r.reboots),
        failed.len(),
        start.elapsed().as_secs_f64()
    );
    for r in &failed {
        println!("failed seed {}: {}", r.seed, r.replay());
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
