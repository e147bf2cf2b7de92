//! [`Db`]: a store in one file, shared by threads.

use std::collections::VecDeque;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::iter::FusedIterator;
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use cairn_core::{Batch, CheckReport, Config, Stats};

use crate::device::{sync_parent_dir, FileDevice};
use crate::{Error, Options};

type Engine = cairn_core::Db<FileDevice>;

/// A range iterator reads this many entries in its first turn of the lock,
/// twice as many in each following turn, up to `CHUNK_ENTRIES`: a short
/// seek reads little, a long scan takes the lock rarely.
const FIRST_CHUNK_ENTRIES: usize = 16;
/// A range iterator reads at most this many entries per turn of the lock.
const CHUNK_ENTRIES: usize = 512;
/// ... and stops a turn once it holds this many key and value bytes.
const CHUNK_BYTES: usize = 1 << 20;

/// A cairn store in one file: a handle that threads share.
///
/// `Db` is `Send + Sync` and cheap to clone: every clone is a handle on the
/// same open store. Operations take `&self`; they are serialised by a lock
/// held for the duration of each call, so one thread's `get` waits for
/// another's `put`. The store stays open, and its file locked against other
/// processes, until the last handle (and the last [`Range`] iterator) is
/// dropped.
///
/// Opening creates the store if the file is missing or empty, unless
/// [`Options::create_if_missing`] is off. A new store is formatted in a
/// temporary file beside the path and moved into place once complete, so a
/// crash during creation never leaves a half-made store at the path (it may
/// leave a hidden `.NAME.*.cairn-new` file behind, which can be deleted).
/// A file holding anything but a cairn store is never overwritten: opening
/// it fails.
///
/// By default every `put`, `delete` and `write` is durable when it returns
/// (see [`Options::sync_writes`]).
///
/// # Example
///
/// ```
/// use cairn_std::{Batch, Db};
///
/// # fn main() -> Result<(), cairn_std::Error> {
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("app.cairn");
///
/// let db = Db::open(&path)?;
/// db.put("apple", "red")?;
/// db.put("banana", "yellow")?;
/// db.put("cherry", "dark red")?;
/// db.delete("banana")?;
///
/// let mut batch = Batch::new();
/// batch.put(b"date", b"brown");
/// batch.delete(b"cherry");
/// db.write(&batch)?; // all or nothing
///
/// assert_eq!(db.get("apple")?.as_deref(), Some(&b"red"[..]));
/// assert_eq!(db.get("banana")?, None);
///
/// // Threads share the store through clones of the handle.
/// let writer = {
///     let db = db.clone();
///     std::thread::spawn(move || db.put("elderberry", "purple"))
/// };
/// writer.join().unwrap()?;
///
/// let keys: Vec<Vec<u8>> = db
///     .range("b".."z")
///     .map(|entry| entry.map(|(key, _value)| key))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(keys, [b"date".to_vec(), b"elderberry".to_vec()]);
///
/// // Reopen: everything written is there.
/// drop(db);
/// let db = Db::open(&path)?;
/// assert_eq!(db.get("date")?.as_deref(), Some(&b"brown"[..]));
/// assert!(db.check()?.is_ok());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Db {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    engine: Mutex<Engine>,
    /// The configuration as the caller gave it. The engine itself runs with
    /// `sync_writes` off: this handle syncs, once for a whole group of
    /// concurrent writers.
    config: Config,
    /// A second handle to the store's file, synced outside the engine lock.
    sync_file: File,
    /// Sequence number of the last write known durable.
    synced: Mutex<u64>,
    /// Sequence number of the last write applied.
    written: AtomicU64,
    /// A sync failed: nothing written since can be trusted to be durable.
    failed: AtomicBool,
    /// Reads merge the store into one sorted run once they have paid for
    /// it ([`Options::read_merges`]).
    read_merges: bool,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Writes made without sync_writes are made durable on a clean close.
        // Nothing can report an error from here: callers who need to know
        // call `Db::sync` first.
        if let Ok(engine) = self.engine.get_mut() {
            if !self.failed.load(Ordering::Acquire) {
                let _ = engine.sync();
            }
        }
    }
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.shared.path)
            .finish()
    }
}

