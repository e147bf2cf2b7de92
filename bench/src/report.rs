//! The tables, and docs/benchmarks.md around them.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::flash::{self, FlashResult, FlashWorkload};
use crate::host::{self, HostPlan, HostResult, HostRun, Workload};

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

/// A figure with about three significant digits.
fn sig(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if x.abs() >= 100.0 {
        thousands(x.round() as u64)
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// A table whose columns after the first hold numbers (right-aligned).
fn table(out: &mut String, header: &[String], rows: &[Vec<String>]) {
    table_aligned(out, header, rows, true)
}

/// A table of text (left-aligned).
fn text_table(out: &mut String, header: &[String], rows: &[Vec<String>]) {
    table_aligned(out, header, rows, false)
}

fn table_aligned(out: &mut String, header: &[String], rows: &[Vec<String>], numbers: bool) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(
        out,
        "|{}|",
        header
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 || !numbers { "---" } else { "---:" })
            .collect::<Vec<_>>()
            .join("|")
    );
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out.push('\n');
}

fn find<'a>(results: &'a [HostResult], engine: &str, w: Workload) -> Option<&'a HostResult> {
    results
        .iter()
        .find(|r| r.engine == engine && r.workload == w)
}

/// The host tables: throughput, ratio to cairn, peak RSS, disk, and cairn's
/// write amplification.
pub fn host_tables(plan: &HostPlan, run: &HostRun) -> String {
    let results = &run.results[..];
    let mut out = String::new();
    let engines = &plan.engines;
    let header = |first: &str| {
        std::iter::once(first.to_string())
            .chain(engines.iter().cloned())
            .collect::<Vec<_>>()
    };
    let cell =
        |e: &str, w: Workload, f: &dyn Fn(&host::Measured) -> String| match find(results, e, w) {
            Some(HostResult { outcome: Ok(m), .. }) => f(m),
            Some(HostResult {
                outcome: Err(_), ..
            }) => "failed".into(),
            None => "–".into(),
        };

    let _ = writeln!(
        out,
        "### Throughput (operations per second; higher is better)\n"
    );
    let rows: Vec<Vec<String>> = plan
        .workloads
        .iter()
        .map(|&w| {
            std::iter::once(format!("{} ({} ops)", w.name(), thousands(w.ops(plan.num))))
                .chain(
                    engines
                        .iter()
                        .map(|e| cell(e, w, &|m| thousands(m.ops_per_sec().round() as u64))),
                )
                .collect()
        })
        .collect();
    table(&mut out, &header("workload"), &rows);

    if engines.iter().any(|e| e == "cairn") {
        let _ = writeln!(
            out,
            "### Ratio to cairn (engine's ops/s ÷ cairn's ops/s: above 1 the engine is faster than cairn, below 1 cairn is faster)\n"
        );
        let rows: Vec<Vec<String>> = plan
            .workloads
            .iter()
            .map(|&w| {
                let base = match find(results, "cairn", w) {
                    Some(HostResult { outcome: Ok(m), .. }) => Some(m.ops_per_sec()),
                    _ => None,
                };
                std::iter::once(w.name().to_string())
                    .chain(engines.iter().map(|e| match base {
                        Some(b) => cell(e, w, &|m| format!("{:.2}", m.ops_per_sec() / b)),
                        None => "–".into(),
                    }))
                    .collect()
            })
            .collect();
        table(&mut out, &header("workload"), &rows);
    }

    let _ = writeln!(
        out,
        "### Peak resident memory of the process running the workload (MiB)\n"
    );
    let rows: Vec<Vec<String>> = plan
        .workloads
        .iter()
        .map(|&w| {
            std::iter::once(w.name().to_string())
                .chain(engines.iter().map(|e| {
                    cell(e, w, &|m| {
                        format!("{:.0}", m.report.rss_kib as f64 / 1024.0)
                    })
                }))
                .collect()
        })
        .collect();
    table(&mut out, &header("workload"), &rows);

    let _ = writeln!(
        out,
        "### Disk space at the end (MiB allocated, st_blocks × 512; in brackets the sum of file lengths where it differs by more than 10%)\n"
    );
    let rows: Vec<Vec<String>> = plan
        .workloads
        .iter()
        .map(|&w| {
            std::iter::once(w.name().to_string())
                .chain(engines.iter().map(|e| {
                    cell(e, w, &|m| {
                        let (a, b) = (m.disk_allocated as f64, m.disk_apparent as f64);
                        if (a - b).abs() > 0.1 * a.max(b) {
                            format!("{} ({})", mib(m.disk_allocated), mib(m.disk_apparent))
                        } else {
                            mib(m.disk_allocated)
                        }
                    })
                }))
                .collect()
        })
        .collect();
    table(&mut out, &header("workload"), &rows);

    if engines.iter().any(|e| e == "cairn") {
        let _ = writeln!(
            out,
            "### cairn's write amplification (bytes written to the file ÷ key and value bytes written by the user, during the workload)\n"
        );
        let rows: Vec<Vec<String>> = plan
            .workloads
            .iter()
            .filter(|w| w.writes())
            .map(|&w| {
                vec![
                    w.name().to_string(),
                    cell("cairn", w, &|m| {
                        m.report.write_amp.map_or("–".into(), |x| format!("{x:.2}"))
                    }),
                ]
            })
            .collect();
        table(
            &mut out,
            &["workload".into(), "write amplification".into()],
            &rows,
        );
    }

    if !run.probes.is_empty() {
        let _ = writeln!(
            out,
            "### What one durable write costs the disk, measured just before each engine's fillsync runs\n\n\
             A 4 KiB `pwrite` + `fdatasync` in the engine's directory, {} times each: past the end of \
             a file (its size and block map change, so the file system commits its journal too) and \
             into blocks already allocated and synced (only data moves). Its inverse bounds the \
             durable writes per second of a writer that waits for each; it moves with the rest of \
             the machine's disk traffic.\n",
            host::PROBE_ROUNDS
        );
        let rows: Vec<Vec<String>> = run
            .probes
            .iter()
            .map(|(e, p)| {
                vec![
                    e.clone(),
                    format!(
                        "{:.0} µs ({} /s)",
                        p.append_us,
                        thousands((1e6 / p.append_us) as u64)
                    ),
                    format!(
                        "{:.0} µs ({} /s)",
                        p.overwrite_us,
                        thousands((1e6 / p.overwrite_us) as u64)
                    ),
                ]
            })
            .collect();
        table(
            &mut out,
            &[
                "before the runs of".into(),
                "extending the file".into(),
                "into allocated blocks".into(),
            ],
            &rows,
        );
    }

    let failures: Vec<_> = results
        .iter()
        .filter_map(|r| r.outcome.as_ref().err().map(|e| (r, e)))
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "### Runs that failed\n");
        for (r, e) in failures {
            let _ = writeln!(out, "- {} {}: {}", r.engine, r.workload.name(), e);
        }
        out.push('\n');
    }
    out
}

