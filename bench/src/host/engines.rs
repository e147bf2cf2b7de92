//! The stores measured on a file system, behind one small interface.
//!
//! Each engine is used through its ordinary public API with its default
//! tuning; only durability is set, the same for everyone in a workload:
//! either every write is durable when it returns (`Durability::PerWrite`),
//! or writes are buffered and made durable by one `sync` at the end
//! (`Durability::Buffered`).

use std::ops::Bound;
use std::path::Path;

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// When writes become durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Each write is durable before it returns.
    PerWrite,
    /// Writes reach the OS; `Engine::sync` makes them durable.
    Buffered,
}

/// A store opened in a directory of its own.
pub trait Engine: Send + Sync {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()>;
    fn delete(&self, key: &[u8]) -> Result<()>;
    /// Makes every earlier write durable.
    fn sync(&self) -> Result<()>;
    /// A handle for a run of reads (a read transaction where the engine has
    /// them).
    fn reader(&self) -> Result<Box<dyn Reader + '_>>;
    /// Bytes written to the device per byte the user wrote, if the engine
    /// reports it.
    fn write_amplification(&self) -> Option<f64> {
        None
    }
}

/// Reads. Each returns the number of value bytes seen, so that no read can
/// be optimised away.
pub trait Reader {
    /// Looks `key` up; `None` if it is absent.
    fn get(&mut self, key: &[u8]) -> Result<Option<usize>>;
    /// Reads up to `n` entries from `key` on; returns how many there were.
    fn seek(&mut self, key: &[u8], n: usize) -> Result<usize>;
    /// Reads every entry in key order; returns how many there were.
    fn scan(&mut self) -> Result<usize>;
}

/// The engines this build can measure, cairn first.
pub fn available() -> Vec<&'static str> {
    let mut v = vec!["cairn", "fjall", "redb", "sled"];
    if cfg!(feature = "rocksdb") {
        v.push("rocksdb");
    }
    v
}

/// Opens (creating if needed) engine `name` in `dir`.
pub fn open(name: &str, dir: &Path, durability: Durability) -> Result<Box<dyn Engine>> {
    let per_write = durability == Durability::PerWrite;
    Ok(match name {
        "cairn" => Box::new(Cairn::open(dir, per_write)?),
        "fjall" => Box::new(Fjall::open(dir, per_write)?),
        "redb" => Box::new(Redb::open(dir, per_write)?),
        "sled" => Box::new(Sled::open(dir, per_write)?),
        #[cfg(feature = "rocksdb")]
        "rocksdb" => Box::new(rocks::Rocks::open(dir, per_write)?),
        other => return Err(format!("unknown engine {other:?}").into()),
    })
}

// ---------------------------------------------------------------- cairn

struct Cairn {
    db: cairn_std::Db,
}

impl Cairn {
    fn open(dir: &Path, per_write: bool) -> Result<Self> {
        let options = cairn_std::Options::new().sync_writes(per_write);
        Ok(Cairn {
            db: cairn_std::Db::open_with(dir.join("store.cairn"), options)?,
        })
    }
}

impl Engine for Cairn {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        Ok(self.db.put(key, value)?)
    }
    fn delete(&self, key: &[u8]) -> Result<()> {
        Ok(self.db.delete(key)?)
    }
    fn sync(&self) -> Result<()> {
        Ok(self.db.sync()?)
    }
    fn reader(&self) -> Result<Box<dyn Reader + '_>> {
        Ok(Box::new(CairnReader {
            db: &self.db,
            buf: vec![0; 64 * 1024],
        }))
    }
    fn write_amplification(&self) -> Option<f64> {
        Some(self.db.stats().write_amplification())
    }
}

struct CairnReader<'a> {
    db: &'a cairn_std::Db,
    buf: Vec<u8>,
}

impl Reader for CairnReader<'_> {
    fn get(&mut self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.db.get_into(key, &mut self.buf)?)
    }
    // Ranges are read with `Db::scan`, which lends each key and value to
    // a callback (as redb's guards lend its pages), rather than with
    // `Db::range`, which hands out owned copies.
    fn seek(&mut self, key: &[u8], n: usize) -> Result<usize> {
        let mut seen = 0;
        self.db
            .scan::<[u8], _, _>((Bound::Included(key), Bound::Unbounded), |_, value| {
                std::hint::black_box(value);
                seen += 1;
                seen < n
            })?;
        Ok(seen)
    }
    fn scan(&mut self) -> Result<usize> {
        let mut seen = 0;
        self.db.scan::<[u8], _, _>(.., |_, value| {
            std::hint::black_box(value);
            seen += 1;
            true
        })?;
        Ok(seen)
    }
}