impl Db {
    /// Opens the store at `path` with the default [`Options`], creating it
    /// if the file is missing or empty.
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] if another handle has the store open,
    /// [`Error::Io`] if the file cannot be opened or created,
    /// [`Error::NotAStore`] if it holds something else (or a store of
    /// another geometry), and [`Error::Store`] if the store is damaged.
    pub fn open(path: impl AsRef<Path>) -> Result<Db, Error> {
        Self::open_with(path, Options::default())
    }

    /// Opens the store at `path` with `options`.
    ///
    /// # Errors
    ///
    /// As for [`Db::open`]; also [`Error::Io`] of kind
    /// [`io::ErrorKind::NotFound`] if the file is missing and
    /// [`Options::create_if_missing`] is off ([`Error::NotAStore`] if it is
    /// empty), and [`Error::Io`] of kind
    /// [`io::ErrorKind::InvalidInput`] if the geometry in `options` is
    /// unusable or does not fit the file.
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Db, Error> {
        let path = path.as_ref();
        options.geometry().map_err(io_error(path))?;
        let user_config = options.config.clone();
        let mut options = options;
        options.config.sync_writes = false;
        // If another process creates the store between our attempt to open
        // it and our attempt to create it, the next round opens theirs.
        for _ in 0..3 {
            match OpenOptions::new().read(true).write(true).open(path) {
                Ok(file) => {
                    let device = FileDevice::from_file(file, options.block_size, options.capacity)
                        .map_err(device_error(path))?;
                    let engine = if device.file_len() == 0 && options.create_if_missing {
                        format(device, &options)?
                    } else {
                        Engine::open(device, options.config.clone()).map_err(|e| match e {
                            cairn_core::Error::NotFormatted => Error::NotAStore {
                                path: path.to_path_buf(),
                            },
                            e => Error::Store(e),
                        })?
                    };
                    return Db::from_engine(path, engine, user_config, options.read_merges);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound && options.create_if_missing => {
                    if let Some(engine) = create(path, &options)? {
                        return Db::from_engine(path, engine, user_config, options.read_merges);
                    }
                }
                Err(e) => return Err(io_error(path)(e)),
            }
        }
        Err(io_error(path)(io::Error::other(
            "the file kept appearing and disappearing while the store was being opened",
        )))
    }

    fn from_engine(
        path: &Path,
        engine: Engine,
        config: Config,
        read_merges: bool,
    ) -> Result<Db, Error> {
        let sync_file = engine.device().try_clone_file().map_err(io_error(path))?;
        let seq = engine.last_seq();
        Ok(Db {
            shared: Arc::new(Shared {
                path: path.to_path_buf(),
                engine: Mutex::new(engine),
                config,
                sync_file,
                synced: Mutex::new(seq),
                written: AtomicU64::new(seq),
                failed: AtomicBool::new(false),
                read_merges,
            }),
        })
    }

    /// Runs a write under the engine lock, then, with `sync_writes`, waits
    /// until it is durable. Writers arriving while a sync is under way queue
    /// behind it and are covered together by the next one (group commit):
    /// `n` concurrent writers cost far fewer than `n` syncs.
    fn durable_write(
        &self,
        f: impl FnOnce(&mut Engine) -> Result<(), cairn_core::Error<io::Error>>,
    ) -> Result<(), Error> {
        let shared = &self.shared;
        if shared.failed.load(Ordering::Acquire) {
            return Err(Error::Store(cairn_core::Error::Poisoned));
        }
        let seq = {
            let mut engine = self.engine()?;
            f(&mut engine)?;
            if shared.config.sync_writes {
                // Into the file now; the sync below, or another writer's,
                // makes it durable.
                engine.write_log_buffer()?;
            }
            let seq = engine.last_seq();
            shared.written.fetch_max(seq, Ordering::AcqRel);
            seq
        };
        if !shared.config.sync_writes {
            return Ok(());
        }
        let mut synced = shared.synced.lock().map_err(|_| Error::Panicked)?;
        if *synced >= seq {
            return Ok(());
        }
        // Every write numbered up to `target` was written to the file
        // before `written` was raised, so this sync covers it.
        let target = shared.written.load(Ordering::Acquire);
        if let Err(e) = shared.sync_file.sync_data() {
            shared.failed.store(true, Ordering::Release);
            return Err(Error::Store(cairn_core::Error::Device(e)));
        }
        *synced = target.max(seq);
        Ok(())
    }

    /// Runs a read under the engine lock, then, in the same turn of it,
    /// whatever maintenance the reads have paid for (see [`after_read`]).
    fn read<T>(
        &self,
        f: impl FnOnce(&mut Engine) -> Result<T, cairn_core::Error<io::Error>>,
    ) -> Result<T, Error> {
        let mut engine = self.engine()?;
        let r = f(&mut engine)?;
        after_read(&self.shared, &mut engine)?;
        Ok(r)
    }

    fn engine(&self) -> Result<MutexGuard<'_, Engine>, Error> {
        lock(&self.shared)
    }

    /// The engine, for read-only uses that are safe even if a thread
    /// panicked while holding it.
    fn engine_even_if_panicked(&self) -> MutexGuard<'_, Engine> {
        self.shared
            .engine
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The path the store was opened at.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The value stored under `key`, if any.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] with [`cairn_core::Error::EmptyKey`] or
    /// [`cairn_core::Error::TooLarge`] for an unusable key, or any error
    /// reading the store.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, Error> {
        self.read(|e| e.get_vec(key.as_ref()))
    }

    /// Copies the value stored under `key` into `buf` and returns its
    /// length, or `None` if there is none. Allocates nothing.
    ///
    /// # Errors
    ///
    /// As for [`Db::get`]; [`cairn_core::Error::BufferTooSmall`] (carrying
    /// the value's length) if `buf` is too short.
    pub fn get_into(&self, key: impl AsRef<[u8]>, buf: &mut [u8]) -> Result<Option<usize>, Error> {
        self.read(|e| e.get(key.as_ref(), buf))
    }

    /// Whether a value is stored under `key`.
    ///
    /// # Errors
    ///
    /// As for [`Db::get`].
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool, Error> {
        self.read(|e| match e.get(key.as_ref(), &mut []) {
            Ok(found) => Ok(found.is_some()),
            Err(cairn_core::Error::BufferTooSmall { .. }) => Ok(true),
            Err(e) => Err(e),
        })
    }

    /// Stores `value` under `key`, replacing any earlier value.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] with [`cairn_core::Error::TooLarge`],
    /// [`cairn_core::Error::EmptyKey`], [`cairn_core::Error::Full`], or a
    /// failed write.
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), Error> {
        self.durable_write(|e| e.put(key.as_ref(), value.as_ref()))
    }

    /// Removes `key` and its value, if any. Succeeds even when the store is
    /// full.
    ///
    /// # Errors
    ///
    /// As for [`Db::put`], except `Full`.
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<(), Error> {
        self.durable_write(|e| e.delete(key.as_ref()))
    }

    /// Applies every change in `batch` atomically: after a crash, either all
    /// of them are in the store or none is.
    ///
    /// # Errors
    ///
    /// As for [`Db::put`]; `TooLarge` if the batch is larger than one block
    /// of the log.
    pub fn write(&self, batch: &Batch) -> Result<(), Error> {
        self.durable_write(|e| e.write(batch))
    }

    /// The entries whose keys lie in `range`, in key order.
    ///
    /// The iterator holds the store's lock only while it reads, a chunk of
    /// entries at a time, so other threads may write while it is in use and
    /// it may itself be used to write. It is not a snapshot: a key changed
    /// ahead of the iterator may be seen with its new value, or not at all if
    /// deleted. Keys come out strictly increasing, each at most once.
    ///
    /// Byte-string literals need to be given as slices (`b"a".as_slice()..`)
    /// for the key type to be inferred; `&str`, `&[u8]` and `Vec<u8>` work
    /// as they are.
    ///
    /// # Example
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = cairn_std::Db::open(dir.path().join("db")).unwrap();
    /// for k in ["a", "b", "c", "d"] {
    ///     db.put(k, "v").unwrap();
    /// }
    /// let keys: Vec<_> = db
    ///     .range(b"b".as_slice()..=b"c".as_slice())
    ///     .map(|e| e.unwrap().0)
    ///     .collect();
    /// assert_eq!(keys, [b"b".to_vec(), b"c".to_vec()]);
    /// ```
    pub fn range<K, R>(&self, range: R) -> Range
    where
        K: AsRef<[u8]> + ?Sized,
        R: RangeBounds<K>,
    {
        let start = owned(range.start_bound());
        let end = owned(range.end_bound());
        let done = is_empty_range(borrowed(&start), borrowed(&end));
        Range {
            shared: Arc::clone(&self.shared),
            next_start: start,
            end,
            buffer: VecDeque::new(),
            done,
            chunk: FIRST_CHUNK_ENTRIES,
        }
    }

    /// Every entry of the store, in key order; see [`Db::range`].
    pub fn iter(&self) -> Range {
        self.range::<[u8], _>(..)
    }

    /// Calls `f` with each entry whose key lies in `range`, in key order,
    /// until it returns `false`.
    ///
    /// Unlike [`Db::range`], this holds the store's lock for the whole scan:
    /// it sees one consistent state and copies nothing, but other threads
    /// wait for it. `f` must not use this store (that would deadlock); if it
    /// panics, the store is unusable until reopened ([`Error::Panicked`]).
    ///
    /// # Errors
    ///
    /// Any error reading the store.
    pub fn scan<K, R, F>(&self, range: R, f: F) -> Result<(), Error>
    where
        K: AsRef<[u8]> + ?Sized,
        R: RangeBounds<K>,
        F: FnMut(&[u8], &[u8]) -> bool,
    {
        let start = range.start_bound().map(|k| k.as_ref());
        let end = range.end_bound().map(|k| k.as_ref());
        if is_empty_range(start, end) {
            return Ok(());
        }
        self.read(|e| e.scan(start, end, f))
    }

    /// Writes the in-memory buffer of recent writes out into a table.
    ///
    /// # Errors
    ///
    /// `Full`, or a failed write.
    pub fn flush(&self) -> Result<(), Error> {
        Ok(self.engine()?.flush()?)
    }

    /// Merges every table into one level, dropping overwritten values and
    /// deleted keys, and gives their space back.
    ///
    /// # Errors
    ///
    /// `Full`, or a failed write.
    pub fn compact(&self) -> Result<(), Error> {
        Ok(self.engine()?.compact()?)
    }

    /// Makes every earlier write durable. Needed only with
    /// [`Options::sync_writes`] off.
    ///
    /// # Errors
    ///
    /// A failed `fdatasync`. After one, the store refuses further writes
    /// ([`cairn_core::Error::Poisoned`]): reopen it.
    pub fn sync(&self) -> Result<(), Error> {
        Ok(self.engine()?.sync()?)
    }

    /// Operation counts, I/O done, and the shape of the store. Available
    /// even after a thread panicked while using the store.
    pub fn stats(&self) -> Stats {
        self.engine_even_if_panicked().stats()
    }

    /// Reads every structure of the store, verifying every checksum and
    /// invariant, and reports what is wrong.
    ///
    /// # Errors
    ///
    /// A failed read; damage found is reported in the [`CheckReport`].
    pub fn check(&self) -> Result<CheckReport, Error> {
        Ok(self.engine()?.check()?)
    }

    /// The engine configuration the store was opened with.
    pub fn config(&self) -> Config {
        self.shared.config.clone()
    }
}

