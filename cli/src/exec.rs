//! Execution of the commands that read or change the store.
//!
//! Read commands run on any thread against the store directly. Write
//! commands run on the writer thread against a [`View`]: the store plus the
//! changes of the commands before them in the same group commit. A write
//! command does not change anything itself; it returns its reply and the
//! changes to make, and the writer commits them.

use std::collections::{HashMap, VecDeque};
use std::ops::Bound;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::command::COMMANDS;
use crate::glob::Glob;
use crate::resp::Reply;
use crate::server::Shared;
use crate::stats::{add, info};
use crate::store::{Op, Store, StoreError};

/// Error reply for a non-integer where an integer is wanted.
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
/// Error reply for a malformed option list.
pub const SYNTAX: &str = "ERR syntax error";

/// The error reply for a failed store operation.
pub fn store_error(e: &StoreError) -> Reply {
    Reply::error(format!("ERR {e}"))
}

/// Parses a signed 64-bit integer the way Redis does: no sign but `-`, no
/// leading zeros, no spaces.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let digits = s.strip_prefix(b"-").unwrap_or(s);
    if digits.is_empty()
        || digits.len() > 19
        || (digits[0] == b'0' && (digits.len() > 1 || s.len() != digits.len()))
        || !digits.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    text.parse().ok()
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// How many SCAN cursors are remembered before the oldest are forgotten.
pub const CURSOR_CAPACITY: usize = 16 * 1024;

/// SCAN cursors: each is a number standing for the key the next step of a
/// scan starts at. Numbers are never reused within a server's lifetime and
/// start from a clock-derived base, so a cursor from an earlier run is
/// refused rather than silently resuming somewhere else. The oldest cursors
/// are forgotten once [`CURSOR_CAPACITY`] are held.
#[derive(Debug)]
pub struct Cursors {
    inner: Mutex<CursorTable>,
}

#[derive(Debug)]
struct CursorTable {
    next: u64,
    map: HashMap<u64, Vec<u8>>,
    order: VecDeque<u64>,
}

impl Default for Cursors {
    fn default() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        // Below 2^52, so clients that read cursors as doubles keep them exact.
        let base = ((secs & 0xF_FFFF) << 32) | 1;
        Cursors {
            inner: Mutex::new(CursorTable {
                next: base,
                map: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }
}

impl Cursors {
    fn lock(&self) -> std::sync::MutexGuard<'_, CursorTable> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new cursor for a scan that continues at `key`.
    pub fn insert(&self, key: Vec<u8>) -> u64 {
        let mut t = self.lock();
        let id = t.next;
        t.next += 1;
        t.map.insert(id, key);
        t.order.push_back(id);
        while t.order.len() > CURSOR_CAPACITY {
            if let Some(old) = t.order.pop_front() {
                t.map.remove(&old);
            }
        }
        id
    }

    /// The key a cursor stands for.
    pub fn get(&self, id: u64) -> Option<Vec<u8>> {
        self.lock().map.get(&id).cloned()
    }
}

fn lookup(sh: &Shared, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    let v = get_checked(&*sh.store, key)?;
    match v {
        Some(_) => add(&sh.stats.keyspace_hits, 1),
        None => add(&sh.stats.keyspace_misses, 1),
    }
    Ok(v)
}

/// Reads `key`; a key the store could never hold (empty or too long) is
/// simply absent.
fn get_checked(store: &dyn Store, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    if key.is_empty() || key.len() > store.limits().max_key_len {
        return Ok(None);
    }
    store.get(key)
}

macro_rules! tryr {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return store_error(&e),
        }
    };
}

