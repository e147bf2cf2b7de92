//! The host half: db_bench's workloads on cairn-std and its peers, each
//! engine in a fresh directory, each workload in a child process of its own
//! so that its peak memory is its own.

pub mod engines;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::rng::{seed_for, Rng};
use engines::{Durability, Engine, Result};

/// db_bench's key and value sizes.
pub const KEY_LEN: usize = 16;
pub const VALUE_LEN: usize = 100;
/// Entries a seek reads.
pub const SEEK_ENTRIES: usize = 10;
/// fillsync writes `num / FILLSYNC_DIVISOR` entries (at least 100).
pub const FILLSYNC_DIVISOR: u64 = 100;

/// One db_bench workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    FillSeq,
    FillRandom,
    Overwrite,
    ReadRandom,
    ReadMissing,
    ReadSeq,
    SeekRandom,
    DeleteRandom,
    FillSync1,
    FillSync4,
}

impl Workload {
    /// In the order they run: the read workloads and then overwrite and
    /// deleterandom share one prepared store per engine.
    pub const ALL: [Workload; 10] = [
        Workload::FillSeq,
        Workload::FillRandom,
        Workload::ReadRandom,
        Workload::ReadMissing,
        Workload::ReadSeq,
        Workload::SeekRandom,
        Workload::Overwrite,
        Workload::DeleteRandom,
        Workload::FillSync1,
        Workload::FillSync4,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::FillSeq => "fillseq",
            Workload::FillRandom => "fillrandom",
            Workload::Overwrite => "overwrite",
            Workload::ReadRandom => "readrandom",
            Workload::ReadMissing => "readmissing",
            Workload::ReadSeq => "readseq",
            Workload::SeekRandom => "seekrandom",
            Workload::DeleteRandom => "deleterandom",
            Workload::FillSync1 => "fillsync-1t",
            Workload::FillSync4 => "fillsync-4t",
        }
    }

    pub fn parse(s: &str) -> Option<Workload> {
        Workload::ALL
            .into_iter()
            .find(|w| w.name() == s)
            .or(match s {
                "fillsync" => Some(Workload::FillSync1),
                _ => None,
            })
    }

    /// Whether it runs on the store prepared with `num` entries rather than
    /// in a directory of its own.
    pub fn needs_prepared(self) -> bool {
        matches!(
            self,
            Workload::Overwrite
                | Workload::ReadRandom
                | Workload::ReadMissing
                | Workload::ReadSeq
                | Workload::SeekRandom
                | Workload::DeleteRandom
        )
    }

    pub fn durability(self) -> Durability {
        match self {
            Workload::FillSync1 | Workload::FillSync4 => Durability::PerWrite,
            _ => Durability::Buffered,
        }
    }

    pub fn writes(self) -> bool {
        !matches!(
            self,
            Workload::ReadRandom | Workload::ReadMissing | Workload::ReadSeq | Workload::SeekRandom
        )
    }

    /// Operations it performs for a given `--num`.
    pub fn ops(self, num: u64) -> u64 {
        match self {
            Workload::FillSync1 | Workload::FillSync4 => (num / FILLSYNC_DIVISOR).max(100),
            _ => num,
        }
    }

    pub fn threads(self) -> usize {
        match self {
            Workload::FillSync4 => 4,
            _ => 1,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Workload::FillSeq => "num puts in key order into an empty store",
            Workload::FillRandom => "num puts, each key once, in random order, into an empty store",
            Workload::Overwrite => "num puts of random existing keys",
            Workload::ReadRandom => "num gets of random existing keys",
            Workload::ReadMissing => "num gets of random absent keys (between existing ones)",
            Workload::ReadSeq => "one full scan in key order",
            Workload::SeekRandom => "num seeks to a random existing key, each reading 10 entries",
            Workload::DeleteRandom => "num deletes of random keys (existing or already deleted)",
            Workload::FillSync1 => "num/100 puts in random order, each durable, 1 thread",
            Workload::FillSync4 => "num/100 puts in random order, each durable, 4 threads",
        }
    }
}

