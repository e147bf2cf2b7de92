//! The offline tools: `get`, `put`, `del`, `scan`, `stats`, `check`,
//! `inspect` and `load`, on a store that is not being served (the store file
//! is locked while a server has it open, and the tools say so).
//!
//! Keys and values are printed and read in an escaped text form, so that
//! `cairn scan` output can be fed back to `cairn load`: a backslash is
//! `\\`, a tab `\t`, a newline `\n`, a carriage return `\r`, and any other
//! byte outside printable ASCII `\xHH`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::ops::Bound;
use std::path::Path;

use cairn_core::format::{round_up, BlockHeader, BlockKind, Footer, FOOTER_LEN, HEADER_LEN};
use cairn_core::{Config, Geometry};
use cairn_std::{Batch, Db, Options};
use indicatif::{ProgressBar, ProgressStyle};

use crate::disk::{check_outcome, engine_stats, ImageDevice};

/// A tool's failure: a message for the user and the exit code.
#[derive(Debug)]
pub struct ToolError {
    /// What went wrong.
    pub message: String,
    /// The process exit code.
    pub code: u8,
}

impl ToolError {
    /// A failure with exit code 2.
    pub fn new(message: impl Into<String>) -> ToolError {
        ToolError {
            message: message.into(),
            code: 2,
        }
    }
}

impl From<cairn_std::Error> for ToolError {
    fn from(e: cairn_std::Error) -> Self {
        let code = match &e {
            cairn_std::Error::Store(cairn_core::Error::Corrupted(_)) => 1,
            _ => 2,
        };
        ToolError {
            message: e.to_string(),
            code,
        }
    }
}

impl From<io::Error> for ToolError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            // The reader of our output went away (`cairn inspect | head`).
            return ToolError {
                message: String::new(),
                code: 0,
            };
        }
        ToolError::new(e.to_string())
    }
}

/// A tool's outcome: the exit code.
pub type ToolResult = Result<u8, ToolError>;

/// Escapes bytes for line-based text (see the module docs).
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// Reverses [`escape`]. Bytes that need no escape may also appear raw.
pub fn unescape(text: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] != b'\\' {
            out.push(text[i]);
            i += 1;
            continue;
        }
        match text.get(i + 1) {
            Some(b'\\') => out.push(b'\\'),
            Some(b't') => out.push(b'\t'),
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b'x') => {
                let hex = text
                    .get(i + 2..i + 4)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad \\x escape at byte {i}"))?;
                out.push(hex);
                i += 4;
                continue;
            }
            _ => return Err(format!("bad escape at byte {i}")),
        }
        i += 2;
    }
    Ok(out)
}

