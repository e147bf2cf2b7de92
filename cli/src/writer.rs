//! The writer thread: the one place the server changes the store.
//!
//! Connections send their write commands here as jobs. The writer takes every
//! job waiting, runs the commands in arrival order against the store plus the
//! changes staged so far, and commits all their changes as one atomic batch
//! (a group commit: one durable write for many commands). Only then are the
//! replies sent, so a client never sees a write acknowledged before it is
//! durable. Read-modify-write commands (INCR, APPEND, SET NX, ...) are
//! atomic because nothing else writes in between.
//!
//! If a group's batch fails, nothing of it was applied; the writer then runs
//! each command of the group again on its own, so one command's failure
//! (say, a store that is full) reaches only the clients it concerns.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use crate::command::COMMANDS;
use crate::exec::{exec_write, store_error, View};
use crate::resp::{Reply, Request};
use crate::stats::{add, ServerStats};
use crate::store::{Op, Store, StoreError, StoreLimits};

/// Most commands taken into one group commit.
pub const MAX_GROUP_COMMANDS: usize = 1024;

/// Write commands from one connection, to run in order.
#[derive(Debug)]
pub struct WriteJob {
    /// `(index into COMMANDS, request)` for each command.
    pub cmds: Vec<(usize, Request)>,
    /// Where the replies go, one per command.
    pub reply: oneshot::Sender<Vec<Reply>>,
}

/// A connection's way to the writer thread.
#[derive(Clone, Debug)]
pub struct WriterHandle {
    tx: mpsc::Sender<WriteJob>,
}

const WRITER_GONE: &str = "ERR the writer thread has stopped; the server is shutting down";

impl WriterHandle {
    /// Runs `cmds` on the writer and returns their replies once committed.
    pub async fn submit(&self, cmds: Vec<(usize, Request)>) -> Vec<Reply> {
        let n = cmds.len();
        let (tx, rx) = oneshot::channel();
        if self.tx.send(WriteJob { cmds, reply: tx }).await.is_err() {
            return vec![Reply::err(WRITER_GONE); n];
        }
        rx.await
            .unwrap_or_else(|_| vec![Reply::err(WRITER_GONE); n])
    }
}

/// Starts the writer thread. It runs until every [`WriterHandle`] is dropped,
/// having finished every job sent before. Each commit holds `commit_lock`
/// for writing, so readers that hold it for reading (multi-key reads such
/// as MGET) see every commit whole or not at all.
pub fn start(
    store: Arc<dyn Store>,
    stats: Arc<ServerStats>,
    commit_lock: Arc<RwLock<()>>,
) -> std::io::Result<(WriterHandle, JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel(1024);
    let thread = std::thread::Builder::new()
        .name("cairn-writer".into())
        .spawn(move || {
            let store = Locked {
                store,
                lock: commit_lock,
            };
            run(&store, &stats, rx)
        })?;
    Ok((WriterHandle { tx }, thread))
}

/// The store, with every write made under the commit lock.
struct Locked {
    store: Arc<dyn Store>,
    lock: Arc<RwLock<()>>,
}

impl Store for Locked {
    fn describe(&self) -> String {
        self.store.describe()
    }
    fn limits(&self) -> StoreLimits {
        self.store.limits()
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.get(key)
    }
    fn write(&self, ops: &[Op]) -> Result<(), StoreError> {
        let _guard = self.lock.write().unwrap_or_else(|e| e.into_inner());
        self.store.write(ops)
    }
    fn scan(
        &self,
        start: Bound<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        self.store.scan(start, visit)
    }
    fn len(&self) -> Result<u64, StoreError> {
        self.store.len()
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.store.flush()
    }
    fn compact(&self) -> Result<(), StoreError> {
        self.store.compact()
    }
    fn stats(&self) -> Vec<crate::store::Stat> {
        self.store.stats()
    }
    fn check(&self) -> Result<crate::store::CheckOutcome, StoreError> {
        self.store.check()
    }
}

