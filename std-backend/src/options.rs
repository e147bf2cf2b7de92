//! [`Options`]: how [`crate::Db`] opens a store.

use std::io;

use cairn_core::{Allocation, Config, Geometry};

use crate::device::{geometry_for, DEFAULT_BLOCK_SIZE, DEFAULT_CAPACITY};

/// How to open a store: the file's geometry, the engine's tuning, and
/// whether to create a missing store. A builder; every setter consumes and
/// returns it.
///
/// The defaults suit most programs: 256 KiB blocks, a capacity of 8 GiB (a
/// ceiling: the file grows only as data is written), a 16 MiB memtable
/// ([`DEFAULT_MEMTABLE_BYTES`]), a 256 MiB block cache
/// ([`DEFAULT_CACHE_BYTES`]), reads that merge the store's sorted runs
/// once they have paid for it ([`Options::read_merges`]), every write durable
/// before it returns, and blocks reused lowest-first so the file stays
/// compact.
///
/// The block size and capacity are not stored apart from the data: cairn
/// records them in every block header, and a store must be reopened with the
/// values it was created with (otherwise opening fails with
/// [`crate::Error::NotAStore`]). Keep the defaults, or pass the same values
/// every time.
///
/// # Example
///
/// ```
/// use cairn_std::Options;
///
/// let options = Options::new()
///     .capacity(1 << 30)
///     .memtable_bytes(4 << 20)
///     .sync_writes(false); // bulk load: call Db::sync when done
/// assert_eq!(options.geometry().unwrap().block_count, 4096);
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    pub(crate) block_size: u32,
    pub(crate) capacity: u64,
    pub(crate) create_if_missing: bool,
    pub(crate) config: Config,
    pub(crate) read_merges: bool,
}

/// Bytes of table data blocks a store on a file keeps cached by default:
/// 256 MiB, a ceiling the cache grows to only as reads bring blocks in (a
/// store smaller than that never holds more than itself). redb's and
/// sled's default caches are 1 GiB, fjall's and RocksDB's 32 MiB. With
/// 64 MiB, 1,000,000 random lookups in a 108 MB store of one sorted run
/// (db_bench's 16-byte keys and 100-byte values) took 1.99 s; with
/// 256 MiB, 1.26 s (`docs/benchmarks-changes.md`).
pub const DEFAULT_CACHE_BYTES: usize = 256 << 20;

/// The memtable of a store on a file by default: 16 MiB of recent writes
/// in memory before they go to tables. Larger memtables mean fewer, larger
/// flushes and less compaction (fills ran 1.6-2x faster than with 1 MiB in
/// `cairn-bench`), at the cost of that much RAM and a longer log to replay
/// when a store opens after a crash (up to twice the memtable).
pub const DEFAULT_MEMTABLE_BYTES: usize = 16 << 20;

impl Default for Options {
    fn default() -> Self {
        Options {
            block_size: DEFAULT_BLOCK_SIZE,
            capacity: DEFAULT_CAPACITY,
            create_if_missing: true,
            config: Config {
                allocation: Allocation::LowestFree,
                cache_bytes: DEFAULT_CACHE_BYTES,
                memtable_bytes: DEFAULT_MEMTABLE_BYTES,
                ..Config::default()
            },
            read_merges: true,
        }
    }
}

impl Options {
    /// The defaults (see the type's docs).
    pub fn new() -> Self {
        Self::default()
    }

    /// Erase-unit size in bytes: a power of two of at least 1024
    /// (default 256 KiB). Must match the size the store was created with.
    pub fn block_size(mut self, bytes: u32) -> Self {
        self.block_size = bytes;
        self
    }

    /// Largest size the file may grow to, in bytes (default 8 GiB). Rounded
    /// down to whole blocks; at least 4 blocks. Never preallocated. Must
    /// match the capacity the store was created with.
    pub fn capacity(mut self, bytes: u64) -> Self {
        self.capacity = bytes;
        self
    }

