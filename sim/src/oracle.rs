//! The oracle: which recovered states a crash may leave.
//!
//! cairn's promise after a crash: the store holds exactly the state after
//! some prefix of the operations issued to it, and that prefix contains
//! every operation that was acknowledged as durable. A batch is one
//! operation, so it is in or out as a whole. An operation that was in
//! flight when the power went (issued, never acknowledged) may be in or
//! out; so may one acknowledged without durability (`sync_writes` off)
//! until a later `sync` succeeds.
//!
//! The [`Oracle`] keeps a base state (known exactly) and the operations
//! issued since. [`Oracle::check`] finds the prefix a recovered state
//! equals, or explains why there is none; [`Oracle::settle`] then makes
//! that state the new base, because once a recovered state has been
//! observed a later crash must not take it back.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A store's logical contents: key to value.
pub type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// One operation on a store, as the oracle and the workloads see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `Db::put(key, value)`.
    Put(Vec<u8>, Vec<u8>),
    /// `Db::delete(key)`.
    Delete(Vec<u8>),
    /// `Db::write` of a batch: each entry a put (`Some(value)`) or a delete
    /// (`None`), applied in order, all or nothing.
    Batch(Vec<(Vec<u8>, Option<Vec<u8>>)>),
    /// `Db::flush`: no logical change.
    Flush,
    /// `Db::compact`: no logical change.
    Compact,
    /// `Db::sync`: no logical change; makes everything before it durable.
    Sync,
}

impl Op {
    /// Applies the operation to a model.
    pub fn apply(&self, m: &mut Model) {
        match self {
            Op::Put(k, v) => {
                m.insert(k.clone(), v.clone());
            }
            Op::Delete(k) => {
                m.remove(k);
            }
            Op::Batch(entries) => {
                for (k, v) in entries {
                    match v {
                        Some(v) => {
                            m.insert(k.clone(), v.clone());
                        }
                        None => {
                            m.remove(k);
                        }
                    }
                }
            }
            Op::Flush | Op::Compact | Op::Sync => {}
        }
    }

    /// Whether the operation changes the logical contents.
    pub fn is_write(&self) -> bool {
        matches!(self, Op::Put(..) | Op::Delete(_) | Op::Batch(_))
    }

    /// Every key the operation touches.
    pub fn keys(&self) -> Vec<&[u8]> {
        match self {
            Op::Put(k, _) | Op::Delete(k) => vec![k.as_slice()],
            Op::Batch(e) => e.iter().map(|(k, _)| k.as_slice()).collect(),
            Op::Flush | Op::Compact | Op::Sync => Vec::new(),
        }
    }

    /// A short human-readable form.
    pub fn describe(&self) -> String {
        match self {
            Op::Put(k, v) => format!("put {} ({} bytes)", show_key(k), v.len()),
            Op::Delete(k) => format!("delete {}", show_key(k)),
            Op::Batch(e) => {
                let mut s = format!("batch of {} [", e.len());
                for (i, (k, v)) in e.iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    match v {
                        Some(v) => {
                            let _ = write!(s, "put {} ({} bytes)", show_key(k), v.len());
                        }
                        None => {
                            let _ = write!(s, "delete {}", show_key(k));
                        }
                    }
                }
                s.push(']');
                s
            }
            Op::Flush => "flush".into(),
            Op::Compact => "compact".into(),
            Op::Sync => "sync".into(),
        }
    }
}

/// A key for humans: printable ASCII as is, other bytes escaped.
pub fn show_key(k: &[u8]) -> String {
    let mut s = String::with_capacity(k.len() + 2);
    s.push('"');
    for b in k {
        if b.is_ascii_graphic() || *b == b' ' {
            s.push(*b as char);
        } else {
            let _ = write!(s, "\\x{b:02x}");
        }
    }
    s.push('"');
    s
}

/// A value for humans: its length and first bytes.
pub fn show_value(v: &[u8]) -> String {
    let head: String = v
        .iter()
        .take(24)
        .map(|b| {
            if b.is_ascii_graphic() {
                *b as char
            } else {
                '.'
            }
        })
        .collect();
    format!(
        "{} bytes \"{head}{}\"",
        v.len(),
        if v.len() > 24 { "…" } else { "" }
    )
}

/// The differences between two models, at most `limit` of them, one a line.
pub fn diff(got: &Model, want: &Model, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in want {
        match got.get(k) {
            None => out.push(format!("missing {} = {}", show_key(k), show_value(v))),
            Some(g) if g != v => out.push(format!(
                "wrong value for {}: got {}, want {}",
                show_key(k),
                show_value(g),
                show_value(v)
            )),
            Some(_) => {}
        }
    }
    for (k, v) in got {
        if !want.contains_key(k) {
            out.push(format!("unexpected {} = {}", show_key(k), show_value(v)));
        }
    }
    let total = out.len();
    out.truncate(limit);
    if total > limit {
        out.push(format!("... and {} more differences", total - limit));
    }
    out
}