/// Executes a read command (`spec` indexes [`COMMANDS`]).
pub fn exec_read(sh: &Shared, spec: usize, args: &[Vec<u8>]) -> Reply {
    match COMMANDS[spec].name {
        "get" => match tryr!(lookup(sh, &args[1])) {
            Some(v) => Reply::Bulk(v),
            None => Reply::Nil,
        },
        "mget" => {
            let _consistent = sh.commit_lock.read().unwrap_or_else(|e| e.into_inner());
            let mut out = Vec::with_capacity(args.len() - 1);
            for k in &args[1..] {
                out.push(match tryr!(lookup(sh, k)) {
                    Some(v) => Reply::Bulk(v),
                    None => Reply::Nil,
                });
            }
            Reply::Array(out)
        }
        "exists" => {
            let _consistent = sh.commit_lock.read().unwrap_or_else(|e| e.into_inner());
            let mut n = 0;
            for k in &args[1..] {
                if tryr!(lookup(sh, k)).is_some() {
                    n += 1;
                }
            }
            Reply::Int(n)
        }
        "strlen" => Reply::Int(tryr!(lookup(sh, &args[1])).map_or(0, |v| v.len() as i64)),
        "getrange" => {
            let (Some(start), Some(end)) = (parse_i64(&args[2]), parse_i64(&args[3])) else {
                return Reply::err(NOT_INTEGER);
            };
            let v = tryr!(lookup(sh, &args[1])).unwrap_or_default();
            Reply::Bulk(substring(&v, start, end).to_vec())
        }
        "type" => Reply::Simple(
            if tryr!(lookup(sh, &args[1])).is_some() {
                "string"
            } else {
                "none"
            }
            .into(),
        ),
        "ttl" | "pttl" => Reply::Int(if tryr!(lookup(sh, &args[1])).is_some() {
            -1
        } else {
            -2
        }),
        "dbsize" => Reply::Int(tryr!(sh.store.len()) as i64),
        "keys" => keys(sh, &args[1]),
        "scan" => scan(sh, args),
        "info" => Reply::Verbatim(info(sh, &args[1..])),
        other => Reply::error(format!("ERR '{other}' is not a read command")),
    }
}

/// GETRANGE semantics: inclusive offsets, negative ones count from the end.
fn substring(v: &[u8], start: i64, end: i64) -> &[u8] {
    let len = v.len() as i64;
    if len == 0 {
        return &[];
    }
    let norm = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let (start, end) = (norm(start), norm(end).min(len - 1));
    if start > end || start >= len {
        return &[];
    }
    &v[start as usize..=end as usize]
}

/// Where a scan for keys matching `glob` starts: at `from` or at the
/// pattern's literal prefix, whichever is later.
fn scan_start<'a>(from: Option<&'a [u8]>, prefix: &'a [u8]) -> Bound<&'a [u8]> {
    match from {
        Some(k) if k >= prefix => Bound::Included(k),
        _ if !prefix.is_empty() => Bound::Included(prefix),
        Some(k) => Bound::Included(k),
        None => Bound::Unbounded,
    }
}

fn keys(sh: &Shared, pattern: &[u8]) -> Reply {
    let glob = Glob::new(pattern);
    let prefix = glob.literal_prefix();
    let all = glob.matches_all();
    let mut out = Vec::new();
    tryr!(sh
        .store
        .scan(scan_start(None, &prefix), &mut |k: &[u8], _: &[u8]| {
            if !k.starts_with(&prefix) {
                return false;
            }
            if all || glob.matches(k) {
                out.push(Reply::Bulk(k.to_vec()));
            }
            true
        }));
    Reply::Array(out)
}

fn scan(sh: &Shared, args: &[Vec<u8>]) -> Reply {
    let Some(cursor) = parse_u64(&args[1]) else {
        return Reply::err("ERR invalid cursor");
    };
    let mut glob = None;
    let mut count: u64 = 10;
    let mut type_ok = true;
    let mut i = 2;
    while i < args.len() {
        let opt = args[i].to_ascii_lowercase();
        let Some(val) = args.get(i + 1) else {
            return Reply::err(SYNTAX);
        };
        match opt.as_slice() {
            b"match" => glob = Some(Glob::new(val)),
            b"count" => match parse_u64(val) {
                Some(n) if n >= 1 => count = n,
                Some(_) => return Reply::err(SYNTAX),
                None => return Reply::err(NOT_INTEGER),
            },
            b"type" => type_ok = val.eq_ignore_ascii_case(b"string"),
            _ => return Reply::err(SYNTAX),
        }
        i += 2;
    }
    let from = if cursor == 0 {
        None
    } else {
        match sh.cursors.get(cursor) {
            Some(k) => Some(k),
            None => {
                return Reply::err(
                    "ERR invalid cursor: unknown or expired, start the scan again from 0",
                )
            }
        }
    };
    let prefix = glob.as_ref().map(Glob::literal_prefix).unwrap_or_default();
    let all = match &glob {
        Some(g) => g.matches_all(),
        None => true,
    };
    let mut found = Vec::new();
    let mut examined = 0;
    let mut next = None;
    tryr!(sh.store.scan(
        scan_start(from.as_deref(), &prefix),
        &mut |k: &[u8], _: &[u8]| {
            if !k.starts_with(&prefix) {
                return false;
            }
            if examined == count {
                next = Some(k.to_vec());
                return false;
            }
            examined += 1;
            if type_ok && (all || glob.as_ref().is_some_and(|g| g.matches(k))) {
                found.push(Reply::Bulk(k.to_vec()));
            }
            true
        }
    ));
    let next = next.map_or(0, |k| sh.cursors.insert(k));
    Reply::Array(vec![Reply::text(next.to_string()), Reply::Array(found)])
}