/// The key of entry `i`: 16 decimal digits of `2 * i`. Odd numbers are the
/// absent keys that readmissing asks for; they sort between present ones.
pub fn key(i: u64, buf: &mut [u8; KEY_LEN]) {
    let mut n = i;
    for b in buf.iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

pub fn present_key(i: u64, buf: &mut [u8; KEY_LEN]) {
    key(2 * i, buf)
}

pub fn absent_key(i: u64, buf: &mut [u8; KEY_LEN]) {
    key(2 * i + 1, buf)
}

/// Values: windows into a pool of pseudo-random bytes in which every 50
/// bytes repeat once, so that values compress to about half (db_bench's
/// default compression ratio).
pub struct Values {
    pool: Vec<u8>,
}

impl Values {
    const POOL: usize = 1 << 20;

    pub fn new() -> Self {
        let mut rng = Rng::new(seed_for("values"));
        let mut pool = vec![0u8; Self::POOL + VALUE_LEN];
        for chunk in pool.chunks_mut(VALUE_LEN) {
            let half = chunk.len() / 2;
            let (a, b) = chunk.split_at_mut(half);
            rng.fill(a);
            let n = b.len().min(a.len());
            b[..n].copy_from_slice(&a[..n]);
        }
        Values { pool }
    }

    pub fn get(&self, j: u64) -> &[u8] {
        let start = (j.wrapping_mul(97) % Self::POOL as u64) as usize;
        &self.pool[start..start + VALUE_LEN]
    }
}

/// What one workload did, measured in the child.
#[derive(Clone, Debug, Default)]
pub struct ChildReport {
    pub ops: u64,
    pub secs: f64,
    /// Peak resident set of the child, KiB.
    pub rss_kib: u64,
    pub write_amp: Option<f64>,
    /// Gets that found their key / entries a scan or seeks returned.
    pub found: u64,
}

impl ChildReport {
    fn emit(&self) -> String {
        format!(
            "RESULT ops={} secs={} rss_kib={} wa={} found={}",
            self.ops,
            self.secs,
            self.rss_kib,
            self.write_amp.map_or("-".to_string(), |w| w.to_string()),
            self.found
        )
    }

    fn parse(line: &str) -> Option<ChildReport> {
        let rest = line.strip_prefix("RESULT ")?;
        let mut r = ChildReport::default();
        for field in rest.split(' ') {
            let (k, v) = field.split_once('=')?;
            match k {
                "ops" => r.ops = v.parse().ok()?,
                "secs" => r.secs = v.parse().ok()?,
                "rss_kib" => r.rss_kib = v.parse().ok()?,
                "wa" => r.write_amp = v.parse().ok(),
                "found" => r.found = v.parse().ok()?,
                _ => {}
            }
        }
        Some(r)
    }
}

/// One row of the host results.
#[derive(Clone, Debug)]
pub struct HostResult {
    pub engine: String,
    pub workload: Workload,
    pub outcome: std::result::Result<Measured, String>,
}

#[derive(Clone, Debug)]
pub struct Measured {
    pub report: ChildReport,
    /// Bytes allocated to the store's files at the end (st_blocks * 512).
    pub disk_allocated: u64,
    /// Sum of the store's file lengths at the end.
    pub disk_apparent: u64,
}

impl Measured {
    pub fn ops_per_sec(&self) -> f64 {
        self.report.ops as f64 / self.report.secs.max(1e-9)
    }
}

/// Peak resident set size of this process, from /proc/self/status.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// (allocated, apparent) bytes of every file under `dir`.
pub fn disk_usage(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let mut total = (0, 0);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return total;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            let (a, b) = disk_usage(&entry.path());
            total.0 += a;
            total.1 += b;
        } else {
            total.0 += meta.blocks() * 512;
            total.1 += meta.len();
        }
    }
    total
}

