//! What the server and the tools need from a store, and an in-memory store.
//!
//! [`Store`] is the narrow interface the `cairn` command works through. The
//! on-disk implementation wraps a `cairn_std::Db`; [`MemStore`] keeps
//! everything in a `BTreeMap` and serves tests and `cairn serve --in-memory`.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

/// One change in an atomic write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Set `key` to `value`.
    Put(Vec<u8>, Vec<u8>),
    /// Remove `key`.
    Delete(Vec<u8>),
}

impl Op {
    /// The key this change is about.
    pub fn key(&self) -> &[u8] {
        match self {
            Op::Put(k, _) | Op::Delete(k) => k,
        }
    }

    /// Key plus value bytes.
    pub fn payload_len(&self) -> usize {
        match self {
            Op::Put(k, v) => k.len() + v.len(),
            Op::Delete(k) => k.len(),
        }
    }
}

/// Why a store operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The key is empty.
    EmptyKey,
    /// The key, value or batch is larger than the store accepts.
    TooLarge(String),
    /// No space is left; the store stays readable and deletes still work.
    Full,
    /// The store's media is damaged.
    Corrupted(String),
    /// An earlier sync failed; the store refuses writes until reopened.
    Poisoned,
    /// Any other failure, such as an I/O error.
    Other(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::EmptyKey => write!(f, "empty keys are not supported"),
            StoreError::TooLarge(what) => write!(f, "{what}"),
            StoreError::Full => write!(f, "the store is full (deletes still work)"),
            StoreError::Corrupted(what) => write!(f, "the store is corrupted: {what}"),
            StoreError::Poisoned => write!(
                f,
                "a sync failed earlier, so the store refuses writes; restart the server"
            ),
            StoreError::Other(what) => write!(f, "{what}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Sizes a store accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// Longest key, in bytes (keys are at least one byte).
    pub max_key_len: usize,
    /// Longest value, in bytes.
    pub max_value_len: usize,
    /// Largest atomic batch, counted as key plus value bytes plus
    /// [`StoreLimits::OP_OVERHEAD`] for each change.
    pub max_batch_bytes: usize,
}

impl StoreLimits {
    /// Bytes counted for each change of a batch on top of its key and value.
    pub const OP_OVERHEAD: usize = 16;

    /// Checks a change against these limits.
    pub fn check(&self, op: &Op) -> Result<(), StoreError> {
        let key = op.key();
        if key.is_empty() {
            return Err(StoreError::EmptyKey);
        }
        if key.len() > self.max_key_len {
            return Err(StoreError::TooLarge(format!(
                "key is {} bytes, longer than the store's limit of {}",
                key.len(),
                self.max_key_len
            )));
        }
        if let Op::Put(_, v) = op {
            if v.len() > self.max_value_len {
                return Err(StoreError::TooLarge(format!(
                    "value is {} bytes, longer than the store's limit of {}",
                    v.len(),
                    self.max_value_len
                )));
            }
        }
        Ok(())
    }
}

/// Whether a statistic only grows or goes up and down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatKind {
    /// A running total.
    Counter,
    /// A current level.
    Gauge,
}

/// One number from a store's statistics, as INFO and the metrics page show it.
#[derive(Clone, Debug, PartialEq)]
pub struct Stat {
    /// Name in `snake_case`.
    pub name: String,
    /// The value.
    pub value: f64,
    /// Counter or gauge.
    pub kind: StatKind,
    /// One line saying what it counts.
    pub help: &'static str,
}

impl Stat {
    /// A counter.
    pub fn counter(name: impl Into<String>, value: u64, help: &'static str) -> Stat {
        Stat {
            name: name.into(),
            value: value as f64,
            kind: StatKind::Counter,
            help,
        }
    }

    /// A gauge.
    pub fn gauge(name: impl Into<String>, value: f64, help: &'static str) -> Stat {
        Stat {
            name: name.into(),
            value,
            kind: StatKind::Gauge,
            help,
        }
    }

    /// The value as INFO prints it: integers without a fraction.
    pub fn display_value(&self) -> String {
        if self.value.fract() == 0.0 && self.value.abs() < 1e15 {
            format!("{}", self.value as i64)
        } else {
            format!("{:.4}", self.value)
        }
    }
}

/// The outcome of verifying a store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckOutcome {
    /// What was verified, as `name: value` lines.
    pub summary: Vec<(String, String)>,
    /// The problems found (a store lists the first few); empty when the
    /// store is sound.
    pub problems: Vec<String>,
    /// How many problems were found, listed or not.
    pub problem_count: usize,
}