/// The store as a write command sees it: the committed state plus the
/// changes staged earlier in the same group commit.
pub struct View<'a> {
    /// The store.
    pub store: &'a dyn Store,
    /// Staged changes: `None` is a staged delete.
    pub overlay: &'a HashMap<Vec<u8>, Option<Vec<u8>>>,
}

impl View<'_> {
    /// The value of `key` after the staged changes.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.overlay.get(key) {
            Some(v) => Ok(v.clone()),
            None => get_checked(self.store, key),
        }
    }
}

/// What a write command wants done.
pub struct WriteOutcome {
    /// The reply to send once the changes are committed.
    pub reply: Reply,
    /// The changes, applied atomically; empty when nothing changes.
    pub ops: Vec<Op>,
}

impl WriteOutcome {
    fn reply(reply: Reply) -> WriteOutcome {
        WriteOutcome {
            reply,
            ops: Vec::new(),
        }
    }
}

macro_rules! tryw {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return WriteOutcome::reply(store_error(&e)),
        }
    };
}

/// Executes a write command (`spec` indexes [`COMMANDS`]) against `view`.
/// `FLUSHDB`, `FLUSHALL` and `SAVE` are not handled here: the writer runs
/// them itself, between group commits.
pub fn exec_write(view: &View<'_>, spec: usize, args: &[Vec<u8>]) -> WriteOutcome {
    let put = |k: &[u8], v: Vec<u8>| Op::Put(k.to_vec(), v);
    match COMMANDS[spec].name {
        "set" => set(view, args),
        "setnx" => {
            if tryw!(view.get(&args[1])).is_some() {
                WriteOutcome::reply(Reply::Int(0))
            } else {
                WriteOutcome {
                    reply: Reply::Int(1),
                    ops: vec![put(&args[1], args[2].clone())],
                }
            }
        }
        "getset" => WriteOutcome {
            reply: tryw!(view.get(&args[1])).map_or(Reply::Nil, Reply::Bulk),
            ops: vec![put(&args[1], args[2].clone())],
        },
        "getdel" => match tryw!(view.get(&args[1])) {
            Some(v) => WriteOutcome {
                reply: Reply::Bulk(v),
                ops: vec![Op::Delete(args[1].clone())],
            },
            None => WriteOutcome::reply(Reply::Nil),
        },
        "del" | "unlink" => {
            let mut seen = std::collections::HashSet::new();
            let mut ops = Vec::new();
            for k in &args[1..] {
                if seen.insert(k.as_slice()) && tryw!(view.get(k)).is_some() {
                    ops.push(Op::Delete(k.clone()));
                }
            }
            WriteOutcome {
                reply: Reply::Int(ops.len() as i64),
                ops,
            }
        }
        "mset" | "msetnx" => {
            if args.len() % 2 == 0 {
                return WriteOutcome::reply(Reply::error(format!(
                    "ERR wrong number of arguments for '{}' command",
                    COMMANDS[spec].name
                )));
            }
            let nx = COMMANDS[spec].name == "msetnx";
            if nx {
                for pair in args[1..].chunks(2) {
                    if tryw!(view.get(&pair[0])).is_some() {
                        return WriteOutcome::reply(Reply::Int(0));
                    }
                }
            }
            WriteOutcome {
                reply: if nx { Reply::Int(1) } else { Reply::OK },
                ops: args[1..]
                    .chunks(2)
                    .map(|p| put(&p[0], p[1].clone()))
                    .collect(),
            }
        }
        "append" => {
            let mut v = tryw!(view.get(&args[1])).unwrap_or_default();
            v.extend_from_slice(&args[2]);
            WriteOutcome {
                reply: Reply::Int(v.len() as i64),
                ops: vec![put(&args[1], v)],
            }
        }
        "incr" => incr_by(view, &args[1], 1),
        "decr" => incr_by(view, &args[1], -1),
        "incrby" | "decrby" => {
            let Some(n) = parse_i64(&args[2]) else {
                return WriteOutcome::reply(Reply::err(NOT_INTEGER));
            };
            let n = if COMMANDS[spec].name == "decrby" {
                match n.checked_neg() {
                    Some(n) => n,
                    None => return WriteOutcome::reply(Reply::err("ERR decrement would overflow")),
                }
            } else {
                n
            };
            incr_by(view, &args[1], n)
        }
        other => WriteOutcome::reply(Reply::error(format!(
            "ERR '{other}' is not handled by the writer"
        ))),
    }
}