/// The cost of making one 4 KiB write durable on the stores' file system.
#[derive(Clone, Copy, Debug)]
pub struct SyncProbe {
    /// Mean time of a 4 KiB write past the end of a file plus `fdatasync`,
    /// in microseconds: the file's size and block map change each time.
    pub append_us: f64,
    /// The same into blocks already allocated and synced: only data moves.
    pub overwrite_us: f64,
}

/// Measures [`SyncProbe`] in a temporary file under `base`.
pub fn probe_fdatasync(base: &Path, rounds: u32) -> std::io::Result<SyncProbe> {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::Builder::new()
        .prefix("cairn-bench-probe-")
        .tempdir_in(base)?;
    let file = std::fs::File::create(dir.path().join("probe"))?;
    let block = [0x5au8; 4096];
    let time = |file: &std::fs::File| -> std::io::Result<f64> {
        let start = Instant::now();
        for i in 0..rounds as u64 {
            file.write_all_at(&block, i * block.len() as u64)?;
            file.sync_data()?;
        }
        Ok(start.elapsed().as_secs_f64() * 1e6 / rounds as f64)
    };
    let append_us = time(&file)?;
    file.sync_all()?;
    let overwrite_us = time(&file)?;
    Ok(SyncProbe {
        append_us,
        overwrite_us,
    })
}

/// The prepared store: every one of `num` keys, written once in random order,
/// then made durable. Not timed.
pub fn prepare(engine: &dyn Engine, num: u64, values: &Values) -> Result<()> {
    let order = Rng::new(seed_for("prepare")).permutation(num as usize);
    let mut k = [0u8; KEY_LEN];
    for (j, &i) in order.iter().enumerate() {
        present_key(i, &mut k);
        engine.put(&k, values.get(j as u64))?;
    }
    engine.sync()
}

/// Runs `workload` on an open engine and times it (a final sync included
/// for buffered writes).
pub fn run_workload(engine: &dyn Engine, workload: Workload, num: u64) -> Result<ChildReport> {
    let values = Values::new();
    let ops = workload.ops(num);
    let mut rng = Rng::new(seed_for(workload.name()));
    let mut k = [0u8; KEY_LEN];
    let mut found = 0u64;
    // Key orders are drawn before the clock starts.
    let order: Vec<u64> = match workload {
        Workload::FillSeq | Workload::ReadSeq => Vec::new(),
        Workload::FillRandom | Workload::FillSync1 | Workload::FillSync4 => {
            let mut p = rng.permutation(num as usize);
            p.truncate(ops as usize);
            p
        }
        _ => (0..ops).map(|_| rng.below(num)).collect(),
    };
    let start = Instant::now();
    match workload {
        Workload::FillSeq => {
            for i in 0..ops {
                present_key(i, &mut k);
                engine.put(&k, values.get(i))?;
            }
        }
        Workload::FillRandom | Workload::Overwrite => {
            for (j, &i) in order.iter().enumerate() {
                present_key(i, &mut k);
                engine.put(&k, values.get(j as u64 + num))?;
            }
        }
        Workload::DeleteRandom => {
            for &i in &order {
                present_key(i, &mut k);
                engine.delete(&k)?;
            }
        }
        Workload::ReadRandom | Workload::ReadMissing => {
            let mut reader = engine.reader()?;
            for &i in &order {
                if workload == Workload::ReadRandom {
                    present_key(i, &mut k);
                } else {
                    absent_key(i, &mut k);
                }
                if reader.get(&k)?.is_some() {
                    found += 1;
                }
            }
        }
        Workload::ReadSeq => {
            found = engine.reader()?.scan()? as u64;
        }
        Workload::SeekRandom => {
            let mut reader = engine.reader()?;
            for &i in &order {
                present_key(i, &mut k);
                found += reader.seek(&k, SEEK_ENTRIES)? as u64;
            }
        }
        Workload::FillSync1 | Workload::FillSync4 => {
            let threads = workload.threads();
            let per = order.len().div_ceil(threads);
            std::thread::scope(|s| -> Result<()> {
                let handles: Vec<_> = order
                    .chunks(per)
                    .map(|part| {
                        let values = &values;
                        s.spawn(move || -> Result<()> {
                            let mut k = [0u8; KEY_LEN];
                            for &i in part {
                                present_key(i, &mut k);
                                engine.put(&k, values.get(i))?;
                            }
                            Ok(())
                        })
                    })
                    .collect();
                for h in handles {
                    h.join().map_err(|_| "writer thread panicked")??;
                }
                Ok(())
            })?;
        }
    }
    if workload.writes() && workload.durability() == Durability::Buffered {
        engine.sync()?;
    }
    let secs = start.elapsed().as_secs_f64();
    let ops = if workload == Workload::ReadSeq {
        found
    } else {
        ops
    };
    Ok(ChildReport {
        ops,
        secs,
        rss_kib: 0,
        write_amp: if workload.writes() {
            engine.write_amplification()
        } else {
            None
        },
        found,
    })
}