fn flash_status(r: &FlashResult) -> String {
    match &r.stopped {
        None => "ok".into(),
        Some(s) => s.replace('|', "/"),
    }
}

/// The flash tables, one per workload.
pub fn flash_tables(results: &[FlashResult], keys: &[usize]) -> String {
    let mut out = String::new();
    for w in FlashWorkload::ALL {
        let rows: Vec<Vec<String>> = keys
            .iter()
            .flat_map(|&k| {
                results
                    .iter()
                    .filter(move |r| r.workload == w && r.keys == k)
                    .map(move |r| {
                        vec![
                            format!("{} keys", thousands(k as u64)),
                            r.engine.clone(),
                            if r.writes < r.planned_writes {
                                format!(
                                    "{} of {}",
                                    thousands(r.writes),
                                    thousands(r.planned_writes)
                                )
                            } else {
                                thousands(r.writes)
                            },
                            sig(r.programmed_per_user_byte()),
                            sig(r.erases_per_1000_writes()),
                            r.max_block_erases.to_string(),
                            sig(r.read_per_write()),
                            r.read_per_get().map_or("–".into(), sig),
                            r.open.map_or("–".into(), |c| thousands(c.bytes_read)),
                            flash_status(r),
                        ]
                    })
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "### {} — {}\n", w.name(), w.describe());
        let header = [
            "keys",
            "store",
            "writes",
            "bytes programmed per user byte",
            "erases per 1,000 writes",
            "most erases of one block",
            "bytes read per write",
            "bytes read per get",
            "bytes read to open",
            "status",
        ]
        .map(String::from);
        table(&mut out, &header, &rows);
    }
    out
}

/// Everything docs/benchmarks.md is made from.
pub struct Document<'a> {
    pub host_plan: &'a HostPlan,
    pub host: &'a HostRun,
    pub flash: &'a [FlashResult],
    pub flash_keys: &'a [usize],
    /// The load average when the run started.
    pub load_at_start: String,
    pub elapsed: Duration,
}