// ---------------------------------------------------------------- fjall

struct Fjall {
    db: fjall::Database,
    items: fjall::Keyspace,
    per_write: bool,
}

impl Fjall {
    fn open(dir: &Path, per_write: bool) -> Result<Self> {
        let db = fjall::Database::builder(dir).open()?;
        let items = db.keyspace("bench", fjall::KeyspaceCreateOptions::default)?;
        Ok(Fjall {
            db,
            items,
            per_write,
        })
    }

    fn after_write(&self) -> Result<()> {
        if self.per_write {
            self.db.persist(fjall::PersistMode::SyncData)?;
        }
        Ok(())
    }
}

impl Engine for Fjall {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.items.insert(key, value)?;
        self.after_write()
    }
    fn delete(&self, key: &[u8]) -> Result<()> {
        self.items.remove(key)?;
        self.after_write()
    }
    fn sync(&self) -> Result<()> {
        Ok(self.db.persist(fjall::PersistMode::SyncData)?)
    }
    fn reader(&self) -> Result<Box<dyn Reader + '_>> {
        Ok(Box::new(FjallReader(&self.items)))
    }
}

struct FjallReader<'a>(&'a fjall::Keyspace);

impl Reader for FjallReader<'_> {
    fn get(&mut self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.0.get(key)?.map(|v| v.len()))
    }
    fn seek(&mut self, key: &[u8], n: usize) -> Result<usize> {
        let mut seen = 0;
        for guard in self.0.range(key..).take(n) {
            let (_, value) = guard.into_inner()?;
            std::hint::black_box(&value);
            seen += 1;
        }
        Ok(seen)
    }
    fn scan(&mut self) -> Result<usize> {
        let mut seen = 0;
        for guard in self.0.iter() {
            let (_, value) = guard.into_inner()?;
            std::hint::black_box(&value);
            seen += 1;
        }
        Ok(seen)
    }
}

// ---------------------------------------------------------------- redb

const REDB_TABLE: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("bench");

struct Redb {
    db: redb::Database,
    per_write: bool,
}

impl Redb {
    fn open(dir: &Path, per_write: bool) -> Result<Self> {
        let db = redb::Database::create(dir.join("store.redb"))?;
        let tx = db.begin_write()?;
        tx.open_table(REDB_TABLE)?;
        tx.commit()?;
        Ok(Redb { db, per_write })
    }

    /// One write transaction, durable or not as configured.
    fn write(&self, f: impl FnOnce(&mut redb::Table<&[u8], &[u8]>) -> Result<()>) -> Result<()> {
        let mut tx = self.db.begin_write()?;
        if !self.per_write {
            tx.set_durability(redb::Durability::None)?;
        }
        {
            let mut table = tx.open_table(REDB_TABLE)?;
            f(&mut table)?;
        }
        tx.commit()?;
        Ok(())
    }
}

impl Engine for Redb {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.write(|t| {
            t.insert(key, value)?;
            Ok(())
        })
    }
    fn delete(&self, key: &[u8]) -> Result<()> {
        self.write(|t| {
            t.remove(key)?;
            Ok(())
        })
    }
    fn sync(&self) -> Result<()> {
        // An empty transaction committed durably makes the earlier
        // non-durable ones durable too.
        let mut tx = self.db.begin_write()?;
        tx.set_durability(redb::Durability::Immediate)?;
        tx.commit()?;
        Ok(())
    }
    fn reader(&self) -> Result<Box<dyn Reader + '_>> {
        use redb::ReadableDatabase;
        let tx = self.db.begin_read()?;
        Ok(Box::new(RedbReader(tx.open_table(REDB_TABLE)?)))
    }
}

struct RedbReader(redb::ReadOnlyTable<&'static [u8], &'static [u8]>);