/// The child's side: open, run one phase, report on stdout.
pub fn child_main(engine: &str, phase: &str, num: u64, dir: &Path) -> Result<()> {
    let report = if phase == "prepare" {
        let e = engines::open(engine, dir, Durability::Buffered)?;
        let start = Instant::now();
        prepare(e.as_ref(), num, &Values::new())?;
        ChildReport {
            ops: num,
            secs: start.elapsed().as_secs_f64(),
            ..ChildReport::default()
        }
    } else {
        let workload = Workload::parse(phase).ok_or("unknown workload")?;
        let e = engines::open(engine, dir, workload.durability())?;
        let report = run_workload(e.as_ref(), workload, num)?;
        drop(e);
        report
    };
    let report = ChildReport {
        rss_kib: peak_rss_kib(),
        ..report
    };
    println!("{}", report.emit());
    Ok(())
}

/// Runs one phase in a child process of this binary.
fn spawn_child(
    engine: &str,
    phase: &str,
    num: u64,
    dir: &Path,
) -> std::result::Result<ChildReport, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .arg("child")
        .arg("--engine")
        .arg(engine)
        .arg("--phase")
        .arg(phase)
        .arg("--num")
        .arg(num.to_string())
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().expect("piped");
    let mut report = None;
    for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
        if let Some(r) = ChildReport::parse(&line) {
            report = Some(r);
        }
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    match report {
        Some(r) if output.status.success() => Ok(r),
        _ => {
            let err = String::from_utf8_lossy(&output.stderr);
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            Err(format!("{} ({})", output.status, last.trim()))
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct HostPlan {
    pub num: u64,
    pub engines: Vec<String>,
    pub workloads: Vec<Workload>,
    /// Where the stores' directories are made.
    pub base_dir: PathBuf,
}

impl HostPlan {
    /// Number of child processes it will start (for the progress bar).
    pub fn steps(&self) -> u64 {
        let prepared = self.workloads.iter().any(|w| w.needs_prepared()) as u64;
        self.engines.len() as u64 * (self.workloads.len() as u64 + prepared)
    }
}

/// Runs the plan; `tick` is called once per child process with its label.
pub fn run(plan: &HostPlan, mut tick: impl FnMut(&str)) -> HostRun {
    let mut results = Vec::new();
    let mut probes = Vec::new();
    for engine in &plan.engines {
        let root = match tempfile::Builder::new()
            .prefix(&format!("cairn-bench-{engine}-"))
            .tempdir_in(&plan.base_dir)
        {
            Ok(d) => d,
            Err(e) => {
                for &w in &plan.workloads {
                    results.push(HostResult {
                        engine: engine.clone(),
                        workload: w,
                        outcome: Err(format!("temp dir: {e}")),
                    });
                }
                continue;
            }
        };
        let prepared_dir = root.path().join("prepared");
        let mut prepared: Option<std::result::Result<(), String>> = None;
        for &workload in &plan.workloads {
            // The cost of fdatasync varies with the rest of the machine's
            // disk traffic: measure it just before each engine's first
            // durable workload, in the same directory.
            if workload.durability() == Durability::PerWrite
                && !probes.iter().any(|(e, _)| e == engine)
            {
                if let Ok(p) = probe_fdatasync(root.path(), PROBE_ROUNDS) {
                    probes.push((engine.clone(), p));
                }
            }
            let outcome = if workload.needs_prepared() {
                if prepared.is_none() {
                    tick(&format!("{engine}: prepare {} entries", plan.num));
                    let r = std::fs::create_dir_all(&prepared_dir)
                        .map_err(|e| e.to_string())
                        .and_then(|_| spawn_child(engine, "prepare", plan.num, &prepared_dir))
                        .map(|_| ());
                    prepared = Some(r);
                }
                match prepared.as_ref().expect("set above") {
                    Ok(()) => measure(engine, workload, plan.num, &prepared_dir, &mut tick),
                    Err(e) => Err(format!("prepare failed: {e}")),
                }
            } else {
                let dir = root.path().join(workload.name());
                let r = std::fs::create_dir_all(&dir)
                    .map_err(|e| e.to_string())
                    .and_then(|_| measure(engine, workload, plan.num, &dir, &mut tick));
                let _ = std::fs::remove_dir_all(&dir);
                r
            };
            results.push(HostResult {
                engine: engine.clone(),
                workload,
                outcome,
            });
        }
    }
    HostRun { results, probes }
}

/// Rounds of each kind in a fdatasync probe.
pub const PROBE_ROUNDS: u32 = 100;

/// Everything the host half measured.
#[derive(Clone, Debug, Default)]
pub struct HostRun {
    pub results: Vec<HostResult>,
    /// The fdatasync probe taken just before each engine's durable
    /// workloads.
    pub probes: Vec<(String, SyncProbe)>,
}

fn measure(
    engine: &str,
    workload: Workload,
    num: u64,
    dir: &Path,
    tick: &mut impl FnMut(&str),
) -> std::result::Result<Measured, String> {
    tick(&format!("{engine}: {}", workload.name()));
    let report = spawn_child(engine, workload.name(), num, dir)?;
    let (disk_allocated, disk_apparent) = disk_usage(dir);
    Ok(Measured {
        report,
        disk_allocated,
        disk_apparent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sixteen_digits_and_absent_ones_sort_between() {
        let mut a = [0u8; KEY_LEN];
        let mut b = [0u8; KEY_LEN];
        let mut c = [0u8; KEY_LEN];
        present_key(12, &mut a);
        absent_key(12, &mut b);
        present_key(13, &mut c);
        assert_eq!(&a, b"0000000000000024");
        assert!(a < b && b < c);
    }

    #[test]
    fn values_are_full_length_and_repeat() {
        let v = Values::new();
        assert_eq!(v.get(0).len(), VALUE_LEN);
        assert_eq!(v.get(u64::MAX).len(), VALUE_LEN);
        assert_eq!(v.get(5), Values::new().get(5));
    }

    #[test]
    fn child_report_round_trips() {
        let r = ChildReport {
            ops: 10,
            secs: 0.5,
            rss_kib: 1234,
            write_amp: Some(2.5),
            found: 7,
        };
        let p = ChildReport::parse(&r.emit()).unwrap();
        assert_eq!((p.ops, p.rss_kib, p.found), (10, 1234, 7));
        assert_eq!(p.write_amp, Some(2.5));
        let none = ChildReport::parse(&ChildReport::default().emit()).unwrap();
        assert_eq!(none.write_amp, None);
    }

    #[test]
    fn every_workload_runs_on_cairn() {
        let dir = tempfile::tempdir().unwrap();
        let e = engines::open("cairn", dir.path(), Durability::Buffered).unwrap();
        prepare(e.as_ref(), 200, &Values::new()).unwrap();
        for w in Workload::ALL {
            if w.needs_prepared() {
                let r = run_workload(e.as_ref(), w, 200).unwrap();
                assert!(r.ops > 0, "{}", w.name());
                if w == Workload::ReadSeq {
                    assert_eq!(r.found, 200);
                }
                if w == Workload::ReadMissing {
                    assert_eq!(r.found, 0);
                }
            }
        }
    }
}