/// An iterator over a range of a [`Db`], in key order; see [`Db::range`].
///
/// Yields `Ok((key, value))` pairs; after an error it yields nothing more.
/// It keeps the store open while it lives.
pub struct Range {
    shared: Arc<Shared>,
    /// Where the next chunk starts: the range's start, then just past the
    /// last key read.
    next_start: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    buffer: VecDeque<(Vec<u8>, Vec<u8>)>,
    /// No more chunks to read.
    done: bool,
    /// Entries to read in the next turn.
    chunk: usize,
}

impl fmt::Debug for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Range")
            .field("path", &self.shared.path)
            .field("buffered", &self.buffer.len())
            .field("done", &self.done)
            .finish()
    }
}

impl Range {
    /// Reads the next chunk of entries into the buffer.
    fn refill(&mut self) -> Result<(), Error> {
        let Range {
            shared,
            next_start,
            end,
            buffer,
            chunk,
            ..
        } = self;
        let chunk_now = *chunk;
        *chunk = (*chunk * 2).min(CHUNK_ENTRIES);
        let chunk = chunk_now;
        let mut engine = lock(shared)?;
        let mut bytes = 0;
        let mut full = false;
        engine.scan(borrowed(next_start), borrowed(end), |key, value| {
            bytes += key.len() + value.len();
            buffer.push_back((key.to_vec(), value.to_vec()));
            full = buffer.len() >= chunk || bytes >= CHUNK_BYTES;
            !full
        })?;
        after_read(shared, &mut engine)?;
        drop(engine);
        match buffer.back() {
            Some((last, _)) if full => *next_start = Bound::Excluded(last.clone()),
            _ => self.done = true,
        }
        Ok(())
    }
}