struct Machine {
    cpu: String,
    cores: usize,
    memory: String,
    kernel: String,
    filesystem: String,
}

/// The 1-minute load average now: other work on the machine.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

fn machine(dir: &Path) -> Machine {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let memory = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|kib| format!("{:.1} GiB", kib as f64 / (1024.0 * 1024.0)))
        .unwrap_or_else(|| "unknown".into());
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    // The mount with the longest mount point that contains the directory.
    let filesystem = read("/proc/mounts")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 2 && dir.starts_with(f[1]))
                .then(|| (f[1].len(), format!("{} on {} ({})", f[2], f[1], f[0])))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, s)| s)
        .unwrap_or_else(|| "unknown".into());
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        memory,
        kernel,
        filesystem,
    }
}

/// Today's date (UTC), from the system clock.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Gregorian date of a day number counted from 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("cargo run -p cairn-bench --release -- {}", args.join(" "))
}

impl Document<'_> {
    /// Writes benchmarks.md and the charts into `docs`.
    pub fn write(&self, docs: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(docs)?;
        let charts = crate::charts::draw(
            docs,
            self.host_plan,
            &self.host.results,
            self.flash,
            self.flash_keys,
        )
        .map_err(std::io::Error::other)?;
        let mut md = self.markdown(&charts);
        // What was changed in cairn and what it gained is written by hand
        // beside the generated file, and carried into it.
        if let Ok(notes) = std::fs::read_to_string(docs.join("benchmarks-changes.md")) {
            md.push('\n');
            md.push_str(&notes);
        }
        std::fs::write(docs.join("benchmarks.md"), md)
    }

    fn markdown(&self, charts: &crate::charts::Drawn) -> String {
        let plan = self.host_plan;
        let m = machine(&plan.base_dir);
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(w, "# Benchmarks\n");
        let _ = writeln!(
            w,
            "cairn against the key-value stores people use today: on a file system \
             (fjall, redb, sled{}) and on raw NOR flash (sequential-storage, ekv, tickv). \
             Generated by `cairn-bench`; every figure below comes from one run of the \
             command, and the file is rewritten by running it again.\n",
            if plan.engines.iter().any(|e| e == "rocksdb") {
                ", RocksDB"
            } else {
                ""
            }
        );
        let _ = writeln!(w, "```sh\n{}\n```\n", command_line());
        let _ = writeln!(
            w,
            "Run on {} (UTC), in {:.0} s, with `--num {}`{}.\n",
            today(),
            self.elapsed.as_secs_f64(),
            thousands(plan.num),
            if plan.num == 1_000_000 {
                " (db_bench's default)"
            } else {
                " (db_bench's default is 1,000,000; pass `--num 1000000` for that)"
            }
        );

        let _ = writeln!(
            w,
            "`host` or `flash` instead of `all` runs one half and prints its tables \
             without touching this file; `--engines`, `--workloads`, `--keys`, \
             `--flash-engines` and `--flash-workloads` narrow a run; `--features rocksdb` adds \
             RocksDB to the host half. `all --num 100000` takes a few minutes on this machine.\n"
        );
        let _ = writeln!(w, "## The machine\n");
        let rows = vec![
            vec!["CPU".into(), m.cpu],
            vec!["cores".into(), m.cores.to_string()],
            vec!["memory".into(), m.memory],
            vec!["kernel".into(), m.kernel],
            vec!["stores' file system".into(), m.filesystem],
            vec![
                "load average (1 min) at the start".into(),
                self.load_at_start.clone(),
            ],
            vec!["compiler".into(), env!("BENCH_RUSTC_VERSION").into()],
            vec!["build".into(), "release profile (`opt-level = 3`)".into()],
            vec![
                "cairn revision (when built)".into(),
                env!("BENCH_CAIRN_REVISION").into(),
            ],
        ];
        text_table(w, &["".into(), "".into()], &rows);
        let _ = writeln!(
            w,
            "The machine is a virtual one with {} cores and a disk shared with other work. \
             Figures move from run to run: by some percent for work done in memory, and by \
             up to several times for work that waits on the disk (every write workload), \
             whose `fdatasync` latency changes with the other work — the probe table below \
             shows what it was during this run. Differences of a few percent mean nothing.\n",
            m.cores
        );

        self.host_section(w, charts);
        self.flash_section(w, charts);
        out
    }

    fn host_section(&self, w: &mut String, charts: &crate::charts::Drawn) {
        let plan = self.host_plan;
        let _ = writeln!(w, "## On a file system: cairn, fjall, redb, sled\n");
        let _ = writeln!(
            w,
            "The workloads of LevelDB's `db_bench` with its defaults: {}-byte keys (the \
             decimal digits of an even number, so that the odd numbers between them are \
             absent keys), {}-byte values (pseudo-random bytes that compress to about half, \
             like db_bench's), and `--num` entries.\n",
            host::KEY_LEN,
            host::VALUE_LEN
        );
        let rows: Vec<Vec<String>> = plan
            .workloads
            .iter()
            .map(|&wl| {
                vec![
                    format!("`{}`", wl.name()),
                    wl.describe().into(),
                    match wl.durability() {
                        _ if !wl.writes() => "(reads only)".into(),
                        host::engines::Durability::Buffered => "buffered".into(),
                        host::engines::Durability::PerWrite => "each write durable".into(),
                    },
                ]
            })
            .collect();
        table(
            w,
            &[
                "workload".into(),
                "what it does".into(),
                "durability".into(),
            ],
            &rows,
        );
        let _ = writeln!(
            w,
            "- **Same durability for everyone.** *Buffered*: no engine syncs per write \
             (cairn `sync_writes(false)`, fjall's default of writing the journal to the OS, \
             redb `Durability::None` per transaction, sled without its background flusher); \
             the timed part ends with one sync (cairn `sync`, fjall \
             `persist(SyncData)`, redb an empty `Durability::Immediate` commit, sled `flush`). \
             *Each write durable*: cairn's default, fjall `persist(SyncData)` after each write, \
             redb one `Durability::Immediate` transaction per write, sled `flush` after each \
             write. On Linux, sled 0.34's `flush` ends with `sync_file_range`, which starts \
             and waits for the write-back of the data but neither flushes the drive's \
             volatile cache nor commits file metadata, as `fdatasync` does: sled's fillsync \
             figures are therefore not those of the same guarantee. fillsync writes num/100 entries (at least 100); with 4 threads each \
             writes a quarter of them.\n\
             - **One write per operation.** Every engine gets one call per put or delete (for \
             redb, one write transaction per operation); no engine is given batches. Reads \
             use each engine's cheapest read API: cairn `get_into` into a reused buffer, \
             redb one read transaction for the whole workload, the others plain `get`. \
             Scans and seeks use each engine's cheapest way to read a range: cairn `Db::scan`, \
             which lends each key and value to a callback (its `Db::range` iterator hands out \
             owned copies), redb its range iterator, whose guards lend its pages, and fjall \
             and sled their range iterators.\n\
             - **Fresh directories, same keys.** Each engine works in a fresh temporary \
             directory. fillseq, fillrandom and the fillsyncs each start from an empty store; \
             the other workloads run, in the order of the table, on one store per engine \
             prepared (untimed) with all `num` keys written once in random order. Key orders \
             come from a seeded generator: every engine sees the same keys in the same order.\n\
             - **One process per workload.** Each workload runs in a child process of the \
             benchmark (it re-executes itself), which opens the store, runs the workload and \
             reports its peak resident set (`VmHWM`). The clock covers the operations and \
             the final sync, not opening or closing.\n\
             - **Defaults otherwise.** Every engine runs with its default tuning (cache sizes, \
             compression, compaction, background threads): cairn-std {} with 256 KiB file \
             blocks, a {} MiB memtable and a {} MiB block cache; fjall {} (its default \
             memtable is 64 MiB); redb {}; sled {}.\n",
            env!("CARGO_PKG_VERSION"),
            cairn_std::DEFAULT_MEMTABLE_BYTES >> 20,
            cairn_std::DEFAULT_CACHE_BYTES >> 20,
            option_env!("BENCH_VERSION_FJALL").unwrap_or("?"),
            option_env!("BENCH_VERSION_REDB").unwrap_or("?"),
            option_env!("BENCH_VERSION_SLED").unwrap_or("?"),
        );
        let _ = writeln!(w, "{}", host_tables(plan, self.host));
        if let Some(p) = &charts.host_throughput {
            let _ = writeln!(w, "![Throughput per workload and engine]({p})\n");
        }
    }

    fn flash_section(&self, w: &mut String, charts: &crate::charts::Drawn) {
        let _ = writeln!(
            w,
            "## On NOR flash: cairn, sequential-storage, ekv, tickv\n"
        );
        let _ = writeln!(
            w,
            "Every store runs on the same model of a NOR flash chip, in RAM: {} blocks of \
             {} KiB (1 MiB), programmed in aligned {}-byte words and read in aligned {}-byte \
             units. An erase sets a block to `0xFF`; a program can only clear bits; and a \
             word is programmed at most once between two erases of its block — the model \
             refuses anything else. The model counts every byte read and programmed and \
             every erase; those counts, not time, are the figures here.\n",
            flash::BLOCKS,
            crate::nor::BLOCK_SIZE / 1024,
            crate::nor::WORD,
            crate::nor::READ_SIZE,
        );
        let _ = writeln!(
            w,
            "Keys are {} bytes, values {} bytes. Every write is durable when it returns. \
             After the writes, {} gets of random live keys are made and checked against a \
             model of what the store must hold; then the store is reopened from flash (as \
             after a reset) and the first 200 keys are checked again.\n",
            flash::KEY_LEN,
            flash::VALUE_LEN,
            flash::GETS
        );
        let rows: Vec<Vec<String>> = FlashWorkload::ALL
            .iter()
            .map(|wl| vec![format!("`{}`", wl.name()), wl.describe().into()])
            .collect();
        text_table(w, &["workload".into(), "writes".into()], &rows);
        let _ = writeln!(
            w,
            "- **cairn** {}: `cairn_core::Db` with `memtable_bytes` 4096, `data_block_bytes` \
             512, `max_key_len` 64, round-robin allocation, other settings default.\n\
             - **sequential-storage** {}: the map, over the whole device, with its \
             fixed-size caches of page states and page pointers ({} + {} bytes of RAM) and \
             no per-key cache. A delete stores `None` for the key, as its documentation \
             advises for flash that cannot program a word twice.\n\
             - **ekv** {}: its default build configuration (4 KiB pages, 256 pages, 4-byte \
             alignment), one write transaction per write. Its documentation says that each \
             write transaction starts a new file, which erases at least one page, and advises \
             batching writes; here every write must be durable on its own, so each is a \
             transaction.\n\
             - **tickv** {}: {}-byte regions; it stores a 64-bit hash of each key (FNV-1a \
             here) instead of the key, and its documentation assumes that values are rarely modified. Its objects are byte-aligned and a delete clears a \
             flag bit in place, so it needs flash that can program a word again (clearing \
             bits only): for tickv alone the model allows that, and such programs are \
             counted as bytes programmed. An update is a delete and an append; when an \
             append finds no room, a garbage collection and one more try.\n\
             - **Figures.** *Bytes programmed per user byte*: bytes programmed ÷ key and \
             value bytes the writes carried (a delete carries its key). *Erases per 1,000 \
             writes* and *most erases of one block* (wear). *Bytes read per write* (reads \
             a store makes to write) and *per get*. *Bytes read to open*: what opening the \
             store again reads (sequential-storage has no open step: its caches start empty \
             and fill during later operations). A status other than `ok` says where a store \
             stopped — a store that reports the device full is listed with the writes it \
             managed, and its figures cover those writes only.\n",
            env!("CARGO_PKG_VERSION"),
            option_env!("BENCH_VERSION_SEQUENTIAL_STORAGE").unwrap_or("?"),
            flash::BLOCKS,
            flash::BLOCKS * 8,
            option_env!("BENCH_VERSION_EKV").unwrap_or("?"),
            option_env!("BENCH_VERSION_TICKV").unwrap_or("?"),
            crate::nor::BLOCK_SIZE,
        );
        let _ = writeln!(w, "{}", flash_tables(self.flash, self.flash_keys));
        for (title, path) in &charts.flash {
            let _ = writeln!(w, "![{title}]({path})\n");
        }
        let _ = writeln!(
            w,
            "Points are drawn only for runs in which every write completed.\n"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(sig(1234.4), "1,234");
        assert_eq!(sig(12.34), "12.3");
        assert_eq!(sig(1.234), "1.23");
        assert_eq!(sig(0.1234), "0.123");
    }

    #[test]
    fn dates_from_day_numbers() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
    }
}