/// Opens the store file at `path`; `create` allows making a new one.
pub fn open(path: &Path, create: bool, sync_writes: bool) -> Result<Db, ToolError> {
    if !create && !path.exists() {
        return Err(ToolError::new(format!(
            "{}: no store here (give --dir, or create one with `cairn put` or `cairn load`)",
            path.display()
        )));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let options = Options::default()
        .create_if_missing(create)
        .sync_writes(sync_writes);
    Ok(Db::open_with(path, options)?)
}

/// Writes to stdout; a closed pipe (`cairn scan | head`) ends quietly.
fn out_result(r: io::Result<()>) -> ToolResult {
    match r {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// `cairn get`: prints the value, exit 1 if the key has none.
pub fn get(path: &Path, key: &[u8], raw: bool) -> ToolResult {
    let db = open(path, false, true)?;
    match db.get(key)? {
        Some(v) => {
            let mut out = io::stdout().lock();
            out_result(if raw {
                out.write_all(&v).and_then(|_| out.flush())
            } else {
                writeln!(out, "{}", escape(&v))
            })
        }
        None => {
            eprintln!("(nil)");
            Ok(1)
        }
    }
}

/// `cairn put`.
pub fn put(path: &Path, key: &[u8], value: &[u8]) -> ToolResult {
    let mut out = io::stdout().lock();
    let db = open(path, true, true)?;
    db.put(key, value)?;
    writeln!(out, "OK")?;
    Ok(0)
}

/// `cairn del`: prints how many of the keys existed.
pub fn del(path: &Path, keys: &[Vec<u8>]) -> ToolResult {
    let mut out = io::stdout().lock();
    let db = open(path, false, true)?;
    let mut batch = Batch::new();
    let mut n = 0;
    for k in keys {
        if db.contains_key(k)? {
            n += 1;
        }
        batch.delete(k);
    }
    db.write(&batch)?;
    writeln!(out, "{n}")?;
    Ok(0)
}

/// `cairn scan`: prints `key<TAB>value` lines (or keys only) in key order.
pub fn scan(
    path: &Path,
    prefix: &[u8],
    start: Option<&[u8]>,
    limit: Option<u64>,
    keys_only: bool,
) -> ToolResult {
    let db = open(path, false, true)?;
    let begin = match start {
        Some(s) if s > prefix => s,
        _ => prefix,
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    let entries = db.range::<[u8], _>((Bound::Included(begin), Bound::Unbounded));
    for (n, entry) in (0u64..).zip(entries) {
        let (k, v) = entry?;
        if !k.starts_with(prefix) || limit.is_some_and(|l| n >= l) {
            break;
        }
        let line = if keys_only {
            writeln!(out, "{}", escape(&k))
        } else {
            writeln!(out, "{}\t{}", escape(&k), escape(&v))
        };
        if let Err(e) = line {
            return out_result(Err(e));
        }
    }
    out_result(out.flush())
}

/// `cairn stats`.
pub fn stats(path: &Path) -> ToolResult {
    let mut out = io::stdout().lock();
    let db = open(path, false, true)?;
    writeln!(out, "store: {}", path.display())?;
    writeln!(
        out,
        "keys: {}",
        db.iter().try_fold(0u64, |n, e| e.map(|_| n + 1))?
    )?;
    for stat in engine_stats(&db.stats()) {
        writeln!(out, "{}: {}", stat.name, stat.display_value())?;
    }
    Ok(0)
}

/// `cairn check`: exit 0 if sound, 1 if damaged, 2 if it could not check.
pub fn check(path: &Path) -> ToolResult {
    let mut out = io::stdout().lock();
    let db = open(path, false, true)?;
    let report = check_outcome(&db.check()?);
    for (k, v) in &report.summary {
        writeln!(out, "{k}: {v}")?;
    }
    if report.problems.is_empty() {
        writeln!(out, "ok: no damage found")?;
        Ok(0)
    } else {
        for p in &report.problems {
            writeln!(out, "problem: {p}")?;
        }
        writeln!(out, "DAMAGED: {} problem(s) found", report.problem_count)?;
        Ok(1)
    }
}

/// How `cairn inspect` reads an image.
#[derive(Clone, Debug, Default)]
pub struct InspectOptions {
    /// Block size; found from the block headers when not given.
    pub block_size: Option<u32>,
    /// Number of blocks; from the headers, or the file length, when not given.
    pub blocks: Option<u32>,
    /// The device's read unit.
    pub read_size: u32,
    /// The device's program unit.
    pub program_size: u32,
    /// Print every block, blank ones included.
    pub all_blocks: bool,
}

/// Finds the block size from the first valid block header, trying every
/// power of two from 1 KiB to 64 MiB.
fn detect_block_size(dev_file: &File, len: u64) -> io::Result<Option<(u32, u32)>> {
    let mut header = [0u8; HEADER_LEN];
    for shift in 10..=26 {
        let bs: u32 = 1 << shift;
        for block in 0..64u64 {
            let pos = block * u64::from(bs);
            if pos + HEADER_LEN as u64 > len {
                break;
            }
            read_at(dev_file, &mut header, pos)?;
            if let Some(h) = BlockHeader::parse(&header) {
                if h.block_size == bs {
                    return Ok(Some((bs, h.block_count)));
                }
            }
        }
    }
    Ok(None)
}

fn read_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<()> {
    let mut f = file;
    io::Seek::seek(&mut f, io::SeekFrom::Start(pos))?;
    f.read_exact(buf)
}

/// `cairn inspect`: decodes a store file or a raw flash image: its
/// geometry, what every block holds, then mounts it read-only (nothing is
/// written to the file) for the engine's statistics and a full check.
pub fn inspect(path: &Path, opts: &InspectOptions) -> ToolResult {
    let mut out = io::stdout().lock();
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let detected = detect_block_size(&file, len)?;
    let block_size = match (opts.block_size, detected) {
        (Some(bs), _) => bs,
        (None, Some((bs, _))) => bs,
        (None, None) => {
            return Err(ToolError {
                message: format!(
                "{}: no valid cairn block header found; give --block-size if this is a raw image",
                path.display()
            ),
                code: 1,
            })
        }
    };
    let block_count = opts
        .blocks
        .or(detected.filter(|d| d.0 == block_size).map(|d| d.1))
        .unwrap_or((len / u64::from(block_size)) as u32);
    let geometry = Geometry {
        block_size,
        block_count,
        read_size: opts.read_size,
        program_size: opts.program_size,
    };
    geometry.validate().map_err(ToolError::new)?;
    let dev = ImageDevice::open(path, geometry)?;
    writeln!(out, "image: {} ({len} bytes)", path.display())?;
    writeln!(
        out,
        "geometry: {block_count} blocks of {block_size} bytes, read unit {}, program unit {}",
        geometry.read_size, geometry.program_size
    )?;
    let align = geometry.align() as usize;
    let (mut metas, mut wals, mut tables, mut blank) = (0u32, 0u32, 0u32, 0u32);
    let mut header = vec![0u8; HEADER_LEN];
    let footer_region = round_up(FOOTER_LEN, align);
    let mut footer = vec![0u8; FOOTER_LEN];
    writeln!(out, "blocks:")?;
    for b in 0..block_count {
        dev.read_original(b, 0, &mut header)?;
        let Some(h) = BlockHeader::parse(&header) else {
            blank += 1;
            if opts.all_blocks {
                writeln!(out, "  {b:>8}  blank, torn or foreign")?;
            }
            continue;
        };
        let geometry_note = if h.block_size != block_size || h.block_count != block_count {
            format!(
                "  (written by a store of {} blocks of {} bytes)",
                h.block_count, h.block_size
            )
        } else {
            String::new()
        };
        match h.kind {
            BlockKind::Meta => {
                metas += 1;
                writeln!(out, "  {b:>8}  manifest  epoch {}{geometry_note}", h.epoch)?;
            }
            BlockKind::Wal => {
                wals += 1;
                writeln!(out, "  {b:>8}  log       epoch {}{geometry_note}", h.epoch)?;
            }
            BlockKind::Table => {
                tables += 1;
                dev.read_original(b, block_size - footer_region as u32, &mut footer)?;
                match Footer::parse(&footer, h.epoch, block_size) {
                    Some(f) => writeln!(out,
                        "  {b:>8}  table     epoch {}  {} entries ({} tombstones), {} data blocks, {} bytes used{geometry_note}",
                        h.epoch, f.entries, f.tombstones, f.data_blocks, f.data_end
                    )?,
                    None => writeln!(out,
                        "  {b:>8}  table     epoch {}  footer missing or damaged (unfinished or torn table){geometry_note}",
                        h.epoch
                    )?,
                }
            }
        }
    }
    writeln!(
        out,
        "summary: {metas} manifest, {wals} log, {tables} table, {blank} blank or unused blocks"
    )?;
    writeln!(out, "erase counts: not recorded on the media; the engine's `erases` counter covers this session only")?;
    let config = Config {
        allocation: cairn_core::Allocation::LowestFree,
        ..Config::default()
    };
    match cairn_core::Db::open(dev, config) {
        Ok(mut db) => {
            let stats = db.stats();
            writeln!(out,
                "mounted read-only: tables per level {:?}, {} blocks in use, {} free, {} log blocks",
                stats.tables_per_level, stats.blocks_in_use, stats.blocks_free, stats.wal_blocks
            )?;
            match db.check() {
                Ok(r) => {
                    writeln!(
                        out,
                        "check: {} tables, {} entries, {} blocks verified",
                        r.tables, r.entries, r.blocks_checked
                    )?;
                    for p in &r.problems {
                        writeln!(out, "problem: {p}")?;
                    }
                    if r.is_ok() {
                        writeln!(out, "ok: no damage found")?;
                        Ok(0)
                    } else {
                        writeln!(out, "DAMAGED: {} problem(s) found", r.problem_count())?;
                        Ok(1)
                    }
                }
                Err(e) => {
                    writeln!(out, "check failed: {e}")?;
                    Ok(1)
                }
            }
        }
        Err(e) => {
            writeln!(out, "cannot mount: {e}")?;
            Ok(1)
        }
    }
}

/// `cairn load`: reads `key<TAB>value` lines (escaped as in the module
/// docs) from `input` (`-`: standard input) and writes them in batches,
/// with a progress bar on a terminal. Durable once it returns.
pub fn load(path: &Path, input: &Path, batch_bytes: usize) -> ToolResult {
    let mut out = io::stdout().lock();
    let db = open(path, true, false)?;
    let max_batch = batch_bytes.min(db.stats().block_size as usize / 2).max(1);
    let (reader, total): (Box<dyn Read>, Option<u64>) = if input == Path::new("-") {
        (Box::new(io::stdin().lock()), None)
    } else {
        let f =
            File::open(input).map_err(|e| ToolError::new(format!("{}: {e}", input.display())))?;
        let len = f.metadata()?.len();
        (Box::new(f), Some(len))
    };
    let bar = match total {
        Some(len) => ProgressBar::new(len).with_style(
            ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner(),
    };
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let mut line = Vec::new();
    let mut batch = Batch::new();
    let mut bytes_in_batch = 0;
    let (mut loaded, mut line_no) = (0u64, 0u64);
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        bar.inc(n as u64);
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.is_empty() {
            continue;
        }
        let bad = |why: String| ToolError::new(format!("{}:{line_no}: {why}", input.display()));
        let tab = text
            .iter()
            .position(|&b| b == b'\t')
            .ok_or_else(|| bad("expected key<TAB>value".into()))?;
        let key = unescape(&text[..tab]).map_err(bad)?;
        let value = unescape(&text[tab + 1..]).map_err(bad)?;
        if key.is_empty() {
            return Err(bad("empty key".into()));
        }
        let size = key.len() + value.len() + 16;
        if bytes_in_batch + size > max_batch && !batch.is_empty() {
            db.write(&batch)?;
            batch.clear();
            bytes_in_batch = 0;
        }
        batch.put(&key, &value);
        bytes_in_batch += size;
        loaded += 1;
        if loaded % 4096 == 0 {
            bar.set_message(format!("{loaded} keys"));
        }
    }
    if !batch.is_empty() {
        db.write(&batch)?;
    }
    db.sync()?;
    bar.finish_and_clear();
    writeln!(out, "loaded {loaded} keys into {}", path.display())?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        let text = escape(&all);
        assert!(!text.contains('\t') && !text.contains('\n'));
        assert_eq!(unescape(text.as_bytes()).unwrap(), all);
        assert_eq!(escape(b"a b\tc"), "a b\\tc");
        assert!(unescape(b"\\q").is_err());
        assert!(unescape(b"\\x4").is_err());
    }
}
