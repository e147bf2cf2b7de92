//! Stores on disk: [`DiskStore`], the [`Store`] over a `cairn_std::Db`, and
//! [`ImageDevice`], a read-only view of a store file or a raw flash image.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use cairn_core::{BlockDevice, Geometry};
use cairn_std::{Batch, Db, Options};

use crate::store::{CheckOutcome, Op, Stat, Store, StoreError, StoreLimits};

/// The name of the store file inside a data directory.
pub const STORE_FILE: &str = "store.cairn";

/// The store file of the data directory `dir`.
pub fn store_path(dir: &Path) -> PathBuf {
    dir.join(STORE_FILE)
}

/// Maps an error of `cairn_std` to the server's error.
pub fn map_error(e: cairn_std::Error) -> StoreError {
    use cairn_core::Error as E;
    match e {
        cairn_std::Error::Store(E::Full) => StoreError::Full,
        cairn_std::Error::Store(E::TooLarge) => {
            StoreError::TooLarge("key, value or batch too large for the store".into())
        }
        cairn_std::Error::Store(E::EmptyKey) => StoreError::EmptyKey,
        cairn_std::Error::Store(E::Corrupted(c)) => StoreError::Corrupted(c.to_string()),
        cairn_std::Error::Store(E::Poisoned) => StoreError::Poisoned,
        other => StoreError::Other(other.to_string()),
    }
}

/// A [`Store`] over a cairn store file.
#[derive(Debug)]
pub struct DiskStore {
    db: Db,
    limits: StoreLimits,
}

impl DiskStore {
    /// Opens (or, if `options` allow, creates) the store file at `path`.
    pub fn open(path: &Path, options: Options) -> Result<DiskStore, cairn_std::Error> {
        let db = Db::open_with(path, options)?;
        Ok(DiskStore::from_db(db))
    }

    /// Wraps an open handle.
    pub fn from_db(db: Db) -> DiskStore {
        let config = db.config();
        let block_size = db.stats().block_size as usize;
        DiskStore {
            limits: StoreLimits {
                max_key_len: config.max_key_len,
                max_value_len: config.max_value_len,
                // A batch must fit one log block, with room for its framing.
                max_batch_bytes: block_size / 2,
            },
            db,
        }
    }

    /// The handle.
    pub fn db(&self) -> &Db {
        &self.db
    }
}

impl Store for DiskStore {
    fn describe(&self) -> String {
        self.db.path().display().to_string()
    }

    fn limits(&self) -> StoreLimits {
        self.limits
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.db.get(key).map_err(map_error)
    }

    fn write(&self, ops: &[Op]) -> Result<(), StoreError> {
        match ops {
            [] => Ok(()),
            [Op::Put(k, v)] => self.db.put(k, v),
            [Op::Delete(k)] => self.db.delete(k),
            _ => {
                let mut batch = Batch::new();
                for op in ops {
                    match op {
                        Op::Put(k, v) => batch.put(k, v),
                        Op::Delete(k) => batch.delete(k),
                    }
                }
                self.db.write(&batch)
            }
        }
        .map_err(map_error)
    }

