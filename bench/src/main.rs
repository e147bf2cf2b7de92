//! cairn-bench: cairn against the key-value stores people use today, on a
//! file system (fjall, redb, sled; RocksDB with `--features rocksdb`) and on
//! NOR flash (sequential-storage, ekv, tickv).
//!
//! ```text
//! cargo run -p cairn-bench --release -- host  [--num N] [--engines ..] [--workloads ..]
//! cargo run -p cairn-bench --release -- flash [--keys ..] [--engines ..] [--workloads ..]
//! cargo run -p cairn-bench --release -- all   [--num N]   # writes docs/benchmarks.md
//! ```
//!
//! Nothing here asserts on speed: the figures are written down, never
//! checked against a threshold.
#![forbid(unsafe_code)]

mod charts;
mod flash;
mod host;
mod nor;
mod report;
mod rng;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Parser)]
#[command(about = "Benchmarks of cairn against other key-value stores")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(clap::Args, Clone)]
struct HostArgs {
    /// Entries (db_bench's --num); fillsync writes num/100.
    #[arg(long, default_value_t = 1_000_000)]
    num: u64,
    /// Engines to measure, comma-separated (cairn,fjall,redb,sled[,rocksdb]).
    #[arg(long, value_delimiter = ',')]
    engines: Option<Vec<String>>,
    /// Workloads, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    workloads: Option<Vec<String>>,
    /// Directory in which the stores' temporary directories are made.
    #[arg(long)]
    dir: Option<PathBuf>,
}

#[derive(clap::Args, Clone)]
struct FlashArgs {
    /// Key counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = flash::KEY_COUNTS)]
    keys: Vec<usize>,
    /// Stores to measure, comma-separated (cairn,sequential-storage,ekv,tickv).
    #[arg(long = "flash-engines", value_delimiter = ',')]
    flash_engines: Option<Vec<String>>,
    /// Flash workloads, comma-separated (config,log,mix).
    #[arg(long = "flash-workloads", value_delimiter = ',')]
    flash_workloads: Option<Vec<String>>,
}

#[derive(Subcommand)]
enum Cmd {
    /// db_bench workloads on a file system; prints the tables.
    Host(HostArgs),
    /// Key-value stores on a NOR flash model; prints the tables.
    Flash(FlashArgs),
    /// Both halves; writes docs/benchmarks.md and its charts.
    All {
        #[command(flatten)]
        host: HostArgs,
        #[command(flatten)]
        flash: FlashArgs,
        /// Where benchmarks.md and the charts go.
        #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs"))]
        docs: PathBuf,
    },
    /// Runs one phase of one host workload (used by `host` and `all`).
    #[command(hide = true)]
    Child {
        #[arg(long)]
        engine: String,
        #[arg(long)]
        phase: String,
        #[arg(long)]
        num: u64,
        #[arg(long)]
        dir: PathBuf,
    },
}

fn host_plan(args: &HostArgs) -> Result<host::HostPlan, String> {
    let available = host::engines::available();
    let engines = match &args.engines {
        Some(list) => {
            for e in list {
                if !available.contains(&e.as_str()) {
                    return Err(format!(
                        "unknown or not built engine {e:?} (available: {})",
                        available.join(",")
                    ));
                }
            }
            list.clone()
        }
        None => available.iter().map(|s| s.to_string()).collect(),
    };
    let workloads = match &args.workloads {
        Some(list) => list
            .iter()
            .map(|w| host::Workload::parse(w).ok_or(format!("unknown workload {w:?}")))
            .collect::<Result<Vec<_>, _>>()?,
        None => host::Workload::ALL.to_vec(),
    };
    if args.num < 100 {
        return Err("--num must be at least 100".into());
    }
    Ok(host::HostPlan {
        num: args.num,
        engines,
        workloads,
        base_dir: args.dir.clone().unwrap_or_else(std::env::temp_dir),
    })
}

struct FlashPlan {
    engines: Vec<String>,
    workloads: Vec<flash::FlashWorkload>,
    keys: Vec<usize>,
}

fn flash_plan(args: &FlashArgs) -> Result<FlashPlan, String> {
    let engines = match &args.flash_engines {
        Some(list) => {
            for e in list {
                if !flash::ENGINES.contains(&e.as_str()) {
                    return Err(format!("unknown flash store {e:?}"));
                }
            }
            list.clone()
        }
        None => flash::ENGINES.iter().map(|s| s.to_string()).collect(),
    };
    let workloads = match &args.flash_workloads {
        Some(list) => list
            .iter()
            .map(|w| flash::FlashWorkload::parse(w).ok_or(format!("unknown flash workload {w:?}")))
            .collect::<Result<Vec<_>, _>>()?,
        None => flash::FlashWorkload::ALL.to_vec(),
    };
    if args.keys.contains(&0) {
        return Err("key counts must be positive".into());
    }
    Ok(FlashPlan {
        engines,
        workloads,
        keys: args.keys.clone(),
    })
}

impl FlashPlan {
    fn steps(&self) -> u64 {
        (self.engines.len() * self.workloads.len() * self.keys.len()) as u64
    }

    fn run(&self, bar: &ProgressBar) -> Vec<flash::FlashResult> {
        let mut results = Vec::new();
        for &workload in &self.workloads {
            for &keys in &self.keys {
                for engine in &self.engines {
                    bar.set_message(format!("flash: {engine} {} {keys} keys", workload.name()));
                    results.push(flash::run_one(engine, workload, keys));
                    bar.inc(1);
                }
            }
        }
        results
    }
}

fn progress(steps: u64) -> ProgressBar {
    let bar = ProgressBar::new(steps);
    bar.set_style(
        ProgressStyle::with_template("[{elapsed_precise}] {bar:40} {pos}/{len} {wide_msg}")
            .expect("valid template"),
    );
    bar
}

fn run_host(plan: &host::HostPlan, bar: &ProgressBar) -> host::HostRun {
    let mut ticks = 0u64;
    let results = host::run(plan, |label| {
        if ticks > 0 {
            bar.inc(1);
        }
        ticks += 1;
        bar.set_message(label.to_string());
    });
    if ticks > 0 {
        bar.inc(1);
    }
    results
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Child {
            engine,
            phase,
            num,
            dir,
        } => host::child_main(&engine, &phase, num, &dir).map_err(|e| e.to_string()),
        Cmd::Host(args) => host_plan(&args).map(|plan| {
            let bar = progress(plan.steps());
            let run = run_host(&plan, &bar);
            bar.finish_and_clear();
            println!("{}", report::host_tables(&plan, &run));
        }),
        Cmd::Flash(args) => flash_plan(&args).map(|plan| {
            let bar = progress(plan.steps());
            let results = plan.run(&bar);
            bar.finish_and_clear();
            println!("{}", report::flash_tables(&results, &plan.keys));
        }),
        Cmd::All { host, flash, docs } => host_plan(&host)
            .and_then(|h| flash_plan(&flash).map(|f| (h, f)))
            .and_then(|(hplan, fplan)| {
                let started = std::time::Instant::now();
                let load_at_start = report::load_average();
                let bar = progress(hplan.steps() + fplan.steps());
                let host_results = run_host(&hplan, &bar);
                let flash_results = fplan.run(&bar);
                bar.finish_and_clear();
                let doc = report::Document {
                    host_plan: &hplan,
                    host: &host_results,
                    flash: &flash_results,
                    flash_keys: &fplan.keys,
                    load_at_start,
                    elapsed: started.elapsed(),
                };
                doc.write(&docs)
                    .map_err(|e| format!("writing {}: {e}", docs.display()))
            }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