impl Reader for RedbReader {
    fn get(&mut self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.0.get(key)?.map(|v| v.value().len()))
    }
    fn seek(&mut self, key: &[u8], n: usize) -> Result<usize> {
        let mut seen = 0;
        for entry in self.0.range(key..)?.take(n) {
            let (_, value) = entry?;
            std::hint::black_box(value.value());
            seen += 1;
        }
        Ok(seen)
    }
    fn scan(&mut self) -> Result<usize> {
        use redb::ReadableTable;
        let mut seen = 0;
        for entry in self.0.iter()? {
            let (_, value) = entry?;
            std::hint::black_box(value.value());
            seen += 1;
        }
        Ok(seen)
    }
}

// ---------------------------------------------------------------- sled

struct Sled {
    db: sled::Db,
    per_write: bool,
}

impl Sled {
    fn open(dir: &Path, per_write: bool) -> Result<Self> {
        // No background flusher: durability comes from the explicit
        // flushes, as for everyone else.
        let db = sled::Config::new().path(dir).flush_every_ms(None).open()?;
        Ok(Sled { db, per_write })
    }

    fn after_write(&self) -> Result<()> {
        if self.per_write {
            self.db.flush()?;
        }
        Ok(())
    }
}

impl Engine for Sled {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.db.insert(key, value)?;
        self.after_write()
    }
    fn delete(&self, key: &[u8]) -> Result<()> {
        self.db.remove(key)?;
        self.after_write()
    }
    fn sync(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
    fn reader(&self) -> Result<Box<dyn Reader + '_>> {
        Ok(Box::new(SledReader(&self.db)))
    }
}

struct SledReader<'a>(&'a sled::Db);

impl Reader for SledReader<'_> {
    fn get(&mut self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.0.get(key)?.map(|v| v.len()))
    }
    fn seek(&mut self, key: &[u8], n: usize) -> Result<usize> {
        let mut seen = 0;
        for entry in self.0.range(key..).take(n) {
            let (_, value) = entry?;
            std::hint::black_box(&value);
            seen += 1;
        }
        Ok(seen)
    }
    fn scan(&mut self) -> Result<usize> {
        let mut seen = 0;
        for entry in self.0.iter() {
            let (_, value) = entry?;
            std::hint::black_box(&value);
            seen += 1;
        }
        Ok(seen)
    }
}

// ---------------------------------------------------------------- rocksdb

#[cfg(feature = "rocksdb")]
mod rocks {
    use super::{Engine, Reader, Result};
    use std::path::Path;

    pub struct Rocks {
        db: rocksdb::DB,
        per_write: bool,
    }

    impl Rocks {
        pub fn open(dir: &Path, per_write: bool) -> Result<Self> {
            let mut options = rocksdb::Options::default();
            options.create_if_missing(true);
            Ok(Rocks {
                db: rocksdb::DB::open(&options, dir)?,
                per_write,
            })
        }

        fn write_options(&self) -> rocksdb::WriteOptions {
            let mut w = rocksdb::WriteOptions::default();
            w.set_sync(self.per_write);
            w
        }
    }

    impl Engine for Rocks {
        fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
            Ok(self.db.put_opt(key, value, &self.write_options())?)
        }
        fn delete(&self, key: &[u8]) -> Result<()> {
            Ok(self.db.delete_opt(key, &self.write_options())?)
        }
        fn sync(&self) -> Result<()> {
            Ok(self.db.flush_wal(true)?)
        }
        fn reader(&self) -> Result<Box<dyn Reader + '_>> {
            Ok(Box::new(RocksReader(&self.db)))
        }
    }

    struct RocksReader<'a>(&'a rocksdb::DB);

    impl Reader for RocksReader<'_> {
        fn get(&mut self, key: &[u8]) -> Result<Option<usize>> {
            Ok(self.0.get_pinned(key)?.map(|v| v.len()))
        }
        fn seek(&mut self, key: &[u8], n: usize) -> Result<usize> {
            let mode = rocksdb::IteratorMode::From(key, rocksdb::Direction::Forward);
            let mut seen = 0;
            for entry in self.0.iterator(mode).take(n) {
                let (_, value) = entry?;
                std::hint::black_box(&value);
                seen += 1;
            }
            Ok(seen)
        }
        fn scan(&mut self) -> Result<usize> {
            let mut seen = 0;
            for entry in self.0.iterator(rocksdb::IteratorMode::Start) {
                let (_, value) = entry?;
                std::hint::black_box(&value);
                seen += 1;
            }
            Ok(seen)
        }
    }
}