/// The model of issued and acknowledged operations; see the
/// [module documentation](self).
#[derive(Clone, Debug, Default)]
pub struct Oracle {
    base: Model,
    ops: Vec<Op>,
    acked: Vec<bool>,
    /// `ops[..required]` must be in every recovered state.
    required: usize,
}

impl Oracle {
    /// An oracle for an empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An oracle whose store is known to hold exactly `base`.
    pub fn with_base(base: Model) -> Self {
        Oracle {
            base,
            ..Self::default()
        }
    }

    /// Records that `op` is being issued; returns its index for
    /// [`Oracle::ack`] and [`Oracle::reject`].
    pub fn issue(&mut self, op: &Op) -> usize {
        self.ops.push(op.clone());
        self.acked.push(false);
        self.ops.len() - 1
    }

    /// Records that operation `id` returned `Ok`. If `durable`, it and every
    /// operation before it must survive any later crash; otherwise (a write
    /// with `sync_writes` off) it may still be lost, until
    /// [`Oracle::sync_point`].
    pub fn ack(&mut self, id: usize, durable: bool) {
        self.acked[id] = true;
        if durable {
            self.required = self.required.max(id + 1);
        }
    }

    /// Records that a `sync` returned `Ok`: every acknowledged operation
    /// issued so far is durable.
    pub fn sync_point(&mut self) {
        if let Some(last_acked) = self.acked.iter().rposition(|a| *a) {
            self.required = self.required.max(last_acked + 1);
        }
    }

    /// Records that operation `id`, the last one issued, was refused with
    /// an error that means it was not applied (the store is full, the key is
    /// too long, ...).
    ///
    /// # Panics
    ///
    /// If `id` is not the last operation issued.
    pub fn reject(&mut self, id: usize) {
        assert_eq!(
            id + 1,
            self.ops.len(),
            "only the last operation can be rejected"
        );
        self.ops.pop();
        self.acked.pop();
    }

    /// Operations issued since the base state.
    pub fn issued(&self) -> &[Op] {
        &self.ops
    }

    /// How many of the issued operations must survive a crash.
    pub fn required(&self) -> usize {
        self.required
    }

    /// The state after every issued operation: what a running store must
    /// show.
    pub fn expected(&self) -> Model {
        self.state_after(self.ops.len())
    }

    /// The state after the first `n` issued operations.
    pub fn state_after(&self, n: usize) -> Model {
        let mut m = self.base.clone();
        for op in &self.ops[..n] {
            op.apply(&mut m);
        }
        m
    }

    /// How many distinct prefixes a recovered state may equal.
    pub fn allowed_prefixes(&self) -> usize {
        self.ops.len() - self.required + 1
    }

    /// Every key the base holds or an issued operation touches.
    pub fn known_keys(&self) -> Vec<Vec<u8>> {
        let mut keys: std::collections::BTreeSet<Vec<u8>> = self.base.keys().cloned().collect();
        for op in &self.ops {
            for k in op.keys() {
                keys.insert(k.to_vec());
            }
        }
        keys.into_iter().collect()
    }

    /// Whether `got` is an allowed recovered state. `Ok(n)`: it equals the
    /// state after the first `n` issued operations (the longest such `n`).
    /// `Err`: an explanation of what is wrong, for a report.
    pub fn check(&self, got: &Model) -> Result<usize, String> {
        let mut state = self.state_after(self.required);
        let mut found = None;
        if &state == got {
            found = Some(self.required);
        }
        for n in self.required..self.ops.len() {
            self.ops[n].apply(&mut state);
            if &state == got {
                found = Some(n + 1);
            }
        }
        if let Some(n) = found {
            return Ok(n);
        }
        Err(self.explain(got))
    }

    fn explain(&self, got: &Model) -> String {
        let mut s = format!(
            "recovered state ({} keys) matches no allowed prefix: {} operations issued since \
             the last known state, the first {} must be present",
            got.len(),
            self.ops.len(),
            self.required
        );
        // Compare with the nearest allowed state.
        let mut best: Option<(usize, usize)> = None;
        let mut state = self.state_after(self.required);
        for n in self.required..=self.ops.len() {
            if n > self.required {
                self.ops[n - 1].apply(&mut state);
            }
            let d = diff(got, &state, usize::MAX).len();
            if best.is_none_or(|(_, bd)| d < bd) {
                best = Some((n, d));
            }
        }
        if let Some((n, _)) = best {
            let _ = write!(
                s,
                "\nnearest allowed state is after {n} operations; differences:"
            );
            for line in diff(got, &self.state_after(n), 12) {
                let _ = write!(s, "\n  {line}");
            }
        }
        let first = self.required.saturating_sub(3);
        let _ = write!(s, "\nlast operations issued:");
        for (i, op) in self.ops.iter().enumerate().skip(first) {
            let tag = if i < self.required {
                "durable"
            } else if self.acked[i] {
                "acked, not durable"
            } else {
                "in flight"
            };
            let _ = write!(s, "\n  #{i} [{tag}] {}", op.describe());
            if i > first + 12 {
                let _ = write!(s, "\n  ...");
                break;
            }
        }
        s
    }