impl Iterator for Range {
    type Item = Result<(Vec<u8>, Vec<u8>), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buffer.is_empty() && !self.done {
            if let Err(e) = self.refill() {
                self.done = true;
                self.buffer.clear();
                return Some(Err(e));
            }
        }
        self.buffer.pop_front().map(Ok)
    }
}

impl FusedIterator for Range {}

/// After a read, under the same turn of the lock: merges the store into one
/// sorted run if reads have paid for it ([`Options::read_merges`],
/// [`cairn_core::Db::maintain`]). The merge changes no key's value; it
/// is committed like any compaction and made durable by the next sync. A
/// store whose sync failed is left alone.
fn after_read(shared: &Shared, engine: &mut Engine) -> Result<(), Error> {
    if shared.read_merges && !shared.failed.load(Ordering::Acquire) && engine.maintenance_due() {
        engine.maintain()?;
    }
    Ok(())
}

fn lock(shared: &Shared) -> Result<MutexGuard<'_, Engine>, Error> {
    shared.engine.lock().map_err(|_| Error::Panicked)
}

/// Formats a new store on an empty device and makes it durable.
fn format(device: FileDevice, options: &Options) -> Result<Engine, Error> {
    let mut engine = Engine::format(device, options.config.clone())?;
    engine.sync()?;
    Ok(engine)
}