fn incr_by(view: &View<'_>, key: &[u8], by: i64) -> WriteOutcome {
    let current = match tryw!(view.get(key)) {
        None => 0,
        Some(v) => match parse_i64(&v) {
            Some(n) => n,
            None => return WriteOutcome::reply(Reply::err(NOT_INTEGER)),
        },
    };
    let Some(new) = current.checked_add(by) else {
        return WriteOutcome::reply(Reply::err("ERR increment or decrement would overflow"));
    };
    WriteOutcome {
        reply: Reply::Int(new),
        ops: vec![Op::Put(key.to_vec(), new.to_string().into_bytes())],
    }
}

fn set(view: &View<'_>, args: &[Vec<u8>]) -> WriteOutcome {
    let (mut nx, mut xx, mut get) = (false, false, false);
    let mut i = 3;
    while i < args.len() {
        let opt = args[i].to_ascii_lowercase();
        match opt.as_slice() {
            b"nx" if !xx => nx = true,
            b"xx" if !nx => xx = true,
            b"get" => get = true,
            b"keepttl" => {}
            b"ex" | b"px" | b"exat" | b"pxat" => {
                return WriteOutcome::reply(Reply::err(
                    "ERR cairn keys do not expire: SET does not support EX, PX, EXAT or PXAT",
                ))
            }
            _ => return WriteOutcome::reply(Reply::err(SYNTAX)),
        }
        i += 1;
    }
    let old = if nx || xx || get {
        tryw!(view.get(&args[1]))
    } else {
        None
    };
    let exists = old.is_some();
    let proceed = !(nx && exists || xx && !exists);
    let reply = if get {
        old.map_or(Reply::Nil, Reply::Bulk)
    } else if proceed {
        Reply::OK
    } else {
        Reply::Nil
    };
    WriteOutcome {
        reply,
        ops: if proceed {
            vec![Op::Put(args[1].clone(), args[2].clone())]
        } else {
            Vec::new()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_strictly() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"01",
            b"-0",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1.5",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn getrange_offsets() {
        let v = b"This is a string";
        assert_eq!(substring(v, 0, 3), b"This");
        assert_eq!(substring(v, -3, -1), b"ing");
        assert_eq!(substring(v, 0, -1), v);
        assert_eq!(substring(v, 10, 100), b"string");
        assert_eq!(substring(v, 5, 2), b"");
        assert_eq!(substring(b"", 0, -1), b"");
    }

    #[test]
    fn cursors_are_bounded() {
        let c = Cursors::default();
        let first = c.insert(b"a".to_vec());
        assert_eq!(c.get(first), Some(b"a".to_vec()));
        for _ in 0..CURSOR_CAPACITY {
            c.insert(b"b".to_vec());
        }
        assert_eq!(c.get(first), None);
        assert!(first < 1 << 52);
    }
}