    /// Makes the state after the first `n` issued operations the new base
    /// and forgets the operations (those after `n` were lost).
    pub fn settle(&mut self, n: usize) {
        self.base = self.state_after(n);
        self.ops.clear();
        self.acked.clear();
        self.required = 0;
    }

    /// The base state.
    pub fn base(&self) -> &Model {
        &self.base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &str, v: &str) -> Op {
        Op::Put(k.as_bytes().to_vec(), v.as_bytes().to_vec())
    }

    fn model(pairs: &[(&str, &str)]) -> Model {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn acknowledged_operations_must_survive() {
        let mut o = Oracle::new();
        let a = o.issue(&put("a", "1"));
        o.ack(a, true);
        let b = o.issue(&put("b", "2"));
        o.ack(b, true);
        assert_eq!(o.check(&model(&[("a", "1"), ("b", "2")])), Ok(2));
        let err = o.check(&model(&[("a", "1")])).unwrap_err();
        assert!(err.contains("missing \"b\""), "{err}");
        assert!(o.check(&Model::new()).is_err());
    }

    #[test]
    fn the_in_flight_operation_may_or_may_not_be_present() {
        let mut o = Oracle::new();
        let a = o.issue(&put("a", "1"));
        o.ack(a, true);
        o.issue(&Op::Delete(b"a".to_vec()));
        assert_eq!(o.check(&model(&[("a", "1")])), Ok(1));
        assert_eq!(o.check(&Model::new()), Ok(2));
        assert!(o
            .check(&model(&[("a", "2")]))
            .unwrap_err()
            .contains("wrong value"));
        assert_eq!(o.allowed_prefixes(), 2);
    }

    #[test]
    fn batches_are_all_or_nothing() {
        let mut o = Oracle::with_base(model(&[("x", "0")]));
        o.issue(&Op::Batch(vec![
            (b"a".to_vec(), Some(b"1".to_vec())),
            (b"x".to_vec(), None),
            (b"b".to_vec(), Some(b"2".to_vec())),
        ]));
        assert_eq!(o.check(&model(&[("x", "0")])), Ok(0));
        assert_eq!(o.check(&model(&[("a", "1"), ("b", "2")])), Ok(1));
        // Half a batch is never allowed.
        assert!(o.check(&model(&[("a", "1"), ("x", "0")])).is_err());
        assert!(o
            .check(&model(&[("a", "1"), ("b", "2"), ("x", "0")]))
            .is_err());
    }

    #[test]
    fn only_prefixes_are_allowed() {
        // With writes that are acknowledged but not yet durable, any prefix
        // is allowed, but not a state with a hole in it.
        let mut o = Oracle::new();
        for (k, v) in [("a", "1"), ("b", "2"), ("c", "3")] {
            let id = o.issue(&put(k, v));
            o.ack(id, false);
        }
        assert_eq!(o.check(&Model::new()), Ok(0));
        assert_eq!(o.check(&model(&[("a", "1"), ("b", "2")])), Ok(2));
        assert!(o.check(&model(&[("a", "1"), ("c", "3")])).is_err());
        o.sync_point();
        assert_eq!(o.required(), 3);
        assert!(o.check(&model(&[("a", "1"), ("b", "2")])).is_err());
    }

    #[test]
    fn rejected_operations_are_forgotten_and_settle_moves_the_base() {
        let mut o = Oracle::new();
        let a = o.issue(&put("a", "1"));
        o.ack(a, true);
        let b = o.issue(&put("b", "2"));
        o.reject(b);
        assert_eq!(o.issued().len(), 1);
        let c = o.issue(&put("c", "3"));
        o.ack(c, true);
        o.issue(&put("d", "4"));
        let n = o
            .check(&model(&[("a", "1"), ("c", "3"), ("d", "4")]))
            .unwrap();
        assert_eq!(n, 3);
        o.settle(n);
        assert_eq!(o.base(), &model(&[("a", "1"), ("c", "3"), ("d", "4")]));
        // What was observed after recovery cannot be taken back.
        assert!(o.check(&model(&[("a", "1"), ("c", "3")])).is_err());
        assert_eq!(o.known_keys().len(), 3);
    }

    #[test]
    fn explanations_name_the_differences_and_the_operations() {
        let mut o = Oracle::new();
        let a = o.issue(&put("a", "1"));
        o.ack(a, true);
        o.issue(&put("b", "2"));
        let err = o.check(&model(&[("z", "9")])).unwrap_err();
        assert!(err.contains("unexpected \"z\""), "{err}");
        assert!(err.contains("#0 [durable] put \"a\""), "{err}");
        assert!(err.contains("#1 [in flight] put \"b\""), "{err}");
    }
}