/// Creates a store at `path`, which did not exist: formats it in a new file
/// beside `path`, then links that file into place, so that `path` never
/// names a half-made store. `Ok(None)` if another process created `path`
/// first.
fn create(path: &Path, options: &Options) -> Result<Option<Engine>, Error> {
    let temp = temp_path(path)?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(io_error(&temp))?;
    let result = (|| {
        let device = FileDevice::from_file(file, options.block_size, options.capacity)
            .map_err(device_error(&temp))?;
        let engine = format(device, options)?;
        match fs::hard_link(&temp, path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
            // A file system without hard links: rename instead, which
            // would replace a store created in the meantime, so look first.
            Err(_) => {
                if fs::symlink_metadata(path).is_ok() {
                    return Ok(None);
                }
                fs::rename(&temp, path).map_err(io_error(path))?;
            }
        }
        sync_parent_dir(path).map_err(io_error(path))?;
        Ok(Some(engine))
    })();
    // Gone already if it was renamed.
    let _ = fs::remove_file(&temp);
    result
}

/// A fresh name beside `path` for a store being created.
fn temp_path(path: &Path) -> Result<PathBuf, Error> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        io_error(path)(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path does not name a file",
        ))
    })?;
    let mut temp = std::ffi::OsString::from(".");
    temp.push(name);
    temp.push(format!(
        ".{}-{}.cairn-new",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    Ok(path.with_file_name(temp))
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Maps an error from opening a [`FileDevice`]: a held lock is
/// [`Error::Locked`].
fn device_error(path: &Path) -> impl Fn(io::Error) -> Error + '_ {
    move |source| {
        if source.kind() == io::ErrorKind::WouldBlock {
            Error::Locked {
                path: path.to_path_buf(),
            }
        } else {
            Error::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    }
}

fn owned<K: AsRef<[u8]> + ?Sized>(bound: Bound<&K>) -> Bound<Vec<u8>> {
    bound.map(|k| k.as_ref().to_vec())
}

fn borrowed(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    bound.as_ref().map(|k| k.as_slice())
}

/// Whether no key can lie between `start` and `end`, including the bounds
/// that a `BTreeMap` would reject (start after end, or equal and excluded).
fn is_empty_range(start: Bound<&[u8]>, end: Bound<&[u8]>) -> bool {
    use Bound::{Excluded, Included};
    match (start, end) {
        (Included(s), Included(e)) => s > e,
        (Included(s) | Excluded(s), Included(e) | Excluded(e)) => s >= e,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_ranges() {
        use Bound::*;
        let (a, b): (&[u8], &[u8]) = (b"a", b"b");
        assert!(!is_empty_range(Included(a), Included(a)));
        assert!(is_empty_range(Included(a), Excluded(a)));
        assert!(is_empty_range(Excluded(a), Included(a)));
        assert!(is_empty_range(Excluded(a), Excluded(a)));
        assert!(is_empty_range(Included(b), Included(a)));
        assert!(!is_empty_range(Included(a), Excluded(b)));
        assert!(!is_empty_range(Excluded(a), Excluded(b)));
        assert!(!is_empty_range(Unbounded, Excluded(a)));
        assert!(!is_empty_range(Included(b), Unbounded));
    }

    #[test]
    fn temp_names_are_hidden_fresh_and_beside_the_path() {
        let path = Path::new("/some/dir/app.cairn");
        let a = temp_path(path).unwrap();
        let b = temp_path(path).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.parent(), path.parent());
        let name = a.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with(".app.cairn."), "{name}");
        assert!(name.ends_with(".cairn-new"), "{name}");
        assert!(temp_path(Path::new("/")).is_err());
    }

    #[test]
    fn db_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Db>();
        assert_send_sync::<Range>();
    }
}