    fn scan(
        &self,
        start: Bound<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        // The chunked iterator holds the store's lock only while it reads a
        // chunk, so a long scan does not stall the writer.
        for entry in self.db.range::<[u8], _>((start, Bound::Unbounded)) {
            let (k, v) = entry.map_err(map_error)?;
            if !visit(&k, &v) {
                break;
            }
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(map_error)?;
        self.db.sync().map_err(map_error)
    }

    fn compact(&self) -> Result<(), StoreError> {
        self.db.compact().map_err(map_error)
    }

    fn stats(&self) -> Vec<Stat> {
        engine_stats(&self.db.stats())
    }

    fn check(&self) -> Result<CheckOutcome, StoreError> {
        let report = self.db.check().map_err(map_error)?;
        Ok(check_outcome(&report))
    }
}

/// The engine's statistics as named numbers.
pub fn engine_stats(s: &cairn_std::Stats) -> Vec<Stat> {
    let c = Stat::counter;
    let g = |name: &str, v: f64, help| Stat::gauge(name, v, help);
    let mut out = vec![
        c("puts", s.puts, "Puts that succeeded."),
        c("deletes", s.deletes, "Deletes that succeeded."),
        c("gets", s.gets, "Point lookups."),
        c("batches", s.batches, "Atomic batches written."),
        c("scans", s.scans, "Range scans started."),
        c("flushes", s.flushes, "Memtable flushes into tables."),
        c("compactions", s.compactions, "Compactions run."),
        c(
            "user_bytes_written",
            s.user_bytes_written,
            "Key and value bytes handed to writes.",
        ),
        c("device_reads", s.device_reads, "Device read calls."),
        c("bytes_read", s.bytes_read, "Bytes read from the device."),
        c("programs", s.programs, "Device program calls."),
        c(
            "bytes_programmed",
            s.bytes_programmed,
            "Bytes programmed on the device.",
        ),
        c("erases", s.erases, "Blocks erased."),
        c("syncs", s.syncs, "Device syncs."),
        c(
            "table_block_reads",
            s.table_block_reads,
            "Table data blocks read.",
        ),
        c(
            "read_merges",
            s.read_merges,
            "Merges into one sorted run that reads paid for.",
        ),
    ];
    for (level, n) in s.tables_per_level.iter().enumerate() {
        out.push(g(
            &format!("tables_l{level}"),
            f64::from(*n),
            "Live tables on this level.",
        ));
    }
    out.extend([
        g(
            "blocks_in_use",
            f64::from(s.blocks_in_use),
            "Blocks holding data, the log or the manifest.",
        ),
        g(
            "blocks_free",
            f64::from(s.blocks_free),
            "Blocks free for new data.",
        ),
        g("block_size", f64::from(s.block_size), "Bytes per block."),
        g(
            "block_count",
            f64::from(s.block_count),
            "Blocks on the device.",
        ),
        g(
            "memtable_bytes",
            s.memtable_bytes as f64,
            "Bytes held by the memtable.",
        ),
        g(
            "wal_blocks",
            f64::from(s.wal_blocks),
            "Blocks in the write-ahead log.",
        ),
        g("table_bytes", s.table_bytes as f64, "Bytes of live tables."),
        g(
            "write_amplification",
            s.write_amplification(),
            "Bytes programmed per byte written.",
        ),
    ]);
    out
}

/// A check report as the tools and the server show it.
pub fn check_outcome(r: &cairn_std::CheckReport) -> CheckOutcome {
    CheckOutcome {
        summary: vec![
            ("tables".into(), r.tables.to_string()),
            ("entries".into(), r.entries.to_string()),
            ("blocks_checked".into(), r.blocks_checked.to_string()),
        ],
        problems: r.problems.iter().map(|p| p.to_string()).collect(),
        problem_count: r.problem_count(),
    }
}

/// A device over a store file or a raw flash image that never changes it.
///
/// Reads come from the file (bytes past its end read as zeros, as in a
/// sparse store file). Programs and erases, which opening a store may make
/// while it recovers, land in memory only, so the engine can mount and
/// verify an image without touching it.
#[derive(Debug)]
pub struct ImageDevice {
    file: File,
    len: u64,
    geometry: Geometry,
    changed: HashMap<u32, Vec<u8>>,
}

impl ImageDevice {
    /// Opens `path` read-only as a device of `geometry`.
    pub fn open(path: &Path, geometry: Geometry) -> io::Result<ImageDevice> {
        geometry
            .validate()
            .map_err(|why| io::Error::new(io::ErrorKind::InvalidInput, why))?;
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(ImageDevice {
            file,
            len,
            geometry,
            changed: HashMap::new(),
        })
    }

    /// The image's length in bytes.
    pub fn file_len(&self) -> u64 {
        self.len
    }

    /// Reads from the file itself, ignoring changes made in memory.
    pub fn read_original(&self, block: u32, offset: u32, buf: &mut [u8]) -> io::Result<()> {
        let pos = u64::from(block) * u64::from(self.geometry.block_size) + u64::from(offset);
        buf.fill(0);
        if pos >= self.len {
            return Ok(());
        }
        let n = (self.len - pos).min(buf.len() as u64) as usize;
        read_exact_at(&self.file, &mut buf[..n], pos)
    }