/// A key-value store the server and the tools can work on.
///
/// Reads may run concurrently from many threads. The server sends every
/// write through one writer thread, so implementations need not order
/// concurrent writes beyond being thread-safe.
pub trait Store: Send + Sync + 'static {
    /// A short description for INFO and logs, such as the data directory.
    fn describe(&self) -> String;

    /// The sizes this store accepts.
    fn limits(&self) -> StoreLimits;

    /// The value of `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Applies all `ops` atomically, in order (a later change to the same
    /// key wins), and makes them durable as the store's configuration says.
    fn write(&self, ops: &[Op]) -> Result<(), StoreError>;

    /// Calls `visit` with each entry whose key is at or after `start`, in
    /// key order, until `visit` returns `false` or the entries run out.
    fn scan(
        &self,
        start: Bound<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError>;

    /// The number of keys.
    fn len(&self) -> Result<u64, StoreError> {
        let mut n = 0;
        self.scan(Bound::Unbounded, &mut |_, _| {
            n += 1;
            true
        })?;
        Ok(n)
    }

    /// Whether the store holds no key.
    fn is_empty(&self) -> Result<bool, StoreError> {
        let mut empty = true;
        self.scan(Bound::Unbounded, &mut |_, _| {
            empty = false;
            false
        })?;
        Ok(empty)
    }

    /// Makes everything written so far durable.
    fn flush(&self) -> Result<(), StoreError>;

    /// Merges the store's tables into the fewest possible.
    fn compact(&self) -> Result<(), StoreError>;

    /// The store's statistics.
    fn stats(&self) -> Vec<Stat>;

    /// Verifies every checksum and invariant.
    fn check(&self) -> Result<CheckOutcome, StoreError>;
}

impl fmt::Debug for dyn Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Store({})", self.describe())
    }
}

/// A store that keeps everything in memory and forgets it on exit.
#[derive(Debug)]
pub struct MemStore {
    map: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
    limits: StoreLimits,
    gets: AtomicU64,
    writes: AtomicU64,
    scans: AtomicU64,
}

impl Default for MemStore {
    fn default() -> Self {
        MemStore::new(StoreLimits {
            max_key_len: 1024,
            max_value_len: 64 * 1024,
            max_batch_bytes: 4 * 1024 * 1024,
        })
    }
}

impl MemStore {
    /// An empty store that accepts sizes up to `limits`.
    pub fn new(limits: StoreLimits) -> MemStore {
        MemStore {
            map: RwLock::new(BTreeMap::new()),
            limits,
            gets: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            scans: AtomicU64::new(0),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store for MemStore {
    fn describe(&self) -> String {
        "in memory (nothing is persisted)".to_string()
    }

    fn limits(&self) -> StoreLimits {
        self.limits
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.gets.fetch_add(1, Ordering::Relaxed);
        Ok(self.read().get(key).cloned())
    }

    fn write(&self, ops: &[Op]) -> Result<(), StoreError> {
        let mut bytes = 0;
        for op in ops {
            self.limits.check(op)?;
            bytes += op.payload_len() + StoreLimits::OP_OVERHEAD;
        }
        if bytes > self.limits.max_batch_bytes {
            return Err(StoreError::TooLarge(format!(
                "batch of {bytes} bytes exceeds the store's limit of {}",
                self.limits.max_batch_bytes
            )));
        }
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        for op in ops {
            match op {
                Op::Put(k, v) => {
                    map.insert(k.clone(), v.clone());
                }
                Op::Delete(k) => {
                    map.remove(k);
                }
            }
        }
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn scan(
        &self,
        start: Bound<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        self.scans.fetch_add(1, Ordering::Relaxed);
        let map = self.read();
        for (k, v) in map.range::<[u8], _>((start, Bound::Unbounded)) {
            if !visit(k, v) {
                break;
            }
        }
        Ok(())
    }

    fn len(&self) -> Result<u64, StoreError> {
        Ok(self.read().len() as u64)
    }

    fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.read().is_empty())
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn compact(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn stats(&self) -> Vec<Stat> {
        let map = self.read();
        let bytes: usize = map.iter().map(|(k, v)| k.len() + v.len()).sum();
        vec![
            Stat::counter("gets", self.gets.load(Ordering::Relaxed), "Point reads."),
            Stat::counter(
                "batches",
                self.writes.load(Ordering::Relaxed),
                "Atomic writes applied.",
            ),
            Stat::counter("scans", self.scans.load(Ordering::Relaxed), "Range scans."),
            Stat::gauge("keys", map.len() as f64, "Keys stored."),
            Stat::gauge(
                "user_bytes",
                bytes as f64,
                "Key and value bytes held in memory.",
            ),
        ]
    }

    fn check(&self) -> Result<CheckOutcome, StoreError> {
        let map = self.read();
        Ok(CheckOutcome {
            summary: vec![("entries".to_string(), map.len().to_string())],
            problems: Vec::new(),
            problem_count: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_store_basics() {
        let s = MemStore::default();
        s.write(&[
            Op::Put(b"b".to_vec(), b"2".to_vec()),
            Op::Put(b"a".to_vec(), b"1".to_vec()),
            Op::Put(b"c".to_vec(), b"3".to_vec()),
            Op::Delete(b"c".to_vec()),
        ])
        .unwrap();
        assert_eq!(s.get(b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(s.get(b"c").unwrap(), None);
        let mut keys = Vec::new();
        s.scan(Bound::Included(b"a"), &mut |k, _| {
            keys.push(k.to_vec());
            true
        })
        .unwrap();
        assert_eq!(keys, vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(s.len().unwrap(), 2);
        assert_eq!(
            s.write(&[Op::Put(Vec::new(), b"x".to_vec())]),
            Err(StoreError::EmptyKey)
        );
        assert!(matches!(
            s.write(&[Op::Put(vec![b'k'; 2000], b"x".to_vec())]),
            Err(StoreError::TooLarge(_))
        ));
    }
}