fn run(store: &dyn Store, stats: &ServerStats, mut rx: mpsc::Receiver<WriteJob>) {
    let mut jobs: Vec<WriteJob> = Vec::new();
    while let Some(job) = rx.blocking_recv() {
        let mut n = job.cmds.len();
        jobs.push(job);
        while n < MAX_GROUP_COMMANDS {
            match rx.try_recv() {
                Ok(job) => {
                    n += job.cmds.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let flat: Vec<(usize, &Request)> = jobs
            .iter()
            .flat_map(|j| j.cmds.iter().map(|(spec, req)| (*spec, req)))
            .collect();
        add(&stats.writer_commands, flat.len() as u64);
        let replies = execute(store, stats, &flat);
        let mut replies = replies.into_iter();
        for job in jobs.drain(..) {
            let mine: Vec<Reply> = replies.by_ref().take(job.cmds.len()).collect();
            let _ = job.reply.send(mine);
        }
    }
}

/// The changes staged for the next commit.
struct Group<'s> {
    store: &'s dyn Store,
    stats: &'s ServerStats,
    limits: StoreLimits,
    overlay: HashMap<Vec<u8>, Option<Vec<u8>>>,
    ops: Vec<Op>,
    bytes: usize,
    /// Index of the first command since the last commit.
    start: usize,
}

fn batch_bytes(ops: &[Op]) -> usize {
    ops.iter()
        .map(|o| o.payload_len() + StoreLimits::OP_OVERHEAD)
        .sum()
}

impl Group<'_> {
    /// Checks a command's changes against the store's limits.
    fn admit(&self, ops: &[Op]) -> Result<usize, StoreError> {
        for op in ops {
            self.limits.check(op)?;
        }
        let bytes = batch_bytes(ops);
        if bytes > self.limits.max_batch_bytes {
            return Err(StoreError::TooLarge(format!(
                "the command's changes take {bytes} bytes, more than the store's batch limit of {}",
                self.limits.max_batch_bytes
            )));
        }
        Ok(bytes)
    }

    fn stage(&mut self, ops: Vec<Op>, bytes: usize) {
        for op in &ops {
            match op {
                Op::Put(k, v) => self.overlay.insert(k.clone(), Some(v.clone())),
                Op::Delete(k) => self.overlay.insert(k.clone(), None),
            };
        }
        self.ops.extend(ops);
        self.bytes += bytes;
    }

    /// Commits the staged changes of commands `start..end`; on failure runs
    /// each of them again on its own and rewrites their replies.
    fn commit(&mut self, cmds: &[(usize, &Request)], end: usize, replies: &mut [Reply]) {
        let start = std::mem::replace(&mut self.start, end);
        if self.ops.is_empty() {
            self.overlay.clear();
            return;
        }
        let result = self.store.write(&self.ops);
        self.overlay.clear();
        self.ops.clear();
        self.bytes = 0;
        if result.is_ok() {
            add(&self.stats.writer_commits, 1);
            return;
        }
        let empty = HashMap::new();
        for i in start..end {
            let (spec, args) = cmds[i];
            let view = View {
                store: self.store,
                overlay: &empty,
            };
            let out = exec_write(&view, spec, args);
            replies[i] = if out.ops.is_empty() {
                out.reply
            } else {
                match self
                    .admit(&out.ops)
                    .and_then(|_| self.store.write(&out.ops))
                {
                    Ok(()) => {
                        add(&self.stats.writer_commits, 1);
                        out.reply
                    }
                    Err(e) => store_error(&e),
                }
            };
        }
    }
}

fn execute(store: &dyn Store, stats: &ServerStats, cmds: &[(usize, &Request)]) -> Vec<Reply> {
    let mut replies = Vec::with_capacity(cmds.len());
    let mut g = Group {
        store,
        stats,
        limits: store.limits(),
        overlay: HashMap::new(),
        ops: Vec::new(),
        bytes: 0,
        start: 0,
    };
    for (i, &(spec, args)) in cmds.iter().enumerate() {
        match COMMANDS[spec].name {
            "flushdb" | "flushall" | "save" => {
                g.commit(cmds, i, &mut replies);
                g.start = i + 1;
                replies.push(barrier(store, spec, args));
                continue;
            }
            _ => {}
        }
        let view = View {
            store,
            overlay: &g.overlay,
        };
        let out = exec_write(&view, spec, args);
        if out.ops.is_empty() {
            replies.push(out.reply);
            continue;
        }
        let bytes = match g.admit(&out.ops) {
            Ok(b) => b,
            Err(e) => {
                replies.push(store_error(&e));
                continue;
            }
        };
        if !g.ops.is_empty() && g.bytes + bytes > g.limits.max_batch_bytes {
            g.commit(cmds, i, &mut replies);
        }
        g.stage(out.ops, bytes);
        replies.push(out.reply);
    }
    g.commit(cmds, cmds.len(), &mut replies);
    replies
}

/// Commands that run alone, between group commits.
fn barrier(store: &dyn Store, spec: usize, args: &[Vec<u8>]) -> Reply {
    match COMMANDS[spec].name {
        "save" => match store.flush() {
            Ok(()) => Reply::OK,
            Err(e) => store_error(&e),
        },
        _ => {
            if let Some(mode) = args.get(1) {
                if args.len() > 2
                    || !(mode.eq_ignore_ascii_case(b"sync") || mode.eq_ignore_ascii_case(b"async"))
                {
                    return Reply::err(crate::exec::SYNTAX);
                }
            }
            match delete_everything(store) {
                Ok(()) => Reply::OK,
                Err(e) => store_error(&e),
            }
        }
    }
}

/// Deletes every key, in batches the store accepts. Clients see it happen
/// at once (no other write runs meanwhile); after a crash part of the keys
/// may remain.
pub fn delete_everything(store: &dyn Store) -> Result<(), StoreError> {
    let max = store.limits().max_batch_bytes;
    let mut after: Option<Vec<u8>> = None;
    loop {
        let mut batch = Vec::new();
        let mut bytes = 0;
        let start = match &after {
            Some(k) => Bound::Excluded(k.as_slice()),
            None => Bound::Unbounded,
        };
        store.scan(start, &mut |k, _| {
            let b = k.len() + StoreLimits::OP_OVERHEAD;
            if bytes + b > max && !batch.is_empty() {
                return false;
            }
            bytes += b;
            batch.push(Op::Delete(k.to_vec()));
            batch.len() < 4096
        })?;
        let Some(last) = batch.last() else {
            return Ok(());
        };
        after = Some(last.key().to_vec());
        store.write(&batch)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::lookup;
    use crate::store::MemStore;

    fn req(words: &[&str]) -> (usize, Request) {
        let spec = lookup(words[0].as_bytes()).unwrap();
        (spec, words.iter().map(|w| w.as_bytes().to_vec()).collect())
    }

    fn run_group(store: &dyn Store, words: &[&[&str]]) -> Vec<Reply> {
        let owned: Vec<(usize, Request)> = words.iter().map(|w| req(w)).collect();
        let flat: Vec<(usize, &Request)> = owned.iter().map(|(s, r)| (*s, r)).collect();
        execute(store, &ServerStats::default(), &flat)
    }

    #[test]
    fn group_sees_its_own_changes() {
        let store = MemStore::default();
        let r = run_group(
            &store,
            &[
                &["set", "a", "1"],
                &["incr", "a"],
                &["setnx", "a", "9"],
                &["append", "a", "x"],
                &["getdel", "a"],
                &["set", "b", "v", "XX"],
                &["mset", "c", "1", "d", "2"],
                &["del", "c", "c", "d", "zz"],
            ],
        );
        assert_eq!(
            r,
            vec![
                Reply::OK,
                Reply::Int(2),
                Reply::Int(0),
                Reply::Int(2),
                Reply::Bulk(b"2x".to_vec()),
                Reply::Nil,
                Reply::OK,
                Reply::Int(2),
            ]
        );
        assert!(store.is_empty().unwrap());
    }

    /// A store that refuses batches of more than one change, and any
    /// change to the key `bad`.
    struct Picky(MemStore);

    impl Store for Picky {
        fn describe(&self) -> String {
            "picky".into()
        }
        fn limits(&self) -> StoreLimits {
            self.0.limits()
        }
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            self.0.get(key)
        }
        fn write(&self, ops: &[Op]) -> Result<(), StoreError> {
            if ops.len() > 1 || ops.iter().any(|o| o.key() == b"bad") {
                return Err(StoreError::Full);
            }
            self.0.write(ops)
        }
        fn scan(
            &self,
            start: Bound<&[u8]>,
            visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
        ) -> Result<(), StoreError> {
            self.0.scan(start, visit)
        }
        fn flush(&self) -> Result<(), StoreError> {
            Ok(())
        }
        fn compact(&self) -> Result<(), StoreError> {
            Ok(())
        }
        fn stats(&self) -> Vec<crate::store::Stat> {
            Vec::new()
        }
        fn check(&self) -> Result<crate::store::CheckOutcome, StoreError> {
            self.0.check()
        }
    }

    #[test]
    fn failed_group_is_retried_command_by_command() {
        let store = Picky(MemStore::default());
        let r = run_group(
            &store,
            &[
                &["set", "a", "1"],
                &["incr", "a"],
                &["set", "bad", "x"],
                &["setnx", "bad", "y"],
            ],
        );
        assert_eq!(r[0], Reply::OK);
        assert_eq!(r[1], Reply::Int(2));
        assert!(r[2].is_error(), "{:?}", r[2]);
        // Retried alone, SETNX sees that `bad` was never set, and fails too.
        assert!(r[3].is_error(), "{:?}", r[3]);
        assert_eq!(store.get(b"a").unwrap(), Some(b"2".to_vec()));
        assert_eq!(store.get(b"bad").unwrap(), None);
    }

    #[test]
    fn oversized_command_fails_alone() {
        let store = MemStore::new(StoreLimits {
            max_key_len: 16,
            max_value_len: 64,
            max_batch_bytes: 60,
        });
        let big = "v".repeat(30);
        let r = run_group(&store, &[&["set", "a", &big], &["set", "b", &big]]);
        assert_eq!(r, vec![Reply::OK, Reply::OK]);
        let too_long = "v".repeat(65);
        let r = run_group(
            &store,
            &[
                &["set", "c", &too_long],
                &["mset", "d", &big, "e", &big],
                &["set", "f", "1"],
            ],
        );
        assert!(r[0].is_error(), "{:?}", r[0]);
        assert!(r[1].is_error(), "{:?}", r[1]);
        assert_eq!(r[2], Reply::OK);
        assert_eq!(store.len().unwrap(), 3);
    }

    #[test]
    fn flushdb_deletes_in_batches() {
        let store = MemStore::new(StoreLimits {
            max_key_len: 16,
            max_value_len: 64,
            max_batch_bytes: 100,
        });
        for i in 0..50 {
            store
                .write(&[Op::Put(format!("k{i:03}").into_bytes(), b"v".to_vec())])
                .unwrap();
        }
        let r = run_group(
            &store,
            &[&["set", "x", "1"], &["flushdb"], &["set", "y", "2"]],
        );
        assert_eq!(r, vec![Reply::OK, Reply::OK, Reply::OK]);
        assert_eq!(store.len().unwrap(), 1);
        assert_eq!(store.get(b"y").unwrap(), Some(b"2".to_vec()));
    }
}