    fn check_range(&self, block: u32, offset: u32, len: usize) -> io::Result<()> {
        let end = u64::from(offset) + len as u64;
        if block >= self.geometry.block_count || end > u64::from(self.geometry.block_size) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("access past the device: block {block}, offset {offset}, {len} bytes"),
            ));
        }
        Ok(())
    }

    fn block_copy(&mut self, block: u32) -> io::Result<&mut Vec<u8>> {
        if !self.changed.contains_key(&block) {
            let mut data = vec![0; self.geometry.block_size as usize];
            self.read_original(block, 0, &mut data)?;
            self.changed.insert(block, data);
        }
        Ok(self.changed.get_mut(&block).expect("inserted above"))
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, pos)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut pos: u64) -> io::Result<()> {
    while !buf.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_read(file, buf, pos)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        pos += n as u64;
    }
    Ok(())
}

impl BlockDevice for ImageDevice {
    type Error = io::Error;

    fn geometry(&self) -> Geometry {
        self.geometry
    }

    fn read(&mut self, block: u32, offset: u32, buf: &mut [u8]) -> io::Result<()> {
        self.check_range(block, offset, buf.len())?;
        match self.changed.get(&block) {
            Some(data) => {
                let o = offset as usize;
                buf.copy_from_slice(&data[o..o + buf.len()]);
                Ok(())
            }
            None => self.read_original(block, offset, buf),
        }
    }

    fn program(&mut self, block: u32, offset: u32, data: &[u8]) -> io::Result<()> {
        self.check_range(block, offset, data.len())?;
        let o = offset as usize;
        self.block_copy(block)?[o..o + data.len()].copy_from_slice(data);
        Ok(())
    }

    fn erase(&mut self, block: u32) -> io::Result<()> {
        self.check_range(block, 0, 0)?;
        self.changed
            .insert(block, vec![0xFF; self.geometry.block_size as usize]);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_store_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = store_path(dir.path());
        let store = DiskStore::open(&path, Options::default()).unwrap();
        store
            .write(&[
                Op::Put(b"a".to_vec(), b"1".to_vec()),
                Op::Put(b"b".to_vec(), b"2".to_vec()),
                Op::Delete(b"a".to_vec()),
            ])
            .unwrap();
        store
            .write(&[Op::Put(b"c".to_vec(), b"3".to_vec())])
            .unwrap();
        assert_eq!(store.get(b"b").unwrap(), Some(b"2".to_vec()));
        assert_eq!(store.len().unwrap(), 2);
        assert_eq!(store.get(b""), Err(StoreError::EmptyKey));
        store.flush().unwrap();
        assert!(store.check().unwrap().problems.is_empty());
        drop(store);
        let store = DiskStore::open(&path, Options::default()).unwrap();
        let mut keys = Vec::new();
        store
            .scan(Bound::Unbounded, &mut |k, _| {
                keys.push(k.to_vec());
                true
            })
            .unwrap();
        assert_eq!(keys, vec![b"b".to_vec(), b"c".to_vec()]);
    }

    #[test]
    fn image_device_keeps_changes_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("img");
        std::fs::write(&path, vec![7u8; 2048]).unwrap();
        let g = Geometry {
            block_size: 1024,
            block_count: 4,
            read_size: 1,
            program_size: 1,
        };
        let mut dev = ImageDevice::open(&path, g).unwrap();
        let mut buf = [0u8; 4];
        dev.read(1, 1020, &mut buf).unwrap();
        assert_eq!(buf, [7; 4]);
        dev.read(3, 0, &mut buf).unwrap();
        assert_eq!(buf, [0; 4], "past the end of the file reads as zeros");
        dev.erase(0).unwrap();
        dev.program(0, 0, b"abcd").unwrap();
        dev.read(0, 0, &mut buf).unwrap();
        assert_eq!(&buf, b"abcd");
        assert!(dev.read(4, 0, &mut buf).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), vec![7u8; 2048]);
    }
}