    /// Whether opening a path with no store creates one (default `true`).
    /// A missing or empty file gets a new store; a file holding anything
    /// else is never overwritten.
    pub fn create_if_missing(mut self, create: bool) -> Self {
        self.create_if_missing = create;
        self
    }

    /// Whether reads may merge the store into one sorted run once they
    /// have paid for it (default `true`).
    ///
    /// A read consults the memtable and every sorted run of tables (each
    /// run of level 0, then each deeper level) until one holds the key; a
    /// range read places a cursor in every one. When the work reads have
    /// spent on runs that did not hold what they sought adds up to what
    /// merging every run into one would cost, the read that finds it so
    /// merges them, under the lock, before it returns
    /// ([`cairn_core::Db::maintain`]): from then on each read consults one
    /// run. The merge costs at most about what reads had already spent, so
    /// reads and merges together cost at most about twice the best
    /// schedule made in hindsight. Turn it off to keep reads from ever
    /// writing, and call [`crate::Db::compact`] when it suits you.
    pub fn read_merges(mut self, on: bool) -> Self {
        self.read_merges = on;
        self
    }

    /// Size of the in-memory write buffer before it is flushed into a table
    /// (default [`DEFAULT_MEMTABLE_BYTES`], 16 MiB).
    pub fn memtable_bytes(mut self, bytes: usize) -> Self {
        self.config.memtable_bytes = bytes;
        self
    }

    /// Bytes of table data blocks kept in memory for reads (default
    /// [`DEFAULT_CACHE_BYTES`]); 0 turns the cache off.
    pub fn cache_bytes(mut self, bytes: usize) -> Self {
        self.config.cache_bytes = bytes;
        self
    }

    /// Whether `put`, `delete` and `write` return only once the change is
    /// durable (default `true`). Turn off for bulk loads and call
    /// [`crate::Db::sync`] at the end; a crash may then lose the writes since
    /// the last sync, though never tear a batch.
    pub fn sync_writes(mut self, sync: bool) -> Self {
        self.config.sync_writes = sync;
        self
    }

    /// Logical size of an SSTable data block (default 4096).
    pub fn data_block_bytes(mut self, bytes: u32) -> Self {
        self.config.data_block_bytes = bytes;
        self
    }

    /// Longest key accepted, in bytes (default 1024).
    pub fn max_key_len(mut self, bytes: usize) -> Self {
        self.config.max_key_len = bytes;
        self
    }

    /// Longest value accepted, in bytes (default 64 KiB).
    pub fn max_value_len(mut self, bytes: usize) -> Self {
        self.config.max_value_len = bytes;
        self
    }

    /// Number of tables in level 0 that triggers a compaction (default 4).
    pub fn l0_compaction_trigger(mut self, tables: usize) -> Self {
        self.config.l0_compaction_trigger = tables;
        self
    }

    /// Growth factor between the sizes of successive levels (default 10).
    pub fn level_size_multiplier(mut self, factor: u32) -> Self {
        self.config.level_size_multiplier = factor;
        self
    }

    /// Bloom filter bits per key (default 10, about 1% false positives).
    pub fn bloom_bits_per_key(mut self, bits: u32) -> Self {
        self.config.bloom_bits_per_key = bits;
        self
    }

    /// Blocks kept free so that compaction and deletes can run when the
    /// store is otherwise full.
    pub fn reserve_blocks(mut self, blocks: u32) -> Self {
        self.config.reserve_blocks = blocks;
        self
    }

    /// How free blocks are chosen (default [`Allocation::LowestFree`], which
    /// keeps the file short).
    pub fn allocation(mut self, allocation: Allocation) -> Self {
        self.config.allocation = allocation;
        self
    }

    /// Replaces the whole engine configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The engine configuration these options open a store with.
    pub fn engine_config(&self) -> &Config {
        &self.config
    }

    /// The geometry of the file device these options describe.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] if the block size or capacity is
    /// unusable.
    pub fn geometry(&self) -> io::Result<Geometry> {
        geometry_for(self.block_size, self.capacity)
    }
}
