//! `Db`: the store. Mounting and recovery, the write path, flushes,
//! compaction, reads and scans, and the consistency check.
//!
//! The commit protocol (see `docs/format.md` for the case analysis):
//!
//! 1. New tables and log blocks are written into blocks that no manifest
//!    a crash could fall back to references, then made durable with
//!    `sync`.
//! 2. A manifest record naming them is appended to the current metadata
//!    block (or written into a freshly started one). It is not synced: it
//!    is in force once a later sync returns.
//! 3. Only after that sync are the blocks the new manifest no longer
//!    references released for reuse.
//!
//! A crash before the record is durable leaves an earlier manifest in
//! force, and everything it references untouched.

#[cfg(feature = "alloc")]
use alloc::collections::VecDeque;

#[cfg(feature = "alloc")]
use alloc::vec::Vec;
use core::ops::Bound;

use crate::cache::BlockCache;
use crate::device::{BlockDevice, Geometry};
use crate::error::{Corruption, Error};
use crate::format::{
    entry_len, parse_record, put_entry, read_entry, record_len, round_up, seal_record, BlockHeader,
    BlockKind, Reader, FOOTER_LEN, FORMAT_VERSION, FRAME_LEN, HEADER_LEN, MAX_HEADER_LEN,
};
use crate::io::Io;
use crate::levels::{Keys, KeysView, Levels};
use crate::list::{List, Memory, Overflow, Source};
use crate::logging::{debug, log_warn};
use crate::manifest::{self, WalRef, LEVELS};
use crate::memtable::{Arena, Memtable, MAX_ARENA};
use crate::sizes::{Sizes, MAX_RUNS};
use crate::table::{Layout, Lookup, ReadCtx, Table, TableBuilder, TableCursor};

/// What the header scan found: the highest epoch and its block, and the
/// format version of a metadata block of another format version, if any.
type HeaderScan = (u64, u32, Option<u16>);

type Result<T, D> = core::result::Result<T, Error<<D as BlockDevice>::Error>>;

/// How free blocks are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Allocation {
    /// Take the next free block after the last one allocated, wrapping
    /// around: every block is used in turn, which spreads erases evenly
    /// over flash.
    RoundRobin,
    /// Take the lowest-numbered free block: keeps a file compact.
    LowestFree,
}

/// Tuning of a store. The defaults suit a store on a PC; see the field docs
/// for microcontrollers.
#[derive(Clone, Debug)]
pub struct Config {
    /// Bytes of recent writes kept in memory before they are flushed into
    /// a table: the size of the memtable's arena, allocated once when the
    /// store opens. Also bounds the write-ahead log, and the largest batch
    /// (see `Db::write`); `max_value_len` is lowered so that one put of
    /// the longest key and value fits.
    ///
    /// A log written with a larger memtable (before `memtable_bytes` was
    /// lowered) is replayed into an arena grown for it, back to this size
    /// after the next flush. (A store in fixed memory, [`Db::open_in`],
    /// refuses to open such a log instead, with [`Error::OutOfMemory`].)
    pub memtable_bytes: usize,
    /// Target size of a table's data block, the unit a lookup reads.
    /// Capped at a quarter of the device's block size and at 32 KiB.
    pub data_block_bytes: u32,
    /// Longest key accepted, at most 1024.
    pub max_key_len: usize,
    /// Longest value accepted; lowered automatically to what fits a block
    /// and the memtable.
    pub max_value_len: usize,
    /// Level 0 is merged into level 1 once it holds this many memtables'
    /// worth of tables.
    pub l0_compaction_trigger: usize,
    /// Each level below 1 may hold at most this many times the one above
    /// (the levels between level 1 and the deepest are sized from the data
    /// in the deepest; see `docs/embedded.md`).
    pub level_size_multiplier: u32,
    /// Bloom filter bits per key (10 gives about 1% false positives).
    pub bloom_bits_per_key: u32,
    /// `put`, `delete` and `write` return only once the change is durable.
    /// Turn off for bulk loads and call [`Db::sync`] yourself.
    pub sync_writes: bool,
    /// Blocks kept back for flushes, compaction and deletes when the store
    /// is full; 0 picks a default from the geometry.
    pub reserve_blocks: u32,
    /// How free blocks are picked.
    pub allocation: Allocation,
    /// Bytes of table data blocks kept in memory after a lookup or scan
    /// reads them. 0, the default, turns the cache off (a microcontroller
    /// rarely has RAM to spare; a store in fixed memory has none);
    /// `cairn-std` turns it on with 256 MiB.
    pub cache_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}

impl Config {
    /// The defaults, for `const` configurations:
    /// `Config { memtable_bytes: 4096, ..Config::DEFAULT }`.
    pub const DEFAULT: Config = Config {
        memtable_bytes: 1 << 20,
        data_block_bytes: 4096,
        max_key_len: 1024,
        max_value_len: 65536,
        l0_compaction_trigger: 4,
        level_size_multiplier: 10,
        bloom_bits_per_key: 10,
        sync_writes: true,
        reserve_blocks: 0,
        allocation: Allocation::RoundRobin,
        cache_bytes: 0,
    };

    /// Bytes of [`Memory`] a store of this configuration on a device of
    /// `geometry` needs to run without a heap ([`Db::format_in`],
    /// [`Db::open_in`]): the memtable's arena, a slot of twice
    /// `max_key_len` and a few words per block of the device, read and
    /// write buffers sized by the block and data block sizes, and a cursor
    /// for each sorted run a scan may merge. A `const fn`, so that the
    /// buffer can be a `static`:
    ///
    /// ```
    /// use cairn_core::{Config, Geometry};
    ///
    /// const GEOMETRY: Geometry = Geometry {
    ///     block_size: 4096,
    ///     block_count: 256,
    ///     read_size: 1,
    ///     program_size: 1,
    /// };
    /// const CONFIG: Config = Config {
    ///     memtable_bytes: 4096,
    ///     max_key_len: 32,
    ///     max_value_len: 256,
    ///     data_block_bytes: 512,
    ///     ..Config::DEFAULT
    /// };
    /// const NEEDED: usize = CONFIG.memory_needed(&GEOMETRY);
    /// static MEMORY: [u8; NEEDED] = [0; NEEDED];
    /// // A 1 MiB SPI NOR part with 32-byte keys: about 51 KiB.
    /// assert!(MEMORY.len() < 60 * 1024);
    /// ```
    pub const fn memory_needed(&self, geometry: &Geometry) -> usize {
        Sizes::of(self, geometry).memory()
    }
}

/// Counters and gauges of a store, from [`Db::stats`].
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// `put` calls that succeeded.
    pub puts: u64,
    /// `delete` calls that succeeded.
    pub deletes: u64,
    /// `get` calls.
    pub gets: u64,
    /// Batches written.
    pub batches: u64,
    /// Range scans started.
    pub scans: u64,
    /// Memtable flushes.
    pub flushes: u64,
    /// Compactions run (moves included).
    pub compactions: u64,
    /// Key and value bytes handed to writes.
    pub user_bytes_written: u64,
    /// Device read calls.
    pub device_reads: u64,
    /// Bytes read from the device.
    pub bytes_read: u64,
    /// Device program calls.
    pub programs: u64,
    /// Bytes programmed.
    pub bytes_programmed: u64,
    /// Blocks erased.
    pub erases: u64,
    /// Device syncs.
    pub syncs: u64,
    /// Table data blocks read by lookups and scans.
    pub table_block_reads: u64,
    /// Tables' indexes and bloom filters read from the device (those not
    /// found in the block cache).
    pub table_meta_reads: u64,
    /// Merges of every sorted run into one that reads paid for
    /// ([`Db::maintain`]).
    pub read_merges: u64,
    /// Live tables per level.
    pub tables_per_level: [u32; LEVELS],
    /// Blocks holding live data, the log or the manifest.
    pub blocks_in_use: u32,
    /// Blocks free for new data.
    pub blocks_free: u32,
    /// The device's block size.
    pub block_size: u32,
    /// The device's block count.
    pub block_count: u32,
    /// Bytes held by the memtable.
    pub memtable_bytes: usize,
    /// Blocks in the write-ahead log.
    pub wal_blocks: u32,
    /// Bytes of live tables (their used part).
    pub table_bytes: u64,
    /// Lookups served from the block cache.
    pub cache_hits: u64,
    /// Lookups that had to read a data block from the device.
    pub cache_misses: u64,
    /// Bytes held by the block cache.
    pub cache_bytes: usize,
}

impl Stats {
    /// Bytes programmed on the device per byte the user wrote.
    pub fn write_amplification(&self) -> f64 {
        if self.user_bytes_written == 0 {
            0.0
        } else {
            self.bytes_programmed as f64 / self.user_bytes_written as f64
        }
    }
}

/// What [`Db::check`] found.
#[derive(Clone, Debug, Default)]
pub struct CheckReport {
    /// Tables verified.
    pub tables: u32,
    /// Entries read back from them.
    pub entries: u64,
    /// Blocks whose every structure was read and verified.
    pub blocks_checked: u32,
    /// What was found wrong, each with the block it was found in (the
    /// first [`CheckReport::MAX_LISTED`]); empty for a healthy store.
    pub problems: heapless::Vec<Corruption, { CheckReport::MAX_LISTED }>,
    /// Problems found beyond those listed.
    pub unlisted: u32,
}

impl CheckReport {
    /// How many problems a report lists; it counts the rest.
    pub const MAX_LISTED: usize = 16;

    /// Whether nothing was found wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// How many problems were found, listed or not.
    pub fn problem_count(&self) -> usize {
        self.problems.len() + self.unlisted as usize
    }

    fn found(&mut self, block: u32, what: &'static str) {
        if self.problems.push(Corruption { block, what }).is_err() {
            self.unlisted += 1;
        }
    }
}

/// An atomic group of writes: all of it survives a crash, or none of it.
///
/// ```
/// use cairn_core::{Batch, Config, Db, device::RamDevice};
///
/// let mut db = Db::format(RamDevice::new(4096, 32, 4), Config::default()).unwrap();
/// let mut batch = Batch::new();
/// batch.put(b"from", b"90");
/// batch.put(b"to", b"110");
/// batch.delete(b"pending");
/// db.write(&batch).unwrap();
/// assert_eq!(db.get_vec(b"to").unwrap().as_deref(), Some(&b"110"[..]));
/// ```
#[cfg(feature = "alloc")]
#[derive(Clone, Debug, Default)]
pub struct Batch {
    ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

#[cfg(feature = "alloc")]
impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Batch::default()
    }
    /// Adds a put.
    pub fn put(&mut self, key: &[u8], value: &[u8]) {
        self.ops.push((key.to_vec(), Some(value.to_vec())));
    }
    /// Adds a delete.
    pub fn delete(&mut self, key: &[u8]) {
        self.ops.push((key.to_vec(), None));
    }
    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    /// Whether the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
    /// Removes every operation.
    pub fn clear(&mut self) {
        self.ops.clear();
    }
}

#[derive(Default, Clone, Copy)]
struct OpCounts {
    puts: u64,
    deletes: u64,
    gets: u64,
    batches: u64,
    scans: u64,
    flushes: u64,
    compactions: u64,
    user_bytes: u64,
    table_block_reads: u64,
    table_meta_reads: u64,
    read_merges: u64,
    /// What reads have spent, since the last merge, on runs that did not
    /// hold what they looked for (see [`Db::maintenance_due`]), in bytes
    /// of merging it would pay for.
    read_debt: u64,
}

/// Which blocks are free, and the epoch counter.
struct Space {
    /// Blocks of the device.
    blocks: u32,
    /// One bit per block: in use.
    used: List<u32>,
    free: u32,
    cursor: u32,
    policy: Allocation,
    reserve: u32,
    next_epoch: u64,
    /// One bit per block: a commit not yet known durable stopped naming
    /// it. The durable manifest, or one a crash may still fall back to, may
    /// name it, so it stays in use until the next sync.
    pending: List<u32>,
    /// How many bits `pending` has set.
    pending_count: u32,
    /// One bit per block: a change not yet committed (a compaction)
    /// stopped naming it, and the last manifest programmed names it. The
    /// next commit moves it to `pending`.
    deferred: List<u32>,
    /// How many bits `deferred` has set.
    deferred_count: u32,
    /// No sync since this handle was made. The manifest it mounted may be
    /// a commit another handle never synced (it closed without `sync`,
    /// leaving the record in a file's page cache): the blocks that commit
    /// freed may be named by the manifest a crash would fall back to, so
    /// no block is reused before a sync.
    fresh: bool,
}

/// Bit `b` of a bitmap.
fn bit(map: &[u32], b: u32) -> bool {
    map.get((b / 32) as usize)
        .is_some_and(|w| w & (1 << (b % 32)) != 0)
}

/// The blocks whose bits are set in a bitmap.
fn set_bits(map: &[u32]) -> impl Iterator<Item = u32> + '_ {
    (0..map.len() as u32 * 32).filter(|&b| bit(map, b))
}

/// Clears a bitmap, calling `f` with each block whose bit was set.
fn drain_bits(map: &mut [u32], mut f: impl FnMut(u32)) {
    for (w, word) in map.iter_mut().enumerate() {
        let mut bits = core::mem::take(word);
        while bits != 0 {
            f(w as u32 * 32 + bits.trailing_zeros());
            bits &= bits - 1;
        }
    }
}

/// Sets bit `b` of a bitmap to `on`.
fn set_bit(map: &mut [u32], b: u32, on: bool) {
    if let Some(w) = map.get_mut((b / 32) as usize) {
        if on {
            *w |= 1 << (b % 32);
        } else {
            *w &= !(1 << (b % 32));
        }
    }
}

impl Space {
    fn is_used(&self, b: u32) -> bool {
        bit(&self.used, b)
    }

    fn mark(&mut self, b: u32) {
        if !self.is_used(b) {
            set_bit(&mut self.used, b, true);
            self.free -= 1;
        }
    }

    fn release(&mut self, b: u32) {
        if self.is_used(b) {
            set_bit(&mut self.used, b, false);
            self.free += 1;
        }
    }

    /// Releases `b` once a sync has made the commit that freed it durable.
    fn release_after_sync(&mut self, b: u32) {
        if self.is_used(b) && !bit(&self.pending, b) {
            set_bit(&mut self.pending, b, true);
            self.pending_count += 1;
        }
    }

    /// A sync has returned: every commit programmed before it is durable.
    fn synced(&mut self) {
        self.fresh = false;
        if self.pending_count == 0 {
            return;
        }
        let mut pending = core::mem::take(&mut self.pending);
        drain_bits(&mut pending, |b| self.release(b));
        self.pending = pending;
        self.pending_count = 0;
    }

    /// Blocks awaiting release after the next sync.
    fn pending_blocks(&self) -> impl Iterator<Item = u32> + '_ {
        set_bits(&self.pending)
    }

    /// `b` awaits the next commit.
    fn defer(&mut self, b: u32) {
        if !bit(&self.deferred, b) {
            set_bit(&mut self.deferred, b, true);
            self.deferred_count += 1;
        }
    }

    /// Blocks awaiting the next commit.
    fn deferred_blocks(&self) -> impl Iterator<Item = u32> + '_ {
        set_bits(&self.deferred)
    }

    /// A commit was programmed: the blocks it stopped naming, deferred ones
    /// included, are released after the next sync.
    fn committed(&mut self) {
        let mut deferred = core::mem::take(&mut self.deferred);
        drain_bits(&mut deferred, |b| self.release_after_sync(b));
        self.deferred = deferred;
        self.deferred_count = 0;
    }

    /// Free blocks, counting those a sync will release.
    fn available(&self) -> u32 {
        self.free + self.pending_count
    }

    fn can_allocate(&self, internal: bool) -> bool {
        self.free > 0 && (internal || self.free > self.reserve)
    }

    /// Picks a free block. User writes may not dig into the reserve.
    fn allocate<E>(&mut self, internal: bool) -> core::result::Result<u32, Error<E>> {
        if !self.can_allocate(internal) {
            return Err(Error::Full);
        }
        let n = self.blocks;
        let start = match self.policy {
            Allocation::RoundRobin => self.cursor % n,
            Allocation::LowestFree => 0,
        };
        for i in 0..n {
            let b = (start + i) % n;
            if !self.is_used(b) {
                self.mark(b);
                self.cursor = b + 1;
                return Ok(b);
            }
        }
        Err(Error::Full)
    }
}

/// Syncs the device; the blocks that commits programmed before the sync
/// freed are then released.
fn sync_device<D: BlockDevice>(io: &mut Io<D>, space: &mut Space) -> Result<(), D> {
    io.sync()?;
    space.synced();
    Ok(())
}

/// Picks a free block; if none is free but commits have freed some, syncs
/// to make those commits durable and takes one of their blocks. The first
/// block a handle takes is taken after a sync (see `Space::fresh`).
fn allocate_block<D: BlockDevice>(
    io: &mut Io<D>,
    space: &mut Space,
    internal: bool,
) -> Result<u32, D> {
    if space.fresh || (!space.can_allocate(internal) && space.pending_count > 0) {
        sync_device(io, space)?;
    }
    space.allocate(internal)
}

/// Erases a free block and writes its header. Returns (block, epoch).
fn start_block<D: BlockDevice>(
    io: &mut Io<D>,
    space: &mut Space,
    l: &Layout,
    kind: BlockKind,
    internal: bool,
) -> Result<(u32, u64), D> {
    let b = allocate_block(io, space, internal)?;
    let epoch = space.next_epoch;
    space.next_epoch += 1;
    // A header is at most 256 bytes: alignment is at most 256.
    let mut hdr = [0xFF; MAX_HEADER_LEN];
    let hdr = &mut hdr[..l.header_len];
    BlockHeader {
        kind,
        epoch,
        block_size: l.block_size as u32,
        block_count: io.geo.block_count,
    }
    .emit(hdr);
    io.erase(b)?;
    io.program(b, 0, hdr)?;
    Ok((b, epoch))
}

/// Adds an entry to a table being built, starting the table in a fresh
/// block on its first entry.
fn add_to_table<D: BlockDevice>(
    io: &mut Io<D>,
    space: &mut Space,
    l: &Layout,
    builder: &mut TableBuilder,
    key: &[u8],
    value: Option<&[u8]>,
) -> Result<(), D> {
    builder.add(key, value, io, |io| {
        start_block(io, space, l, BlockKind::Table, true)
    })
}

/// Finishes a table and stages it in `levels`. Whatever happens, the
/// block is accounted for: staged on success, released on failure.
fn write_table<D: BlockDevice>(
    io: &mut Io<D>,
    space: &mut Space,
    builder: &mut TableBuilder,
    levels: &mut Levels,
    keys: &mut Keys,
) -> Result<(), D> {
    let block = builder.block();
    let r = builder.finish(io, keys).and_then(|t| {
        levels.stage(t).inspect_err(|_| keys.release(&t))?;
        Ok(())
    });
    if r.is_err() {
        if let Some(b) = block {
            space.release(b);
        }
    }
    r
}

/// Releases the blocks and key ranges of the tables staged from `from`
/// on, and drops them.
fn unstage_from(levels: &mut Levels, keys: &mut Keys, space: &mut Space, from: usize) {
    for t in levels.staged().get(from..).unwrap_or_default() {
        space.release(t.block);
        keys.release(t);
    }
    levels.unstage_from(from);
}

/// Iterates a run of non-overlapping tables in key order: tables
/// `from..to` of level `lvl`. It names its tables by position rather than
/// borrowing them, so that a store can keep its scans' cursors (and their
/// buffers) from one scan to the next; every method that reads is handed
/// the levels the positions refer to.
struct RunCursor {
    lvl: usize,
    from: usize,
    to: usize,
    /// The table being read, counted from `from`.
    ti: usize,
    c: TableCursor,
    /// Whether the run stands at the key a scan is visiting.
    at_key: bool,
}

impl RunCursor {
    #[cfg(feature = "alloc")]
    fn new(lvl: usize, from: usize, to: usize) -> Self {
        RunCursor {
            lvl,
            from,
            to,
            ti: 0,
            c: TableCursor::new(),
            at_key: false,
        }
    }

    fn len(&self) -> usize {
        self.to - self.from
    }

    /// The run's tables in `levels`.
    fn tables<'t>(&self, levels: &'t Levels) -> &'t [Table] {
        levels.run(self.lvl, self.from, self.to)
    }

    fn seek<D: BlockDevice>(
        &mut self,
        (levels, keys): (&Levels, &Keys),
        io: &mut Io<D>,
        l: &Layout,
        start: Bound<&[u8]>,
        cx: &mut ReadCtx<'_>,
    ) -> Result<(), D> {
        let tables = self.tables(levels);
        let keys = keys.view();
        self.ti = match start {
            Bound::Unbounded => 0,
            Bound::Included(k) => tables.partition_point(|t| keys.largest(t) < k),
            Bound::Excluded(k) => tables.partition_point(|t| keys.largest(t) <= k),
        };
        if let Some(t) = tables.get(self.ti) {
            self.c.seek(t, io, l, start, cx)?;
            self.skip_exhausted(tables, io, l, cx)?;
        }
        Ok(())
    }

    fn skip_exhausted<D: BlockDevice>(
        &mut self,
        tables: &[Table],
        io: &mut Io<D>,
        l: &Layout,
        cx: &mut ReadCtx<'_>,
    ) -> Result<(), D> {
        while self.c.key().is_none() && self.ti + 1 < tables.len() {
            self.ti += 1;
            self.c.seek(&tables[self.ti], io, l, Bound::Unbounded, cx)?;
        }
        Ok(())
    }

    fn advance<D: BlockDevice>(
        &mut self,
        levels: &Levels,
        io: &mut Io<D>,
        l: &Layout,
        cx: &mut ReadCtx<'_>,
    ) -> Result<(), D> {
        let tables = self.tables(levels);
        if let Some(t) = tables.get(self.ti) {
            self.c.advance(t, io, l, cx)?;
            self.skip_exhausted(tables, io, l, cx)?;
        }
        Ok(())
    }

    fn key(&self) -> Option<&[u8]> {
        if self.ti < self.len() {
            self.c.key()
        } else {
            None
        }
    }
}

/// The memory of the cursors of scans and merges, which a store keeps
/// from one to the next: on the heap, the cursors of the last scan (as many
/// as it needed, at most `KEPT_CURSORS`); in fixed memory, the buffers of
/// `Sizes::runs` cursors, carved when the store opens. The cursors
/// themselves ([`Runs`]) live only while a scan, merge or check runs.
#[allow(clippy::large_enum_variant)] // one per store; the heap's is a `Vec`
enum CursorMem {
    #[cfg(feature = "alloc")]
    Heap(Vec<RunCursor>),
    /// A data block and a table's data block spans, for each cursor.
    Fixed(heapless::Vec<(List<u8>, List<u32>), MAX_RUNS>),
}

impl CursorMem {
    fn new(mem: &mut Source<'_>, sz: &Sizes) -> core::result::Result<Self, Overflow> {
        #[cfg(feature = "alloc")]
        if !mem.is_fixed() {
            return Ok(CursorMem::Heap(Vec::new()));
        }
        let mut v = heapless::Vec::new();
        for _ in 0..sz.runs.min(MAX_RUNS) {
            let bufs = (mem.list(sz.data)?, mem.list(2 * sz.table_blocks)?);
            v.push(bufs).map_err(|_| Overflow)?;
        }
        Ok(CursorMem::Fixed(v))
    }

    /// The cursors, for one scan, merge or check; `put_back` returns them.
    /// (Inlined: `Runs` is large, and is then built in place.)
    #[inline(always)]
    fn take(&mut self) -> Runs {
        match self {
            #[cfg(feature = "alloc")]
            CursorMem::Heap(v) => Runs::Heap(core::mem::take(v)),
            CursorMem::Fixed(bufs) => {
                let mut runs = heapless::Vec::new();
                for (own, spans) in core::mem::take(bufs) {
                    let r = RunCursor {
                        lvl: 0,
                        from: 0,
                        to: 0,
                        ti: 0,
                        c: TableCursor::fixed(own, spans),
                        at_key: false,
                    };
                    // As many as there were buffers.
                    let _ = runs.push(r);
                }
                Runs::Fixed(runs)
            }
        }
    }

    /// Keeps the cursors of `runs` for the next scan or merge, letting go
    /// of the cached blocks they read in place (a kept cursor must not hold
    /// cached blocks past their eviction).
    #[inline(always)]
    fn put_back(&mut self, runs: Runs) {
        match runs {
            #[cfg(feature = "alloc")]
            Runs::Heap(mut runs) => {
                runs.truncate(KEPT_CURSORS);
                for r in runs.iter_mut() {
                    r.c.release_shared();
                }
                if let CursorMem::Heap(v) = self {
                    *v = runs;
                }
            }
            Runs::Fixed(runs) => {
                #[allow(irrefutable_let_patterns)] // without `alloc`
                if let CursorMem::Fixed(bufs) = self {
                    for mut r in runs {
                        // As many as were taken.
                        let _ = bufs.push(r.c.take_buffers());
                    }
                }
            }
        }
    }

    /// Gives fixed memory back to `mem`, in the order `new` took it.
    fn give_back(&mut self, mem: &mut Memory) {
        match self {
            #[cfg(feature = "alloc")]
            CursorMem::Heap(v) => v.clear(),
            CursorMem::Fixed(bufs) => {
                for (own, spans) in core::mem::take(bufs) {
                    own.give_back(mem);
                    spans.give_back(mem);
                }
            }
        }
    }
}

/// The runs of a scan or merge, with their cursors (on the stack, in
/// fixed memory, while the scan or merge runs).
#[allow(clippy::large_enum_variant)]
enum Runs {
    #[cfg(feature = "alloc")]
    Heap(Vec<RunCursor>),
    Fixed(heapless::Vec<RunCursor, MAX_RUNS>),
}

impl Runs {
    /// Makes run `i` the tables `from..to` of level `lvl`, reusing its
    /// cursor.
    fn set(
        &mut self,
        i: usize,
        lvl: usize,
        from: usize,
        to: usize,
    ) -> core::result::Result<(), Overflow> {
        let r = match self {
            #[cfg(feature = "alloc")]
            Runs::Heap(v) => {
                if i >= v.len() {
                    v.push(RunCursor::new(lvl, from, to));
                }
                &mut v[i]
            }
            Runs::Fixed(v) => v.get_mut(i).ok_or(Overflow)?,
        };
        (r.lvl, r.from, r.to, r.ti, r.at_key) = (lvl, from, to, 0, false);
        Ok(())
    }
}

impl core::ops::Deref for Runs {
    type Target = [RunCursor];
    fn deref(&self) -> &[RunCursor] {
        match self {
            #[cfg(feature = "alloc")]
            Runs::Heap(v) => v,
            Runs::Fixed(v) => v,
        }
    }
}

impl core::ops::DerefMut for Runs {
    fn deref_mut(&mut self) -> &mut [RunCursor] {
        match self {
            #[cfg(feature = "alloc")]
            Runs::Heap(v) => v,
            Runs::Fixed(v) => v,
        }
    }
}

/// Reads the records of one log or metadata block in order through a
/// window of a few kilobytes, so that opening a store holds a record in
/// memory, never a whole erase block.
struct Records {
    block: u32,
    epoch: u64,
    /// Where the records may end: the block's recorded end, or its size.
    limit: usize,
    /// Offset of the next record.
    off: usize,
    /// The part of the block `buf` holds: [win_at, win_at + win_len).
    win_at: usize,
    win_len: usize,
}

impl Records {
    fn new(block: u32, epoch: u64, start: usize, limit: usize) -> Self {
        Records {
            block,
            epoch,
            limit,
            off: start,
            win_at: 0,
            win_len: 0,
        }
    }

    /// Makes `buf` hold `[off, off + len)` (with `off` aligned), reading
    /// at least `window` bytes when it reads.
    fn fill<D: BlockDevice>(
        &mut self,
        io: &mut Io<D>,
        buf: &mut List<u8>,
        l: &Layout,
        len: usize,
    ) -> Result<bool, D> {
        let off = self.off;
        if off >= self.win_at && off + len <= self.win_at + self.win_len {
            return Ok(true);
        }
        let span = self.limit.min(l.block_size) - off.min(self.limit);
        let mut want = round_up(len.max(l.record_window), l.align).min(round_up(span, l.align));
        if let Some(cap) = buf.capacity() {
            // A fixed buffer reads less ahead, but never less than `len`.
            want = want.min(cap / l.align * l.align);
        }
        if len > want || off + want > l.block_size {
            return Ok(false);
        }
        buf.clear();
        buf.resize(want, 0)?;
        io.read(self.block, off as u32, buf)?;
        self.win_at = off;
        self.win_len = want;
        Ok(true)
    }

    /// Whether the record at `off`, of a `len`-byte payload, verifies: its
    /// checksum, computed through `buf` a piece at a time.
    fn verifies<D: BlockDevice>(
        &mut self,
        io: &mut Io<D>,
        buf: &mut List<u8>,
        l: &Layout,
        len: usize,
    ) -> Result<bool, D> {
        let Some(cap) = buf.capacity() else {
            return Ok(false);
        };
        let piece = cap / l.align * l.align;
        if piece < FRAME_LEN || piece == 0 {
            return Ok(false);
        }
        let end = self.off + FRAME_LEN + len;
        let mut sum = crate::format::Checksum::new(self.epoch);
        let mut stored = None;
        let mut at = self.off;
        // Later reads go elsewhere in the buffer: the window is gone.
        self.win_len = 0;
        while at < end {
            let n = piece.min(round_up(end - at, l.align));
            if at + n > l.block_size {
                return Ok(false);
            }
            buf.clear();
            buf.resize(n, 0)?;
            io.read(self.block, at as u32, buf)?;
            let skip = if at == self.off {
                stored = crate::format::u32_at(buf, 0);
                4
            } else {
                0
            };
            sum.update(&buf[skip..n.min(end - at)]);
            at += n;
        }
        Ok(stored == Some(sum.finish()))
    }

    /// The next valid record: its sequence number and where its payload
    /// lies in `buf`. `None` at the end of the records (or a torn one).
    fn next<D: BlockDevice>(
        &mut self,
        io: &mut Io<D>,
        buf: &mut List<u8>,
        l: &Layout,
    ) -> Result<Option<(u64, core::ops::Range<usize>)>, D> {
        if self.off + FRAME_LEN > self.limit || !self.fill(io, buf, l, FRAME_LEN)? {
            return Ok(None);
        }
        let at = self.off - self.win_at;
        let len = crate::format::u32_at(buf, at + 4).unwrap_or(u32::MAX) as usize;
        let Some(end) = (FRAME_LEN + len).checked_add(self.off) else {
            return Ok(None);
        };
        if end > self.limit {
            return Ok(None);
        }
        if buf
            .capacity()
            .is_some_and(|cap| round_up(FRAME_LEN + len, l.align) > cap / l.align * l.align)
        {
            // Larger than any record this store writes: torn, or written by
            // a store with a larger memtable, which this one cannot replay.
            return match self.verifies(io, buf, l, len)? {
                true => Err(Error::OutOfMemory),
                false => Ok(None),
            };
        }
        if !self.fill(io, buf, l, FRAME_LEN + len)? {
            return Ok(None);
        }
        let at = self.off - self.win_at;
        let Some(r) = parse_record(&buf[..self.win_len], at, self.epoch, l.align) else {
            return Ok(None);
        };
        let start = r.payload.as_ptr() as usize - buf.as_ptr() as usize;
        let range = start..start + r.payload.len();
        self.off = self.win_at + r.next;
        Ok(Some((r.seq, range)))
    }
}

/// Cursors over the tables `picks` of one level (indexes in priority
/// order: level 0 holds its tables newest first). Picks next to each other
/// in the level whose keys increase without overlapping (the tables of one
/// flush, or of one merge) are read as one run: no other run's data is
/// newer than one of them and older than the other, so a run's single
/// priority is right for all of them, and the merge compares fewer keys.
fn runs_of(
    (levels, keys): (&Levels, &Keys),
    lvl: usize,
    picks: core::ops::Range<usize>,
    runs: &mut Runs,
    n: &mut usize,
) -> core::result::Result<(), Overflow> {
    let tables = &levels[lvl];
    let picks = picks.start.min(tables.len())..picks.end.min(tables.len());
    let mut start = picks.start;
    while start < picks.end {
        let mut end = start + 1;
        while end < picks.end && one_run(keys.view(), &tables[end - 1], &tables[end]) {
            end += 1;
        }
        runs.set(*n, lvl, start, end)?;
        *n += 1;
        start = end;
    }
    Ok(())
}

/// Whether tables `a` and `b`, next to each other in a level, read as one
/// sorted run: `b`'s keys all follow `a`'s.
fn one_run(keys: KeysView<'_>, a: &Table, b: &Table) -> bool {
    keys.largest(a) < keys.smallest(b)
}

/// Whether a level below `lvl` may hold `key` (so a tombstone for it
/// merged into `lvl` must be kept).
fn shadowed_below(levels: &Levels, keys: &Keys, lvl: usize, key: &[u8]) -> bool {
    (lvl + 1..LEVELS).any(|lv| {
        let row = &levels[lv];
        let i = row.partition_point(|t| keys.largest(t) < key);
        i < row.len() && keys.covers(&row[i], key)
    })
}

/// Sorts a short slice by `less` (insertion sort: the slices sorted here
/// hold a few picks or metadata blocks, and the standard library's sorts
/// cost kilobytes of code per element type on a microcontroller).
fn sort_by<T>(v: &mut [T], mut less: impl FnMut(&T, &T) -> bool) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && less(&v[j], &v[j - 1]) {
            v.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// An incremental compaction commits its progress once free blocks drop to
/// this many: room for one output table, the table after it, and a new
/// metadata block.
const CUT_FREE_BLOCKS: u32 = 3;

/// Most tables of a level below 0 merged down together.
const MAX_RUN_PICKS: usize = 4;

/// What a lookup spends on one sorted run that does not hold its key (a
/// table's key range, bloom filter and, for a false positive, index and
/// data block), in bytes of merging that cost as much: on a PC a merge
/// rewrites a byte in about 3.3 ns and such a probe takes about 0.45 µs
/// (`docs/benchmarks.md`).
const LOOKUP_PROBE_BYTES: u64 = 128;
/// What a scan spends positioning a cursor in one more sorted run (binary
/// search of the run, index, data block, restart point, and one more
/// source to compare for each entry), as above: about 1.9 µs.
const SCAN_RUN_BYTES: u64 = 512;

/// Table cursors a store keeps between scans for their buffers (a data
/// block and an index each), so that a short scan allocates nothing.
#[cfg(feature = "alloc")]
const KEPT_CURSORS: usize = LEVELS + 8;

/// The run holding the smallest current key, and that key; on a tie the
/// first such run, which has priority (it holds the newer data).
fn smallest(runs: &[RunCursor]) -> Option<(usize, &[u8])> {
    let mut best: Option<(usize, &[u8])> = None;
    for (i, r) in runs.iter().enumerate() {
        if let Some(k) = r.key() {
            if best.is_none_or(|(_, b)| k < b) {
                best = Some((i, k));
            }
        }
    }
    best
}

/// The metadata block state: where the newest durable commit lives and
/// where the next one may go.
struct MetaState {
    /// The metadata block holding the newest durable commit.
    block: Option<u32>,
    /// Where the next commit may be appended: (block, epoch, offset). `None`
    /// forces a fresh metadata block (after mount the tail may be torn).
    append: Option<(u32, u64, u32)>,
    /// Sequence number of the newest durable commit.
    seq: u64,
    /// The tables changed since the last commit (a compaction whose commit
    /// was deferred): the next commit carries the change.
    dirty: bool,
}

/// What a manifest names: the tables of `levels` and the log blocks `wal`.
/// `cut`: (level, keep, from) names, for that level, its first `keep`
/// tables, then the staged ones, then its tables from `from` on (a merge
/// committing as it goes).
struct Manifest<'a> {
    last_seq: u64,
    wal: &'a [WalRef],
    levels: &'a Levels,
    cut: Option<(usize, usize, usize)>,
}

/// Writes a manifest record (built in `rec`); `freed`, the blocks it no
/// longer names, are
/// released after the next sync.
///
/// The record is not synced: it is in force once a later sync returns (a
/// write with `sync_writes`, [`Db::sync`], the next commit that needs a
/// sync first, or an allocation that needs the blocks it freed). Until
/// then a crash may fall back to an earlier commit, whose blocks are
/// therefore kept. `seals_log`: the record seals log records that may not
/// be durable yet.
fn commit_manifest<D: BlockDevice>(
    io: &mut Io<D>,
    space: &mut Space,
    l: &Layout,
    (meta, rec): (&mut MetaState, &mut List<u8>),
    m: Manifest<'_>,
    freed: &[u32],
    seals_log: bool,
) -> Result<(), D> {
    rec.clear();
    rec.resize(FRAME_LEN, 0)?;
    manifest::emit(rec, m.last_seq, m.wal, |lv| match m.cut {
        Some((c, keep, from)) if c == lv => {
            let row = &m.levels[lv];
            [
                &row[..keep.min(row.len())],
                m.levels.staged(),
                row.get(from..).unwrap_or_default(),
            ]
        }
        _ => [&m.levels[lv], &[], &[]],
    })?;
    let len = record_len(rec.len() - FRAME_LEN, l.align);
    if l.header_len + len > l.block_size {
        return Err(Error::Full);
    }
    let seq = meta.seq + 1;
    let mut old_meta = None;
    let (block, epoch, off) = match meta.append {
        Some((b, e, off)) if off as usize + len <= l.block_size => (b, e, off),
        _ => {
            let (b, e) = start_block(io, space, l, BlockKind::Meta, true)?;
            old_meta = meta.block;
            (b, e, l.header_len as u32)
        }
    };
    seal_record(rec, 0, epoch, seq, l.align)?;
    // Everything the record names (tables, log records it seals, the new
    // metadata block's header) must be durable before the record itself:
    // a volatile cache may otherwise keep the record and drop the rest.
    // Without a program or erase since the last sync (log records apart,
    // which `seals_log` covers), they are durable already.
    if seals_log || io.dirty {
        sync_device(io, space)?;
    }
    io.program_record(block, off, rec)?;
    meta.seq = seq;
    meta.block = Some(block);
    meta.append = Some((block, epoch, off + rec.len() as u32));
    // The record holds the whole state, deferred changes included.
    meta.dirty = false;
    for b in freed.iter().copied().chain(old_meta) {
        space.release_after_sync(b);
    }
    space.committed();
    Ok(())
}

/// A key-value store on a [`BlockDevice`].
///
/// ```
/// use cairn_core::{Config, Db, device::RamDevice};
///
/// let dev = RamDevice::new(4096, 64, 4);
/// let mut db = Db::format(dev, Config::default()).unwrap();
/// db.put(b"greeting", b"hello").unwrap();
/// db.delete(b"nothing").unwrap();
/// let dev = db.into_device(); // power off...
/// let mut db = Db::open(dev, Config::default()).unwrap(); // ...and on
/// assert_eq!(db.get_vec(b"greeting").unwrap().as_deref(), Some(&b"hello"[..]));
/// ```
pub struct Db<D: BlockDevice> {
    io: Io<D>,
    cfg: Config,
    layout: Layout,
    max_value: usize,
    max_wal_blocks: usize,
    mem: Memtable<Arena>,
    levels: Levels,
    /// The key ranges of the tables in `levels`.
    keys: Keys,
    /// Where level 0's runs end (adjacent tables with increasing, disjoint
    /// keys: those of one flush), for lookups; valid while level 0 holds
    /// `l0_runs_for` tables (see [`Db::index_level0`]).
    l0_runs: List<usize>,
    l0_runs_for: usize,
    /// Bytes of the live tables, as of the last change to the levels.
    tables_bytes: u64,
    /// The log blocks the manifest names, oldest first: those written to,
    /// then those started ahead of need.
    wal: List<WalRef>,
    /// How many blocks of `wal` have been written to (the last of them is
    /// the active one, if any).
    wal_used: usize,
    /// Where the next log record goes: (block, epoch, offset).
    wal_active: Option<(u32, u64, u32)>,
    /// Sequence number of the last operation written.
    last_seq: u64,
    /// Sequence number of the last operation in the tables.
    flushed_seq: u64,
    meta: MetaState,
    space: Space,
    poisoned: bool,
    ops: OpCounts,
    /// In fixed memory, the runs level 0 may hold, and the cursors a scan
    /// or merge has (see `Sizes`).
    l0_run_cap: usize,
    run_cap: usize,
    /// The store lives in memory handed to it, not on the heap.
    fixed: bool,
    /// Blocks a change frees.
    freed: List<u32>,
    /// A bitmap of the blocks, for checks.
    bits: List<u32>,
    /// Reads of data blocks, indexes and headers; a lookup's value.
    scratch: List<u8>,
    /// A table's index and bloom filter, read for a lookup when the cache
    /// does not hold them.
    meta_scratch: List<u8>,
    /// Log records written with `sync_writes` off, not yet programmed,
    /// and where they go: (block, offset).
    log_pending: List<u8>,
    log_pending_at: (u32, u32),
    log_buffer_limit: usize,
    /// A manifest record being written, or records read at mount.
    records: List<u8>,
    cache: BlockCache,
    /// The table being written by a flush or merge.
    builder: TableBuilder,
    /// The memory of the cursors of scans and merges, kept from one to the
    /// next.
    cursors: CursorMem,
    /// The key a scan is visiting.
    scan_key: List<u8>,
    /// The entry a merge is writing.
    merge_key: List<u8>,
    merge_value: List<u8>,
}

impl<D: BlockDevice> Db<D> {
    fn new_handle(dev: D, cfg: Config, fixed_memory: Option<&mut Memory>) -> Result<Self, D> {
        let io = Io::new(dev);
        let geo = io.geo;
        geo.validate().map_err(Error::InvalidConfig)?;
        let align = geo.align() as usize;
        let block_size = geo.block_size as usize;
        let header_len = round_up(HEADER_LEN, align);
        let footer_region = round_up(FOOTER_LEN, align);
        if cfg.max_key_len == 0 || cfg.max_key_len > 1024 {
            return Err(Error::InvalidConfig("max_key_len must be 1..=1024"));
        }
        if cfg.data_block_bytes < 128 {
            return Err(Error::InvalidConfig(
                "data_block_bytes must be at least 128",
            ));
        }
        if cfg.memtable_bytes < 256 {
            return Err(Error::InvalidConfig("memtable_bytes must be at least 256"));
        }
        if cfg.memtable_bytes > MAX_ARENA {
            return Err(Error::InvalidConfig("memtable_bytes must be below 4 GiB"));
        }
        if cfg.bloom_bits_per_key == 0 || cfg.bloom_bits_per_key > 32 {
            return Err(Error::InvalidConfig("bloom_bits_per_key must be 1..=32"));
        }
        if cfg.l0_compaction_trigger == 0 || cfg.level_size_multiplier < 2 {
            return Err(Error::InvalidConfig(
                "l0_compaction_trigger must be >= 1 and level_size_multiplier >= 2",
            ));
        }
        // Every size, the longest value (what always fits a table block and
        // an empty memtable) among them, worked out as `memory_needed` does.
        let sz = Sizes::of(&cfg, &geo);
        if cfg.memtable_bytes <= crate::memtable::needed_at_most(cfg.max_key_len, 0) {
            return Err(Error::InvalidConfig(
                "memtable_bytes too small for max_key_len",
            ));
        }
        let max_value = sz.max_value;
        if max_value == 0 {
            return Err(Error::InvalidConfig("blocks too small for max_key_len"));
        }
        let reserve = if cfg.reserve_blocks != 0 {
            cfg.reserve_blocks
        } else {
            (geo.block_count / 8).clamp(CUT_FREE_BLOCKS + 3, 64)
        };
        if reserve + 3 >= geo.block_count {
            return Err(Error::InvalidConfig(
                "reserve_blocks leaves no room for data",
            ));
        }
        let max_wal_blocks = sz.max_wal_blocks;
        let cache_bytes = cfg.cache_bytes;
        let mut memory = match fixed_memory {
            Some(m) => Source::Fixed(m),
            #[cfg(feature = "alloc")]
            None => Source::Heap,
            #[cfg(not(feature = "alloc"))]
            None => return Err(Error::OutOfMemory),
        };
        let fixed = memory.is_fixed();
        let n = sz.blocks;
        let layout = Layout {
            block_size,
            align,
            header_len,
            footer_region,
            data_block_bytes: sz.data_block_bytes,
            bloom_bits_per_key: cfg.bloom_bits_per_key as usize,
            record_window: sz.record_window,
        };
        // Built in place, its lists carved in the order `Sizes::memory`
        // counts them (a struct's fields are evaluated in the order
        // written).
        Ok(Db {
            space: Space {
                blocks: geo.block_count,
                used: memory.filled(sz.words, 0)?,
                free: geo.block_count,
                cursor: 0,
                policy: cfg.allocation,
                reserve,
                next_epoch: 1,
                pending: memory.filled(sz.words, 0)?,
                pending_count: 0,
                deferred: memory.filled(sz.words, 0)?,
                deferred_count: 0,
                fresh: true,
            },
            keys: Keys::new(&mut memory, n, cfg.max_key_len)?,
            levels: Levels::new(&mut memory, n)?,
            l0_runs: memory.list(MAX_RUNS)?,
            wal: memory.list(sz.wal)?,
            freed: memory.list(n)?,
            bits: memory.filled(sz.words, 0)?,
            mem: Memtable::new(memory.filled(sz.arena, 0)?),
            scratch: memory.list(sz.raw)?,
            meta_scratch: memory.list(sz.own)?,
            log_pending: memory.list(sz.log_buffer)?,
            records: memory.list(sz.records)?,
            scan_key: memory.list(sz.max_key)?,
            merge_key: memory.list(sz.max_key)?,
            merge_value: memory.list(sz.max_value)?,
            builder: TableBuilder::new(layout, &mut memory, &sz)?,
            cursors: CursorMem::new(&mut memory, &sz)?,
            io,
            cfg,
            layout,
            l0_run_cap: sz.l0_runs,
            run_cap: sz.runs,
            fixed,
            max_value,
            max_wal_blocks,
            l0_runs_for: usize::MAX,
            tables_bytes: 0,
            wal_used: 0,
            wal_active: None,
            last_seq: 0,
            flushed_seq: 0,
            meta: MetaState {
                block: None,
                append: None,
                seq: 0,
                dirty: false,
            },
            poisoned: false,
            ops: OpCounts::default(),
            log_pending_at: (0, 0),
            log_buffer_limit: (block_size / 4).min(64 << 10),
            // A store in fixed memory has no cache: it would need a heap.
            cache: BlockCache::new(if fixed { 0 } else { cache_bytes }),
        })
    }

    /// Forgets the store mounted (all but which blocks are in use, and
    /// the epoch counter), for a new one to be formatted over it.
    fn forget_store(&mut self) {
        self.levels.clear();
        self.keys.clear();
        self.l0_runs.clear();
        self.l0_runs_for = usize::MAX;
        self.tables_bytes = 0;
        self.wal.clear();
        self.wal_used = 0;
        self.wal_active = None;
        self.last_seq = 0;
        self.flushed_seq = 0;
        self.meta = MetaState {
            block: None,
            append: None,
            seq: 0,
            dirty: false,
        };
        self.mem
            .clear_to(crate::memtable::arena_len(self.cfg.memtable_bytes));
        self.log_pending.clear();
        self.space.deferred.fill(0);
        self.space.deferred_count = 0;
        self.ops = OpCounts::default();
    }

    /// Reads every block header. Returns the highest epoch seen.
    fn scan_headers(&mut self) -> Result<HeaderScan, D> {
        let mut buf = [0u8; MAX_HEADER_LEN];
        let buf = &mut buf[..self.layout.header_len];
        let mut max_epoch = 0;
        let mut max_block = 0;
        let mut other_version = None;
        for b in 0..self.io.geo.block_count {
            self.io.read(b, 0, buf)?;
            if let Some((version, kind, epoch)) = BlockHeader::any_version(buf) {
                // Epochs keep growing past a store of another version that
                // this device held, so nothing of it can ever verify again.
                if epoch > max_epoch {
                    max_epoch = epoch;
                    max_block = b;
                }
                if version != FORMAT_VERSION && kind == BlockKind::Meta as u8 {
                    other_version = Some(version);
                }
            }
            if let Some(h) = BlockHeader::parse(buf) {
                if h.epoch > max_epoch {
                    max_epoch = h.epoch;
                    max_block = b;
                }
            }
        }
        Ok((max_epoch, max_block, other_version))
    }

    /// The metadata block of this store's geometry whose epoch is the
    /// highest below `bound` (`newest`), or the lowest above it, as
    /// (epoch, block). Reads every header: metadata blocks are few, and
    /// this keeps no list of them.
    fn meta_block(&mut self, bound: u64, newest: bool) -> Result<Option<(u64, u32)>, D> {
        let mut buf = [0u8; MAX_HEADER_LEN];
        let buf = &mut buf[..self.layout.header_len];
        let mut best: Option<(u64, u32)> = None;
        for b in 0..self.io.geo.block_count {
            self.io.read(b, 0, buf)?;
            let Some(h) = BlockHeader::parse(buf) else {
                continue;
            };
            let candidate = h.kind == BlockKind::Meta
                && h.block_size == self.io.geo.block_size
                && h.block_count == self.io.geo.block_count
                && if newest {
                    h.epoch < bound
                } else {
                    h.epoch > bound
                };
            let better = best.is_none_or(|(e, _)| if newest { h.epoch > e } else { h.epoch < e });
            if candidate && better {
                best = Some((h.epoch, b));
            }
        }
        Ok(best)
    }

    /// Creates an empty store on `dev`, superseding whatever it held.
    ///
    /// A power cut while formatting leaves either the old store or the new,
    /// empty one: the new store's first commit goes into a block the old
    /// store does not use, and outranks it by epoch.
    #[cfg(feature = "alloc")]
    pub fn format(dev: D, cfg: Config) -> Result<Self, D> {
        Self::format_with(dev, cfg, None)
    }

    fn format_with(dev: D, cfg: Config, memory: Option<&mut Memory>) -> Result<Self, D> {
        Self::handle_then(dev, cfg, memory, Self::format_mounted)
    }

    /// A handle on `dev` (in `memory`, if given), made ready by `ready`; if
    /// that fails, the memory is given back.
    fn handle_then(
        dev: D,
        cfg: Config,
        mut memory: Option<&mut Memory>,
        ready: impl FnOnce(&mut Self) -> Result<(), D>,
    ) -> Result<Self, D> {
        // One value returned on every path, so that the handle is built
        // where the caller wants it rather than copied there (a handle is
        // over a kilobyte, on a microcontroller's stack).
        let mut r = Self::new_handle(dev, cfg, memory.as_deref_mut());
        if let Ok(db) = &mut r {
            if let Err(e) = ready(db) {
                if let Some(m) = memory {
                    db.return_memory(m);
                }
                r = Err(e);
            }
        }
        r
    }

    /// Formats over whatever the device holds (see `Db::format`).
    fn format_mounted(&mut self) -> Result<(), D> {
        let db = self;
        // Mounting whatever is there marks the old store's blocks in use
        // (and sets the epoch counter past everything on the device).
        if let Err(Error::Device(e)) = db.mount() {
            return Err(Error::Device(e));
        }
        // The new store starts empty; the old one's blocks stay marked.
        db.forget_store();
        match db.commit(&[]) {
            Err(Error::Full) => {
                // The old store fills the device: make it unreachable first,
                // oldest metadata block first, so that a cut in between
                // leaves either the old store or none.
                let mut above = 0;
                while let Some((epoch, b)) = db.meta_block(above, false)? {
                    db.io.erase(b)?;
                    db.io.sync()?;
                    above = epoch;
                }
                db.space.used.fill(0);
                db.space.free = db.io.geo.block_count;
                db.commit(&[])?;
            }
            r => r?,
        }
        // The new store is in force once its commit is durable; the old
        // store's blocks are free from then on: all but the new store's
        // metadata block.
        db.sync_all()?;
        for b in 0..db.io.geo.block_count {
            if Some(b) != db.meta.block {
                db.space.release(b);
            }
        }
        Ok(())
    }

    /// Opens the store on `dev`, or formats one if the device holds none.
    #[cfg(feature = "alloc")]
    pub fn open_or_format(dev: D, cfg: Config) -> Result<Self, D> {
        Self::open_or_format_with(dev, cfg, None)
    }

    fn open_or_format_with(dev: D, cfg: Config, memory: Option<&mut Memory>) -> Result<Self, D> {
        Self::handle_then(dev, cfg, memory, |db| match db.mount() {
            Err(Error::NotFormatted) => db.commit(&[]).and_then(|()| db.sync_all()),
            r => r,
        })
    }

    /// Opens the store on `dev`: finds the newest manifest, loads the
    /// tables it names and replays the write-ahead log. Opening writes
    /// nothing, so a power cut while opening is harmless.
    #[cfg(feature = "alloc")]
    pub fn open(dev: D, cfg: Config) -> Result<Self, D> {
        Self::open_with(dev, cfg, None)
    }

    /// As `Db::format`, for a store that lives in `memory` rather than
    /// on the heap: every list and buffer it needs is carved from it (see
    /// [`Config::memory_needed`]), and nothing is allocated, then or later.
    /// [`Db::close`] gives it back (a store dropped instead keeps it: its
    /// buffer is then spent). [`Error::OutOfMemory`] if `memory` is too
    /// small (what was carved by then is spent too); on any other error
    /// `memory` is whole again.
    #[inline(always)]
    pub fn format_in(dev: D, cfg: Config, memory: &mut Memory) -> Result<Self, D> {
        Self::format_with(dev, cfg, Some(memory))
    }

    /// As `Db::open`, in `memory` (see [`Db::format_in`]).
    #[inline(always)]
    pub fn open_in(dev: D, cfg: Config, memory: &mut Memory) -> Result<Self, D> {
        Self::open_with(dev, cfg, Some(memory))
    }

    /// As `Db::open_or_format`, in `memory` (see [`Db::format_in`]).
    #[inline(always)]
    pub fn open_or_format_in(dev: D, cfg: Config, memory: &mut Memory) -> Result<Self, D> {
        Self::open_or_format_with(dev, cfg, Some(memory))
    }

    fn open_with(dev: D, cfg: Config, memory: Option<&mut Memory>) -> Result<Self, D> {
        Self::handle_then(dev, cfg, memory, Self::mount)
    }

    #[allow(clippy::needless_range_loop)] // `wal[i]` is also written
    fn mount(&mut self) -> Result<(), D> {
        let (max_epoch, max_block, other_version) = self.scan_headers()?;
        self.space.next_epoch = max_epoch + 1;
        self.space.cursor = max_block + 1;
        let l = self.layout;
        let mut found = None;
        let mut below = u64::MAX;
        while let Some((epoch, b)) = self.meta_block(below, true)? {
            below = epoch;
            // The newest commit is the last of the valid records, whose
            // sequence numbers increase.
            let mut recs = Records::new(b, epoch, l.header_len, l.block_size);
            let mut newest: Option<(u64, usize)> = None;
            loop {
                let at = recs.off;
                match recs.next(&mut self.io, &mut self.records, &l)? {
                    Some((seq, _)) if newest.is_none_or(|(s, _)| seq > s) => {
                        newest = Some((seq, at))
                    }
                    _ => break,
                }
            }
            if let Some((seq, at)) = newest {
                let mut recs = Records::new(b, epoch, at, l.block_size);
                let payload = match recs.next(&mut self.io, &mut self.records, &l)? {
                    Some((s, p)) if s == seq => p,
                    _ => return Err(Error::corrupted(b, "manifest changed while read")),
                };
                let geo = self.io.geo;
                manifest::check(
                    &self.records[payload.clone()],
                    geo.block_count,
                    &mut self.bits,
                )
                .ok_or(Error::corrupted(b, "manifest malformed"))?;
                found = Some((b, seq, payload));
                break;
            }
        }
        let Some((meta_block, commit_seq, payload)) = found else {
            // A store of another format version is not a blank device:
            // refuse it, so that `open_or_format` never formats over it.
            return Err(match other_version {
                Some(found) => Error::UnsupportedVersion { found },
                None => Error::NotFormatted,
            });
        };
        self.meta.block = Some(meta_block);
        self.space.mark(meta_block);
        self.meta.seq = commit_seq;

        // Tables, and the log blocks named.
        let mut failed = Ok(());
        let m = &self.records[payload];
        let wal = &mut self.wal;
        let last_seq = manifest::visit(m, |e| {
            if failed.is_err() {
                return;
            }
            failed = match e {
                manifest::Entry::Wal(w) => wal.push(w).map_err(Error::from),
                manifest::Entry::Table(_, b) if b == meta_block => {
                    Err(Error::corrupted(b, "manifest names its own block"))
                }
                manifest::Entry::Table(lvl, b) => {
                    let keys = Some(&mut self.keys);
                    Table::load(&mut self.io, &self.layout, b, &mut self.scratch, keys).and_then(
                        |t| {
                            self.space.mark(b);
                            Ok(self.levels.push(lvl, t)?)
                        },
                    )
                }
            };
        })
        .ok_or(Error::corrupted(meta_block, "manifest malformed"))?;
        failed?;
        self.flushed_seq = last_seq;
        self.last_seq = last_seq;
        for lvl in 1..LEVELS {
            let keys = &self.keys;
            let ok = self.levels[lvl]
                .windows(2)
                .all(|w| one_run(keys.view(), &w[0], &w[1]));
            if !ok {
                return Err(Error::corrupted(u32::MAX, "level tables overlap"));
            }
        }

        // Epochs a crash may have left unseen (a header that never became
        // durable) are never given again.
        let named = self.wal.iter().map(|w| w.epoch).max().unwrap_or(0);
        self.space.next_epoch = self.space.next_epoch.max(named + 1);

        // The write-ahead log. Open blocks (no recorded end) are read up to
        // their first invalid record, and the log ends at the first gap: an
        // open block whose header does not verify (it was started but never
        // synced) or a record that does not continue the sequence. Records
        // past a gap were never synced (a sync makes every record before it
        // durable too), so no acknowledged write is lost there.
        let n = self.wal.len();
        let mut keep = n;
        for i in 0..n {
            let w = self.wal[i];
            if w.block == meta_block {
                return Err(Error::corrupted(w.block, "manifest names its own block"));
            }
            let open = w.end == u32::MAX;
            if keep < n {
                // Past the end of the log. A sealed block was synced before
                // the commit that sealed it, and so was every record before.
                if !open {
                    return Err(Error::corrupted(w.block, "log ends before a sealed block"));
                }
                continue;
            }
            let mut hdr = [0u8; MAX_HEADER_LEN];
            let hdr = &mut hdr[..l.header_len];
            self.io.read(w.block, 0, hdr)?;
            let header = BlockHeader::parse(hdr);
            let valid = header.is_some_and(|h| h.kind == BlockKind::Wal && h.epoch == w.epoch);
            if !valid {
                if open {
                    log_warn!("log ends at block {}: header never became durable", w.block);
                    keep = i;
                    continue;
                }
                return Err(Error::corrupted(w.block, "log block header invalid"));
            }
            let limit = if open { l.block_size } else { w.end as usize };
            if limit > l.block_size {
                return Err(Error::corrupted(w.block, "log block end out of range"));
            }
            let mut recs = Records::new(w.block, w.epoch, l.header_len, limit);
            let mut off = l.header_len;
            while let Some((seq, payload)) = recs.next(&mut self.io, &mut self.records, &l)? {
                if seq != self.last_seq + 1 {
                    if open {
                        log_warn!("log ends in block {}: sequence gap", w.block);
                        keep = i + 1;
                        break;
                    }
                    return Err(Error::corrupted(w.block, "log sequence broken"));
                }
                apply_payload::<D>(Some(&mut self.mem), &self.records[payload], w.block)?;
                self.last_seq = seq;
                off = recs.off;
            }
            if !open && off != limit {
                return Err(Error::corrupted(w.block, "sealed log block truncated"));
            }
            self.space.mark(w.block);
            // New records never go into a block read back after a crash:
            // its tail may be torn. Seal it where the valid records end.
            self.wal[i].end = off as u32;
        }
        self.wal.truncate(keep);
        self.index_level0();
        self.wal_used = self.wal.len();
        debug!(
            "mounted: commit {}, {} log blocks, operations up to {} ({} in tables)",
            commit_seq, keep, self.last_seq, self.flushed_seq
        );
        Ok(())
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The device.
    pub fn device(&self) -> &D {
        match &self.io.dev {
            Some(d) => d,
            // The device leaves only through `into_device`, which consumes
            // the store.
            None => unreachable!("device taken from a live store"),
        }
    }

    /// The device, mutably. Writing to it behind the store's back voids
    /// every guarantee.
    pub fn device_mut(&mut self) -> &mut D {
        match &mut self.io.dev {
            Some(d) => d,
            None => unreachable!("device taken from a live store"),
        }
    }

    /// Closes the store and hands the device back. Nothing needs to be
    /// written: every acknowledged write is already durable. (With
    /// `sync_writes` off, log records still buffered are programmed, but
    /// not synced, as when the store is dropped.)
    pub fn into_device(mut self) -> D {
        let _ = self.write_log_buffer();
        match self.io.dev.take() {
            Some(d) => d,
            None => unreachable!("device taken from a live store"),
        }
    }

    /// Closes the store, giving the memory it was opened in back to
    /// `memory` (see [`Db::format_in`]; nothing for a store on the heap),
    /// and handing back the device. As with [`Db::into_device`], nothing
    /// needs to be written.
    pub fn close(mut self, memory: &mut Memory) -> D {
        let _ = self.write_log_buffer();
        self.return_memory(memory);
        match self.io.dev.take() {
            Some(d) => d,
            None => unreachable!("device taken from a live store"),
        }
    }

    /// Gives the store's fixed memory back to `memory`, ahead of what
    /// `memory` has left, so that the same configuration carves it the same
    /// way again. The store holds no list afterwards: it may only be
    /// dropped.
    fn return_memory(&mut self, memory: &mut Memory) {
        let left = core::mem::replace(memory, Memory::new(&mut []));
        let mem = memory;
        // In the order `new_handle` carved it.
        core::mem::take(&mut self.space.used).give_back(mem);
        core::mem::take(&mut self.space.pending).give_back(mem);
        core::mem::take(&mut self.space.deferred).give_back(mem);
        self.keys.give_back(mem);
        self.levels.give_back(mem);
        core::mem::take(&mut self.l0_runs).give_back(mem);
        self.l0_runs_for = usize::MAX;
        core::mem::take(&mut self.wal).give_back(mem);
        core::mem::take(&mut self.freed).give_back(mem);
        core::mem::take(&mut self.bits).give_back(mem);
        core::mem::take(&mut self.mem).into_storage().give_back(mem);
        for l in [
            &mut self.scratch,
            &mut self.meta_scratch,
            &mut self.log_pending,
            &mut self.records,
            &mut self.scan_key,
            &mut self.merge_key,
            &mut self.merge_value,
        ] {
            core::mem::take(l).give_back(mem);
        }
        self.builder.give_back(mem);
        self.cursors.give_back(mem);
        for piece in left.into_pieces() {
            mem.give(piece);
        }
    }

    /// Sequence number of the last write applied (each `put`, `delete` or
    /// batch takes one). With `sync_writes` off, a caller that syncs the
    /// device itself knows every write up to this number is durable once
    /// its sync returns.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The longest value this store accepts.
    pub fn max_value_len(&self) -> usize {
        self.max_value
    }

    fn poison_on_err<T>(&mut self, r: Result<T, D>) -> Result<T, D> {
        if let Err(Error::Device(_)) = &r {
            self.poisoned = true;
        }
        r
    }

    /// Commits the current state (see the module docs); `freed` is
    /// released after the next sync.
    fn commit(&mut self, freed: &[u32]) -> Result<(), D> {
        self.commit_sealing(freed, false)
    }

    /// Finds level 0's runs again, and the bytes of all live tables. Every
    /// change to the levels is committed (or deferred with `commit_later`)
    /// before the next lookup, and both call this.
    fn index_level0(&mut self) {
        self.keys.compact(self.levels.all_mut());
        self.tables_bytes = (0..LEVELS).map(|l| self.level_bytes(l)).sum();
        let l0 = &self.levels[0];
        let keys = self.keys.view();
        self.l0_runs.clear();
        self.l0_runs_for = l0.len();
        for i in 1..=l0.len() {
            let ends_run = i == l0.len() || !one_run(keys, &l0[i - 1], &l0[i]);
            if ends_run && self.l0_runs.push(i).is_err() {
                // Not indexed: lookups take each table as a run.
                self.l0_runs_for = usize::MAX;
            }
        }
    }

    /// As `commit`; `seals_log`: the manifest seals log records that may
    /// not be durable yet, so the commit syncs first.
    fn commit_sealing(&mut self, freed: &[u32], seals_log: bool) -> Result<(), D> {
        self.index_level0();
        // The tables the store no longer names are never read again.
        let space = &self.space;
        let any = !freed.is_empty() || space.deferred_count > 0;
        self.cache
            .forget(any, |b| freed.contains(&b) || bit(&space.deferred, b));
        let m = Manifest {
            last_seq: self.flushed_seq,
            wal: &self.wal,
            levels: &self.levels,
            cut: None,
        };
        let r = commit_manifest(
            &mut self.io,
            &mut self.space,
            &self.layout,
            (&mut self.meta, &mut self.records),
            m,
            freed,
            seals_log,
        );
        self.poison_on_err(r)
    }

    /// Records a change without committing it: the next commit carries it,
    /// with its sync before the record covering the new tables. The change
    /// is a compaction, or a flush a write called for: the manifest in force
    /// still names the inputs (or the old log) and holds the same data, so
    /// `freed` is kept until that commit is durable. The write commits the
    /// change before its log record (`apply`), so a change is deferred only
    /// while that write flushes and compacts. Committed at once when it
    /// holds more blocks than the log may take (which bounds the space it
    /// costs), or when free space is short.
    fn commit_later(&mut self, freed: &[u32]) -> Result<(), D> {
        self.index_level0();
        for &b in freed {
            self.space.defer(b);
        }
        self.meta.dirty = true;
        let held = self.space.deferred_count as usize;
        if held > self.max_wal_blocks || self.space.free <= self.space.reserve + held as u32 {
            return self.commit(&[]);
        }
        Ok(())
    }

    /// Commits a deferred change, if any.
    fn settle(&mut self) -> Result<(), D> {
        if self.meta.dirty {
            self.commit(&[])
        } else {
            Ok(())
        }
    }

    /// Syncs the device, which puts every commit made so far in force and
    /// releases the blocks they freed.
    fn sync_all(&mut self) -> Result<(), D> {
        let r = sync_device(&mut self.io, &mut self.space);
        self.poison_on_err(r)
    }

    fn check_key(&self, key: &[u8]) -> Result<(), D> {
        if key.is_empty() {
            return Err(Error::EmptyKey);
        }
        if key.len() > self.cfg.max_key_len {
            return Err(Error::TooLarge);
        }
        Ok(())
    }

    /// Stores `value` under `key`, replacing any earlier value.
    ///
    /// [`Error::TooLarge`] for a key longer than `max_key_len` or a value
    /// longer than [`Db::max_value_len`].
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), D> {
        self.apply(&[(key, Some(value))])?;
        self.ops.puts += 1;
        Ok(())
    }

    /// Removes `key`. Deleting a missing key is not an error. Deletes go on
    /// working when the store is full.
    pub fn delete(&mut self, key: &[u8]) -> Result<(), D> {
        self.apply(&[(key, None)])?;
        self.ops.deletes += 1;
        Ok(())
    }

    /// Applies every operation of `batch`, atomically.
    ///
    /// [`Error::TooLarge`] for a batch that does not fit one log block or
    /// an empty memtable, and for a key or value that a put would refuse;
    /// nothing of the batch is applied then. Each operation takes at most
    /// its key and value plus 64 bytes of the memtable: a batch whose
    /// operations add up to at most [`Config::memtable_bytes`] that way
    /// always fits it.
    #[cfg(feature = "alloc")]
    pub fn write(&mut self, batch: &Batch) -> Result<(), D> {
        let ops: Vec<(&[u8], Option<&[u8]>)> = batch
            .ops
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_deref()))
            .collect();
        self.write_ops(&ops)
    }

    /// As `Db::write`, for operations the caller holds: each a key, and
    /// a value to put or `None` to delete. Needs no heap.
    ///
    /// ```
    /// # use cairn_core::{Config, Db, device::RamDevice};
    /// # let mut db = Db::format(RamDevice::new(4096, 32, 4), Config::default()).unwrap();
    /// db.write_ops(&[(b"from", Some(b"90")), (b"to", Some(b"110")), (b"pending", None)])
    ///     .unwrap();
    /// assert_eq!(db.get_vec(b"from").unwrap().as_deref(), Some(&b"90"[..]));
    /// ```
    pub fn write_ops(&mut self, ops: &[(&[u8], Option<&[u8]>)]) -> Result<(), D> {
        if ops.is_empty() {
            return Ok(());
        }
        self.apply(ops)?;
        self.ops.batches += 1;
        Ok(())
    }

    fn apply(&mut self, ops: &[(&[u8], Option<&[u8]>)]) -> Result<(), D> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        let mut plen = crate::format::varint_len(ops.len() as u64);
        let mut has_put = false;
        for (k, v) in ops {
            self.check_key(k)?;
            if let Some(v) = v {
                if v.len() > self.max_value {
                    return Err(Error::TooLarge);
                }
                has_put = true;
            }
            plen += entry_len(k.len(), v.map(|v| v.len()));
        }
        let rec_len = record_len(plen, self.layout.align);
        if self.layout.header_len + rec_len > self.layout.block_size {
            return Err(Error::TooLarge);
        }
        // The operations must fit the memtable before they are logged:
        // replaying the log then fits too.
        let need = Memtable::<Arena>::needed_for(ops);
        if need > self.cfg.memtable_bytes {
            return Err(Error::TooLarge);
        }
        // (An arena grown by replaying a log from a larger memtable is
        // flushed as soon as it holds more than the configured size.)
        if need > self.mem.room()
            || self.mem.bytes().saturating_add(need) > self.cfg.memtable_bytes
            || self.wal_used >= self.max_wal_blocks
        {
            self.flush_and_compact()?;
        }
        if has_put && self.space.available() <= self.space.reserve {
            // The blocks deferred compactions freed come back first.
            self.settle()?;
        }
        if has_put && self.space.available() <= self.space.reserve {
            // Try to win space back by merging level 0 down (table by table
            // while space is short: moving one may free nothing, merging the
            // next may); the reserve itself is for deletes, flushes and
            // compaction.
            while !self.levels[0].is_empty() && self.space.available() <= self.space.reserve {
                let total = self.levels[0].len() + self.levels[1].len();
                let picks = self.picks_for(0, (self.space.available() as usize) >= total + 2);
                if !self.compact_level(0, picks)? {
                    break;
                }
            }
            if self.space.available() <= self.space.reserve {
                return Err(Error::Full);
            }
        }
        // No log record is written while a change is not committed: the
        // manifest programmed last names the log blocks the record may go
        // to. One commit covers the flush and compactions above.
        self.settle()?;
        let room = |off: u32| off as usize + rec_len <= self.layout.block_size;
        let (block, epoch, off) = match self.wal_active {
            Some((b, e, off)) if room(off) => (b, e, off),
            _ => self.new_wal_block(!has_put)?,
        };
        if !self.cfg.sync_writes
            && (self.log_pending.len() + rec_len > self.log_buffer_limit
                || !self.log_pending.fits(rec_len))
        {
            self.write_log_buffer()?;
        }
        let seq = self.last_seq + 1;
        // The record is built in place at the end of the log buffer (empty
        // when writes are synced), which has room for the largest record.
        let start = self.log_pending.len();
        let rec = &mut self.log_pending;
        let built = (|| {
            rec.resize(start + FRAME_LEN + plen, 0)?;
            let at = start + FRAME_LEN;
            let mut at = at + crate::format::put_varint(&mut rec[at..], ops.len() as u64);
            for (k, v) in ops {
                at += put_entry(&mut rec[at..], k, *v);
            }
            debug_assert_eq!(at, start + FRAME_LEN + plen);
            seal_record(rec, start, epoch, seq, self.layout.align)
        })();
        if built.is_err() {
            rec.truncate(start);
            return Err(Error::OutOfMemory);
        }
        if self.cfg.sync_writes {
            let r = self
                .io
                .program_record(block, off, &self.log_pending[start..]);
            self.log_pending.truncate(start);
            self.poison_on_err(r)?;
            self.sync_all()?;
        } else if start == 0 {
            // Buffered: records gather in memory and reach the device in
            // one program per buffer, or at the next sync or commit.
            self.log_pending_at = (block, off);
        }
        debug_assert!(
            self.cfg.sync_writes || self.log_pending_at.1 as usize + start == off as usize
        );
        self.wal_active = Some((block, epoch, off + rec_len as u32));
        self.last_seq = seq;
        for (k, v) in ops {
            // Cannot fail: `need` bytes were free (and the arena can grow).
            if self.mem.insert_or_grow(k, *v).is_err() {
                self.poisoned = true;
                return Err(Error::Poisoned);
            }
            self.ops.user_bytes += (k.len() + v.map_or(0, |v| v.len())) as u64;
        }
        Ok(())
    }

    /// Programs the log records buffered by writes made with `sync_writes`
    /// off, without syncing. After it, a sync of the device makes every
    /// write up to [`Db::last_seq`] durable. ([`Db::sync`] does both.)
    pub fn write_log_buffer(&mut self) -> Result<(), D> {
        if self.log_pending.is_empty() {
            return Ok(());
        }
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        let (b, off) = self.log_pending_at;
        let r = self.io.program_record(b, off, &self.log_pending);
        self.log_pending.clear();
        self.poison_on_err(r)
    }

    /// Moves the log to its next block. The manifest in force names the
    /// blocks started ahead of need, so moving into one of them needs no
    /// commit. When none is left, the active block is sealed and new blocks
    /// are started and committed (with a sync first: their headers, and the
    /// sealed records, must be durable before a manifest names them).
    fn new_wal_block(&mut self, internal: bool) -> Result<(u32, u64, u32), D> {
        // The records buffered so far belong to the block being left.
        self.write_log_buffer()?;
        let off = self.layout.header_len as u32;
        if self.wal_used < self.wal.len() {
            let w = self.wal[self.wal_used];
            self.wal_used += 1;
            self.wal_active = Some((w.block, w.epoch, off));
            return Ok((w.block, w.epoch, off));
        }
        let sealed = self.wal_active.take().map(|(ab, _, end)| {
            let i = self.wal.iter().position(|w| w.block == ab);
            if let Some(i) = i {
                self.wal[i].end = end;
            }
            (i, end)
        });
        let first = self.wal.len();
        let want = self
            .chain_len()
            .min(self.max_wal_blocks.saturating_sub(self.wal_used))
            .max(1);
        let r = self.start_wal_blocks(want, internal);
        let r = r.and_then(|()| self.commit_sealing(&[], true));
        if let Err(e) = r {
            // Named by no record: free again at once.
            for w in self.wal.get(first..).unwrap_or_default() {
                self.space.release(w.block);
            }
            self.wal.truncate(first);
            if let Some((Some(i), end)) = sealed {
                self.wal[i].end = u32::MAX;
                self.wal_active = Some((self.wal[i].block, self.wal[i].epoch, end));
            }
            return Err(e);
        }
        let w = self.wal[self.wal_used];
        self.wal_used += 1;
        self.wal_active = Some((w.block, w.epoch, off));
        Ok((w.block, w.epoch, off))
    }

    /// How many log blocks to start ahead of need: as many as a memtable's
    /// worth of writes takes (its log records are smaller than what the
    /// memtable charges for them), but at most a quarter of the blocks free
    /// above the reserve (they are taken from data), and at least one. A
    /// chain that runs short is extended by one commit.
    fn chain_len(&self) -> usize {
        let room = self.layout.block_size - self.layout.header_len;
        let need = self.cfg.memtable_bytes / room;
        let spare = self.space.available().saturating_sub(self.space.reserve) / 4;
        need.min(self.max_wal_blocks).min(spare as usize).max(1)
    }

    /// Starts up to `n` log blocks (erase, header) at the end of `wal`, at
    /// least one unless `n` is 0. The first may dig into the reserve if
    /// `internal`; the others never do, and are simply not started when
    /// space is short.
    fn start_wal_blocks(&mut self, n: usize, internal: bool) -> Result<(), D> {
        for i in 0..n {
            let r = start_block(
                &mut self.io,
                &mut self.space,
                &self.layout,
                BlockKind::Wal,
                internal && i == 0,
            );
            match r {
                Ok((block, epoch)) => {
                    let w = WalRef {
                        block,
                        end: u32::MAX,
                        epoch,
                    };
                    if self.wal.push(w).is_err() {
                        self.space.release(block);
                        return Err(Error::OutOfMemory);
                    }
                }
                Err(Error::Full) if i > 0 => break,
                Err(e) => return self.poison_on_err(Err(e)),
            }
        }
        Ok(())
    }

    /// Makes buffered writes durable (only needed with `sync_writes` off).
    pub fn sync(&mut self) -> Result<(), D> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        self.write_log_buffer()?;
        // Compactions not yet committed are committed now: a store
        // reopened later need not redo them.
        self.settle()?;
        self.sync_all()
    }

    /// Writes the memtable into level-0 tables and empties the log.
    pub fn flush(&mut self) -> Result<(), D> {
        self.flush_inner(false)
    }

    /// As `flush`; `more_writes`: a write follows, so the flush also starts
    /// the log blocks it will need, named by the flush's own commit.
    fn flush_inner(&mut self, more_writes: bool) -> Result<(), D> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        // Nothing written since the last flush (its log blocks started
        // ahead of need are unused): nothing to do.
        if self.mem.is_empty() && self.wal_used == 0 {
            return Ok(());
        }
        // Should the flush fail, the log must still hold every write.
        self.write_log_buffer()?;
        // In fixed memory a scan has a cursor for each of at most
        // `MAX_L0_RUNS` runs of level 0: make room for this flush's.
        while self.fixed && self.l0_run_count() >= self.l0_run_cap {
            let total = self.levels[0].len() + self.levels[1].len();
            let picks = self.picks_for(0, (self.space.available() as usize) >= total + 2);
            if !self.compact_level(0, picks)? {
                return Err(Error::Full);
            }
        }
        let bottom = self.levels.is_empty();
        // The memtable is emptied only once the commit is durable.
        let r = Self::write_memtable(
            &mut self.io,
            &mut self.space,
            self.layout,
            &self.mem,
            bottom,
            &mut self.builder,
            (&mut self.levels, &mut self.keys),
        );
        if let Err(e) = r {
            unstage_from(&mut self.levels, &mut self.keys, &mut self.space, 0);
            return self.poison_on_err(Err(e));
        }
        self.levels.place_staged(0, 0);
        let mut freed = core::mem::take(&mut self.freed);
        freed.clear();
        for w in self.wal.iter() {
            // The list holds a block for each block of the device.
            let _ = freed.push(w.block);
        }
        self.wal.clear();
        self.wal_used = 0;
        self.wal_active = None;
        let saved_flushed = self.flushed_seq;
        self.flushed_seq = self.last_seq;
        // Best effort: without them, the next write starts and commits one.
        let n = if more_writes { self.chain_len() } else { 0 };
        let r = self.start_wal_blocks(n, false);
        let r = match r {
            Err(Error::Full) => Ok(()),
            r => r,
        };
        // A flush a write called for is committed with the compactions that
        // follow it, before that write's record (see `apply`).
        let r = r.and_then(|()| {
            if more_writes {
                self.commit_later(&freed)
            } else {
                self.commit(&freed)
            }
        });
        self.freed = freed;
        if let Err(e) = r {
            // Poisoned by now; keep the in-memory view readable.
            self.flushed_seq = saved_flushed;
            return Err(e);
        }
        // Back to the configured size if replaying the log grew it.
        self.mem
            .clear_to(crate::memtable::arena_len(self.cfg.memtable_bytes));
        self.ops.flushes += 1;
        debug!("flushed into {} tables", self.levels[0].len());
        Ok(())
    }

    fn write_memtable(
        io: &mut Io<D>,
        space: &mut Space,
        l: Layout,
        mem: &Memtable<Arena>,
        bottom: bool,
        builder: &mut TableBuilder,
        (levels, keys): (&mut Levels, &mut Keys),
    ) -> Result<(), D> {
        builder.reset();
        for (k, v) in mem.iter() {
            if v.is_none() && bottom {
                continue;
            }
            if !builder.fits(k, v) {
                if builder.is_empty() {
                    return Err(Error::TooLarge);
                }
                write_table(io, space, builder, levels, keys)?;
            }
            let r = add_to_table(io, space, &l, builder, k, v);
            if let Err(e) = r {
                if let Some(b) = builder.block() {
                    space.release(b);
                }
                builder.reset();
                return Err(e);
            }
        }
        if !builder.is_empty() {
            write_table(io, space, builder, levels, keys)?;
        }
        Ok(())
    }

    fn flush_and_compact(&mut self) -> Result<(), D> {
        self.flush_inner(true)?;
        self.maybe_compact()
    }

    fn level_bytes(&self, lvl: usize) -> u64 {
        self.levels[lvl].iter().map(|t| t.used_bytes()).sum()
    }

    /// Byte budgets of the levels (level 0's is unused: it has its
    /// trigger).
    ///
    /// Level 1 holds `memtable_bytes * l0_compaction_trigger`, and level
    /// `n` that times `level_size_multiplier^(n - 1)`; past its budget, the
    /// deepest level holding data moves down whole. The levels between
    /// level 1 and the deepest are sized from the data actually in the
    /// deepest (as RocksDB's `level_compaction_dynamic_level_bytes`): one
    /// ratio, at most the multiplier, takes level 1 to the deepest level's
    /// size. A byte moving down a level costs about that ratio in rewrites,
    /// so a tree whose bottom holds 3.5 times its middle no longer pays
    /// 10 times on the way into that middle.
    fn level_targets(&self) -> [u64; LEVELS] {
        let base = (self.cfg.memtable_bytes * self.cfg.l0_compaction_trigger) as u64;
        let m = self.cfg.level_size_multiplier as u64;
        let mut targets = [base; LEVELS];
        for l in 2..LEVELS {
            targets[l] = targets[l - 1].saturating_mul(m);
        }
        let deepest = (1..LEVELS)
            .rev()
            .find(|&l| !self.levels[l].is_empty())
            .unwrap_or(0);
        if deepest == 2 {
            // Level 1 no larger than the space bound leaves room for: levels
            // 0 and 1 may hold half of level 2, and level 0 fills to 3/4
            // of its trigger before it merges. A larger level 1 would only
            // be drained early by the bound, merging down more often.
            let bottom = self.level_bytes(2);
            if bottom >= base {
                let room = (bottom / 2).saturating_sub(base / 4 * 3);
                targets[1] = base.min(room.max(self.cfg.memtable_bytes as u64));
            }
        }
        if deepest < 3 {
            return targets;
        }
        // The ratio in sixteenths: the least that takes level 1 to the
        // deepest level's size in `deepest - 1` steps.
        let bottom = self.level_bytes(deepest) as u128;
        let grown =
            |r16: u64, steps: usize| (0..steps).fold(base as u128, |t, _| t * r16 as u128 / 16);
        let mut r16 = 16;
        while r16 < 16 * m && grown(r16, deepest - 1) < bottom {
            r16 += 1;
        }
        for (l, t) in targets.iter_mut().enumerate().take(deepest).skip(2) {
            *t = grown(r16, l - 1).min(u64::MAX as u128) as u64;
        }
        targets
    }

    /// Runs compactions until every level is within its budget, or until
    /// there is not enough free space to run one.
    /// Compaction is best effort: running out of space for one is not an
    /// error of the write that triggered it.
    fn maybe_compact(&mut self) -> Result<(), D> {
        match self.compact_some() {
            Err(Error::Full) => Ok(()),
            r => r,
        }
    }

    fn compact_some(&mut self) -> Result<(), D> {
        for _ in 0..64 {
            let l0_trigger = (self.cfg.memtable_bytes * self.cfg.l0_compaction_trigger) as u64;
            // Short of space, merge level 0 down at once: it holds the
            // shadowed values and tombstones that free space.
            let tight = self.space.available() <= self.space.reserve;
            let deepest = (1..LEVELS).rev().find(|&l| !self.levels[l].is_empty());
            // Bound space amplification: the levels above the deepest may
            // hold at most half as much as it does, once it holds a level
            // 1's worth (a smaller store is a few blocks whatever its shape).
            let upper: u64 = (0..deepest.unwrap_or(LEVELS))
                .map(|l| self.level_bytes(l))
                .sum();
            let bottom = deepest.map_or(0, |d| self.level_bytes(d));
            let upper_heavy = upper >= self.cfg.memtable_bytes as u64
                && upper * 2 > bottom
                && bottom >= l0_trigger;
            let l0_due = self.level_bytes(0) * 4 >= l0_trigger * 3
                || tight
                || (self.fixed && self.l0_run_count() >= self.l0_run_cap);
            let targets = self.level_targets();
            // The level to compact, and how many bytes should leave it.
            let (lvl, excess) = if !self.levels[0].is_empty() && l0_due {
                (0, 0)
            } else if let Some(l) = (1..LEVELS - 1).find(|&l| self.level_bytes(l) > targets[l]) {
                (l, self.level_bytes(l) - targets[l])
            } else if upper_heavy {
                // Only a merge into the deepest level shrinks the levels
                // above it: drain the lowest of them holding data.
                let d = deepest.unwrap_or(LEVELS);
                match (0..d).rev().find(|&l| !self.levels[l].is_empty()) {
                    Some(l) => (l, upper - bottom / 2),
                    None => return Ok(()),
                }
            } else {
                return Ok(());
            };
            let done = if lvl == 0 {
                let total = self.levels[0].len() + self.levels[1].len();
                let picks = self.picks_for(0, (self.space.available() as usize) >= total + 2);
                self.compact_level(0, picks)?
            } else if deepest == Some(lvl) {
                // The deepest level outgrew its budget: it moves down whole,
                // in one commit, rather than table by table.
                self.compact_level(lvl, 0..self.levels[lvl].len())?
            } else {
                let tables = &self.levels[lvl];
                let per_table = self.level_bytes(lvl) / tables.len() as u64;
                let want = excess.div_ceil(per_table.max(1));
                let picks = self.least_overlapping_run(lvl, want as usize);
                self.compact_level(lvl, picks)?
            };
            if !done {
                return Ok(());
            }
        }
        Ok(())
    }

    /// The tables of level `lvl` to merge into the next: the run of at most
    /// `want` adjacent tables (at least one, at most [`MAX_RUN_PICKS`]) that
    /// overlaps the fewest bytes of the next level per byte it holds, as
    /// RocksDB's `kMinOverlappingRatio`. Merging a run rather than one table
    /// at a time rewrites each table of the next level at its ends once,
    /// not twice, and commits once. A run of more than one table is taken
    /// only if its merge fits the free blocks without committing as it goes.
    fn least_overlapping_run(&self, lvl: usize, want: usize) -> core::ops::Range<usize> {
        let row = &self.levels[lvl];
        let below = &self.levels[lvl + 1];
        let want = want.clamp(1, MAX_RUN_PICKS).min(row.len());
        for k in (1..=want).rev() {
            // (start, bytes overlapped below, bytes of the run)
            let mut best: Option<(usize, u64, u64)> = None;
            for a in 0..=row.len() - k {
                let keys = &self.keys;
                let (lo, hi) = (keys.smallest(&row[a]), keys.largest(&row[a + k - 1]));
                let s = below.partition_point(|t| keys.largest(t) < lo);
                let e = below.partition_point(|t| keys.smallest(t) <= hi).max(s);
                if k > 1 && (k + (e - s) + 2) as u64 > self.space.available() as u64 {
                    continue;
                }
                let over: u64 = below[s..e].iter().map(|t| t.used_bytes()).sum();
                let own: u64 = row[a..a + k].iter().map(|t| t.used_bytes()).sum();
                let better = best.is_none_or(|(_, bo, bw)| {
                    (over as u128) * (bw as u128) < (bo as u128) * (own as u128)
                });
                if better {
                    best = Some((a, over, own));
                }
            }
            if let Some((a, ..)) = best {
                return a..a + k;
            }
        }
        0..1
    }

    /// Merges the tables `picks` of level `lvl` (in priority order) with
    /// the overlapping tables of the next level, into the next level.
    /// Returns false if there was not enough free space to try.
    ///
    /// When free space is short, the merge commits as it goes: each time it
    /// has passed an input table of the next level entirely, it finishes the
    /// output table, commits, and releases that input. The picked tables stay
    /// in their level until the end; being newer, they shadow correctly what
    /// has already been merged. Extra space needed: the picks plus two
    /// blocks.
    fn compact_level(&mut self, lvl: usize, picks: core::ops::Range<usize>) -> Result<bool, D> {
        let out_lvl = lvl + 1;
        let keys = &self.keys;
        let src = &self.levels[lvl];
        let picks = picks.start.min(src.len())..picks.end.min(src.len());
        let lo = picks.clone().map(|i| keys.smallest(&src[i])).min();
        let hi = picks.clone().map(|i| keys.largest(&src[i])).max();
        let (Some(lo), Some(hi)) = (lo, hi) else {
            return Ok(true);
        };
        let dst = &self.levels[out_lvl];
        let mut o_start = dst.partition_point(|t| keys.largest(t) < lo);
        let mut o_end = dst.partition_point(|t| keys.smallest(t) <= hi).max(o_start);

        // Tables that overlap nothing below move down without a rewrite.
        let picked_disjoint = picks.clone().all(|i| {
            picks.clone().filter(|&j| j > i).all(|j| {
                let (a, b) = (&src[i], &src[j]);
                keys.largest(a) < keys.smallest(b) || keys.largest(b) < keys.smallest(a)
            })
        });
        // ...unless they are mostly empty (small flushes, the last output
        // of a merge) and something packs with them: other picks, or a
        // mostly empty table next to them below, merged in.
        let block_size = self.layout.block_size as u64;
        let partial = |t: &Table| t.used_bytes() * 4 < block_size * 3;
        let full_enough = picks.clone().all(|i| !partial(&src[i]));
        if o_start == o_end && picked_disjoint {
            let left = o_start > 0 && partial(&dst[o_start - 1]);
            let right = o_end < dst.len() && partial(&dst[o_end]);
            if !full_enough && (left || right) {
                o_start -= left as usize;
                o_end += right as usize;
            } else if full_enough || picks.len() == 1 || lvl > 0 {
                return self.move_down(lvl, picks, full_enough);
            }
        }
        let overlap = o_end - o_start;
        let inputs = picks.len() + overlap;
        if self.space.deferred_count > 0 && self.space.available() < inputs as u32 + 2 {
            // The blocks earlier compactions freed are needed.
            self.settle()?;
        }
        let incremental = self.space.available() < inputs as u32 + 2;
        if incremental && self.space.available() < CUT_FREE_BLOCKS {
            return Ok(false);
        }
        // Outputs are staged in `levels` until the merge ends; those before
        // `committed_out` are named by a commit made as the merge went.
        let mut committed_out = 0;
        let mut released = 0;
        let mut cx = ReadCtx {
            reads: 0,
            meta_reads: 0,
            cache: None,
            spare: Some((&mut self.scratch, &mut self.meta_scratch)),
            // The merge adds key ranges as it goes.
            keys: None,
        };
        let l = self.layout;
        let mut runs = self.cursors.take();
        self.builder.reset();
        let result = (|| -> Result<(), D> {
            let mut n = 0;
            runs_of(
                (&self.levels, &self.keys),
                lvl,
                picks.clone(),
                &mut runs,
                &mut n,
            )?;
            runs.set(n, out_lvl, o_start, o_end)?;
            let below = n;
            let runs = &mut runs[..n + 1];
            for r in runs.iter_mut() {
                let src = (&self.levels, &self.keys);
                r.seek(src, &mut self.io, &l, Bound::Unbounded, &mut cx)?;
            }
            loop {
                // A cut point: the run below sits on the first key of an
                // untouched table, so every table before it is merged.
                if incremental {
                    let r = &runs[below];
                    let inputs_below = &self.levels[out_lvl][o_start..o_end];
                    let at_table_start =
                        r.ti < overlap && r.key() == Some(self.keys.smallest(&inputs_below[r.ti]));
                    if at_table_start
                        && r.ti > released
                        && self.space.available() <= CUT_FREE_BLOCKS
                    {
                        let ti = r.ti;
                        if !self.builder.is_empty() {
                            let (levels, keys) = (&mut self.levels, &mut self.keys);
                            let b = &mut self.builder;
                            write_table(&mut self.io, &mut self.space, b, levels, keys)?;
                        }
                        self.freed.clear();
                        for t in &self.levels[out_lvl][o_start + released..o_start + ti] {
                            self.freed.push(t.block)?;
                        }
                        let freed = &self.freed;
                        self.cache.forget(!freed.is_empty(), |b| freed.contains(&b));
                        commit_manifest(
                            &mut self.io,
                            &mut self.space,
                            &l,
                            (&mut self.meta, &mut self.records),
                            Manifest {
                                last_seq: self.flushed_seq,
                                wal: &self.wal,
                                levels: &self.levels,
                                cut: Some((out_lvl, o_start, o_start + ti)),
                            },
                            &self.freed,
                            false,
                        )?;
                        committed_out = self.levels.staged().len();
                        released = ti;
                    }
                }
                let Some((b, k)) = smallest(runs) else { break };
                self.merge_key.set(k)?;
                let is_value = match runs[b].c.value() {
                    Some(v) => {
                        self.merge_value.set(v)?;
                        true
                    }
                    None => false,
                };
                let key = &self.merge_key[..];
                for r in runs.iter_mut() {
                    if r.key() == Some(key) {
                        r.advance(&self.levels, &mut self.io, &l, &mut cx)?;
                    }
                }
                if !is_value && !shadowed_below(&self.levels, &self.keys, out_lvl, key) {
                    continue;
                }
                let v = is_value.then_some(&self.merge_value[..]);
                if !self.builder.fits(key, v) {
                    let (levels, keys) = (&mut self.levels, &mut self.keys);
                    let b = &mut self.builder;
                    write_table(&mut self.io, &mut self.space, b, levels, keys)?;
                }
                add_to_table(&mut self.io, &mut self.space, &l, &mut self.builder, key, v)?;
            }
            if !self.builder.is_empty() {
                let (levels, keys) = (&mut self.levels, &mut self.keys);
                let b = &mut self.builder;
                write_table(&mut self.io, &mut self.space, b, levels, keys)?;
            }
            Ok(())
        })();
        self.cursors.put_back(runs);
        self.ops.table_block_reads += cx.reads;
        self.ops.table_meta_reads += cx.meta_reads;

        // Rebuild the next level: untouched prefix, outputs, then the
        // inputs not yet merged (all of them merged on success). Inputs
        // before `released` were freed by the commits made on the way.
        let failed = result.is_err();
        if failed {
            if let Some(b) = self.builder.block() {
                self.space.release(b);
            }
            self.builder.reset();
            let (levels, keys) = (&mut self.levels, &mut self.keys);
            unstage_from(levels, keys, &mut self.space, committed_out);
        }
        let merged_to = if failed { released } else { overlap };
        let mut freed = core::mem::take(&mut self.freed);
        freed.clear();
        // The list holds a block for each block of the device.
        for i in o_start..o_start + merged_to {
            let t = self.levels[out_lvl][i];
            self.keys.release(&t);
            if i >= o_start + released {
                let _ = freed.push(t.block);
            }
        }
        self.levels
            .remove_range(out_lvl, o_start, o_start + merged_to);
        self.levels.place_staged(out_lvl, o_start);
        if let Err(e) = result {
            self.freed = freed;
            return self.poison_on_err::<bool>(Err(e));
        }
        for i in picks.rev() {
            if let Some(t) = self.levels.remove(lvl, i) {
                self.keys.release(&t);
                let _ = freed.push(t.block);
            }
        }
        let r = self.commit_later(&freed);
        let released_blocks = freed.len();
        self.freed = freed;
        r?;
        self.ops.compactions += 1;
        debug!(
            "compacted level {} into {}: {} blocks released",
            lvl, out_lvl, released_blocks
        );
        Ok(true)
    }

    /// Moves the tables `picks` of level `lvl`, which overlap nothing in
    /// the next level, down without a rewrite. Full tables go as deep as
    /// they overlap nothing, down to the deepest level holding data: keys
    /// written in increasing order reach the bottom in one move, not one
    /// per level. Others go one level down, where later merges can pack
    /// them.
    fn move_down(
        &mut self,
        lvl: usize,
        picks: core::ops::Range<usize>,
        deep: bool,
    ) -> Result<bool, D> {
        let deepest = (1..LEVELS)
            .rev()
            .find(|&l| !self.levels[l].is_empty())
            .unwrap_or(0);
        let keys = &self.keys;
        let mut dest = lvl + 1;
        while deep && dest < deepest {
            let row = &self.levels[dest + 1];
            let clear = picks.clone().all(|i| {
                let t = &self.levels[lvl][i];
                let at = row.partition_point(|b| keys.largest(b) < keys.smallest(t));
                at == row.len() || keys.smallest(&row[at]) > keys.largest(t)
            });
            if !clear {
                break;
            }
            dest += 1;
        }
        for i in picks.rev() {
            if let Some(t) = self.levels.remove(lvl, i) {
                self.levels.stage(t)?;
            }
        }
        let keys = &self.keys;
        sort_by(self.levels.staged_mut(), |a, b| {
            keys.smallest(a) < keys.smallest(b)
        });
        let Some(&first) = self.levels.staged().first() else {
            return Ok(true);
        };
        let at = self.levels[dest].partition_point(|t| keys.largest(t) < keys.smallest(&first));
        self.levels.place_staged(dest, at);
        self.commit_later(&[])?;
        self.ops.compactions += 1;
        Ok(true)
    }

    /// How many sorted runs level 0 holds (see [`runs_of`]).
    fn l0_run_count(&self) -> usize {
        let (l0, keys) = (&self.levels[0], self.keys.view());
        (1..=l0.len())
            .filter(|&i| i == l0.len() || !one_run(keys, &l0[i - 1], &l0[i]))
            .count()
    }

    /// Picks for a compaction of `lvl`: everything when space allows,
    /// otherwise one table (the oldest of level 0, or the first of a deeper
    /// level).
    fn picks_for(&self, lvl: usize, all: bool) -> core::ops::Range<usize> {
        let n = self.levels[lvl].len();
        // In fixed memory a merge has a cursor for each of `MAX_RUNS` runs.
        let all = all && !(self.fixed && lvl == 0 && self.l0_run_count() >= self.run_cap);
        if all {
            0..n
        } else if lvl == 0 {
            n.saturating_sub(1)..n
        } else {
            0..1
        }
    }

    /// Flushes the memtable and merges every level into the deepest one
    /// holding data, dropping every shadowed value and tombstone.
    pub fn compact(&mut self) -> Result<(), D> {
        self.flush()?;
        let deepest = (1..LEVELS)
            .rev()
            .find(|&l| !self.levels[l].is_empty())
            .unwrap_or(1);
        for lvl in 0..deepest {
            while !self.levels[lvl].is_empty() {
                let total: usize = self.levels[lvl].len() + self.levels[lvl + 1].len();
                let all = (self.space.available() as usize) >= total + 2;
                let picks = self.picks_for(lvl, all);
                if !self.compact_level(lvl, picks)? {
                    return Err(Error::Full);
                }
            }
        }
        // One commit for every merge made.
        self.settle()
    }

    /// The sorted runs a read may consult: the memtable (if it holds
    /// anything), each run of level 0, and each other level holding data.
    fn sorted_runs(&self) -> usize {
        let l0 = if self.levels[0].is_empty() {
            0
        } else if self.l0_runs_for == self.levels[0].len() {
            self.l0_runs.len()
        } else {
            self.levels[0].len()
        };
        let deeper = self.levels.iter().skip(1).filter(|l| !l.is_empty()).count();
        !self.mem.is_empty() as usize + l0 + deeper
    }

    /// Whether reads have paid for a merge of the store into one sorted
    /// run: [`Db::maintain`] would do it. Never true for a store that has
    /// stopped accepting writes after an error.
    ///
    /// Every lookup that consults a run not holding its key (but the last a
    /// lookup of a missing key consults, which one run would not spare
    /// it), and every scan that places a cursor in more than one run, adds
    /// to a debt counted in what that work would have paid for in merging.
    /// Once the debt reaches
    /// what merging every run into one costs (rewriting the memtable and
    /// every table), merging is worth it, as buying is once the rent paid
    /// reaches the price: whatever reads follow, reads and merges together
    /// then cost at most about twice what they would with the best choice
    /// made in hindsight. This is LevelDB's seek-triggered compaction, with
    /// a threshold that grows with the store, so reads trigger a full merge
    /// at most once per store's worth of wasted work.
    pub fn maintenance_due(&self) -> bool {
        if self.poisoned || self.ops.read_debt == 0 || self.sorted_runs() < 2 {
            return false;
        }
        self.ops.read_debt >= self.tables_bytes + self.mem.bytes() as u64
    }

    /// Merges every sorted run into one, as [`Db::compact`] does, if reads
    /// have paid for it ([`Db::maintenance_due`]); returns whether it did.
    ///
    /// Call it when the store is idle, or after reads: `cairn-std` calls it
    /// after each read that finds it due. A store too full to merge
    /// everything is left as it is (the debt is forgiven, so the next
    /// attempt waits for as much again); other errors are returned.
    ///
    /// ```
    /// use cairn_core::{Config, Db, device::RamDevice};
    ///
    /// let cfg = Config { memtable_bytes: 4096, ..Config::default() };
    /// let mut db = Db::format(RamDevice::new(4096, 64, 4), cfg).unwrap();
    /// for i in 0..200u32 {
    ///     db.put(&i.to_be_bytes(), b"some value").unwrap();
    /// }
    /// // Overwrites of keys across the range, flushed: a level-0 table
    /// // over a deeper level.
    /// for i in (0..200u32).step_by(7) {
    ///     db.put(&i.to_be_bytes(), b"another value").unwrap();
    /// }
    /// db.flush().unwrap();
    /// // Lookups of keys the store lacks, inside its key range: each
    /// // consults level 0 in vain before the deeper level.
    /// let mut buf = [0u8; 16];
    /// for i in 0..100_000u32 {
    ///     if db.maintenance_due() {
    ///         break;
    ///     }
    ///     db.get(&[0, 0, 0, (i % 200) as u8, 1], &mut buf).unwrap();
    /// }
    /// assert!(db.maintain().unwrap());
    /// assert_eq!(db.stats().read_merges, 1);
    /// assert!(!db.maintenance_due());
    /// ```
    pub fn maintain(&mut self) -> Result<bool, D> {
        if !self.maintenance_due() {
            return Ok(false);
        }
        self.ops.read_debt = 0;
        match self.compact() {
            Ok(()) => {
                self.ops.read_merges += 1;
                debug!("reads merged the store into one run");
                Ok(true)
            }
            Err(Error::Full) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn lookup<R>(&mut self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>, D> {
        self.check_key(key)?;
        self.ops.gets += 1;
        let hash = crate::table::key_hash(key);
        if let Some(v) = self.mem.get_hashed(key, hash) {
            return Ok(v.map(f));
        }
        let mut cx = ReadCtx {
            reads: 0,
            meta_reads: 0,
            cache: Some(&mut self.cache),
            spare: None,
            keys: Some(self.keys.view()),
        };
        let mut found = None;
        // Runs consulted that did not hold the key.
        let mut absent: u64 = 0;
        let mut answered = false;
        'levels: for (lvl, tables) in self.levels.iter().enumerate() {
            // Each run of the level (one, below level 0) holds at most one
            // table whose range may cover the key.
            let (mut start, mut run) = (0, 0);
            while start < tables.len() {
                let end = if lvl > 0 {
                    tables.len()
                } else if self.l0_runs_for == tables.len() {
                    self.l0_runs.get(run).copied().unwrap_or(tables.len())
                } else {
                    start + 1
                };
                let end = end.clamp(start + 1, tables.len());
                let seg = &tables[start..end];
                (start, run) = (end, run + 1);
                let keys = self.keys.view();
                // The first table whose largest key is not below the key
                // (a binary search written out: this is the hot loop of a
                // lookup).
                let (mut lo, mut hi) = (0, seg.len());
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    if keys.largest(&seg[mid]) < key {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                let i = lo;
                let Some(t) = seg.get(i) else { continue };
                // Past the largest key of every table before it, so only
                // the smallest key is left to compare.
                if key < keys.smallest(t) {
                    absent += 1;
                    continue;
                }
                match t.get(
                    &mut self.io,
                    &self.layout,
                    key,
                    hash,
                    &mut self.scratch,
                    &mut self.meta_scratch,
                    &mut cx,
                )? {
                    Lookup::Absent => {
                        absent += 1;
                        continue;
                    }
                    Lookup::Deleted => {
                        answered = true;
                        break 'levels;
                    }
                    Lookup::Found(o, n) => {
                        found = Some((o, n));
                        answered = true;
                        break 'levels;
                    }
                }
            }
        }
        // Every run that did not hold the key is work a store of one run
        // would not have done, but for the last one a miss consults.
        let wasted = if answered {
            absent
        } else {
            absent.saturating_sub(1)
        };
        self.ops.read_debt += LOOKUP_PROBE_BYTES * wasted;
        let (reads, meta_reads) = (cx.reads, cx.meta_reads);
        self.ops.table_block_reads += reads;
        self.ops.table_meta_reads += meta_reads;
        Ok(found.map(|(o, n)| f(&self.scratch[o..o + n])))
    }

    /// Copies the value of `key` into `buf` and returns its length, or
    /// `None` if the key is absent. A too-small `buf` gets
    /// [`Error::BufferTooSmall`] with the length needed.
    pub fn get(&mut self, key: &[u8], buf: &mut [u8]) -> Result<Option<usize>, D> {
        let r = self.lookup(key, |v| {
            if v.len() > buf.len() {
                Err(v.len())
            } else {
                buf[..v.len()].copy_from_slice(v);
                Ok(v.len())
            }
        })?;
        match r {
            None => Ok(None),
            Some(Ok(n)) => Ok(Some(n)),
            Some(Err(needed)) => Err(Error::BufferTooSmall { needed }),
        }
    }

    /// The value of `key`, if any.
    #[cfg(feature = "alloc")]
    pub fn get_vec(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, D> {
        self.lookup(key, |v| v.to_vec())
    }

    /// Calls `f` with every live key and value in `[start, end)` (as the
    /// bounds say), in key order, until `f` returns false.
    ///
    /// Values are lent to `f` where they lie (the memtable, or a data block
    /// in the cache or read for this scan), never copied. Once the store
    /// has scanned, a scan allocates nothing: it reuses the cursors and
    /// buffers of the last one.
    pub fn scan(
        &mut self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), D> {
        self.ops.scans += 1;
        let Db {
            io,
            layout,
            mem,
            levels,
            keys: table_keys,
            l0_runs,
            l0_runs_for,
            ops,
            cache,
            cursors,
            scan_key: key,
            scratch,
            meta_scratch,
            ..
        } = self;
        let mut taken = cursors.take();
        let runs = &mut taken;
        let mut cx = ReadCtx {
            reads: 0,
            meta_reads: 0,
            cache: Some(cache),
            spare: Some((scratch, meta_scratch)),
            keys: Some(table_keys.view()),
        };
        let mut mem_it = mem.range(start, end).peekable();
        // The runs kept from the last scan are reused in order; new ones
        // are added after them.
        let mut n = 0;
        let mut placed = Ok(());
        let mut add = |runs: &mut Runs, lvl: usize, from: usize, to: usize| {
            if placed.is_ok() {
                placed = runs.set(n, lvl, from, to);
            }
            n += 1;
        };
        let l0_len = levels[0].len();
        if *l0_runs_for == l0_len {
            let mut from = 0;
            for &to in l0_runs.iter() {
                add(runs, 0, from, to.min(l0_len));
                from = to;
            }
        } else {
            // Not indexed (never, once committed): each table a run.
            for i in 0..l0_len {
                add(runs, 0, i, i + 1);
            }
        }
        for (lvl, lv) in levels.iter().enumerate().skip(1) {
            if !lv.is_empty() {
                add(runs, lvl, 0, lv.len());
            }
        }
        let (levels, table_keys) = (&*levels, &*table_keys);
        let n = if placed.is_ok() { n } else { 0 };
        let active = &mut runs[..n];
        // Every source past the first costs each seek a cursor to place.
        let sources = active.len() + !mem.is_empty() as usize;
        ops.read_debt += SCAN_RUN_BYTES * sources.saturating_sub(1) as u64;
        let r = (|| {
            placed?;
            for r in active.iter_mut() {
                r.seek((levels, table_keys), io, layout, start, &mut cx)?;
            }
            let past_end = |k: &[u8]| match end {
                Bound::Unbounded => false,
                Bound::Included(e) => k > e,
                Bound::Excluded(e) => k >= e,
            };
            loop {
                // Source 0 is the memtable, then runs in priority order: on
                // a tie the first source holds the newest version.
                let head = mem_it.peek().copied();
                let mut best: Option<(usize, &[u8])> = head.map(|(k, _)| (0, k));
                if let Some((i, k)) = smallest(active) {
                    if best.is_none_or(|(_, b)| k < b) {
                        best = Some((i + 1, k));
                    }
                }
                let Some((src, k)) = best else { break };
                if past_end(k) {
                    break;
                }
                key.set(k)?;
                for r in active.iter_mut() {
                    r.at_key = r.key() == Some(&key[..]);
                }
                let live = match (src, head) {
                    (0, Some((_, v))) => v,
                    _ => active[src - 1].c.value(),
                };
                let go_on = live.is_none_or(|v| f(key, v));
                if src == 0 {
                    mem_it.next();
                }
                for r in active.iter_mut().filter(|r| r.at_key) {
                    r.advance(levels, io, layout, &mut cx)?;
                }
                if !go_on {
                    break;
                }
            }
            Ok(())
        })();
        ops.table_block_reads += cx.reads;
        ops.table_meta_reads += cx.meta_reads;
        cursors.put_back(taken);
        r
    }

    /// An iterator over the live entries in the given bounds, in key order.
    /// It reads ahead in small chunks, so it holds no more than a few
    /// entries in memory.
    #[cfg(feature = "alloc")]
    pub fn range<'a>(&'a mut self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Range<'a, D> {
        let own = |b: Bound<&[u8]>| match b {
            Bound::Included(k) => Bound::Included(k.to_vec()),
            Bound::Excluded(k) => Bound::Excluded(k.to_vec()),
            Bound::Unbounded => Bound::Unbounded,
        };
        Range {
            db: self,
            next: own(start),
            end: own(end),
            buf: VecDeque::new(),
            done: false,
            chunk: FIRST_RANGE_CHUNK,
        }
    }

    /// Counters and gauges.
    pub fn stats(&self) -> Stats {
        let c = self.io.counters;
        let mut tables_per_level = [0; LEVELS];
        for (i, l) in self.levels.iter().enumerate() {
            tables_per_level[i] = l.len() as u32;
        }
        Stats {
            puts: self.ops.puts,
            deletes: self.ops.deletes,
            gets: self.ops.gets,
            batches: self.ops.batches,
            scans: self.ops.scans,
            flushes: self.ops.flushes,
            compactions: self.ops.compactions,
            user_bytes_written: self.ops.user_bytes,
            device_reads: c.reads,
            bytes_read: c.bytes_read,
            programs: c.programs,
            bytes_programmed: c.bytes_programmed,
            erases: c.erases,
            syncs: c.syncs,
            table_block_reads: self.ops.table_block_reads,
            table_meta_reads: self.ops.table_meta_reads,
            read_merges: self.ops.read_merges,
            tables_per_level,
            blocks_in_use: self.io.geo.block_count - self.space.available(),
            blocks_free: self.space.available(),
            block_size: self.io.geo.block_size,
            block_count: self.io.geo.block_count,
            memtable_bytes: self.mem.bytes(),
            wal_blocks: self.wal.len() as u32,
            table_bytes: self.levels.iter().flatten().map(|t| t.used_bytes()).sum(),
            cache_hits: self.cache.hits,
            cache_misses: self.cache.misses,
            cache_bytes: self.cache.bytes(),
        }
    }

    /// Reads back every structure of the store and verifies every checksum
    /// and invariant. Device errors abort the check; everything else found
    /// wrong is listed in the report.
    pub fn check(&mut self) -> Result<CheckReport, D> {
        let mut rep = CheckReport::default();
        let n = self.io.geo.block_count;
        let owner = &mut self.bits;
        owner.fill(0);
        let mut claim = |b: u32, rep: &mut CheckReport| {
            if b >= n {
                rep.found(b, "block beyond the device named");
            } else if bit(owner, b) {
                rep.found(b, "block claimed twice");
            } else {
                set_bit(owner, b, true);
            }
        };
        let mut hdr = [0u8; MAX_HEADER_LEN];
        let hdr = &mut hdr[..self.layout.header_len];
        if let Some(b) = self.meta.block {
            claim(b, &mut rep);
            self.io.read(b, 0, hdr)?;
            match BlockHeader::parse(hdr) {
                Some(h) if h.kind == BlockKind::Meta => rep.blocks_checked += 1,
                _ => rep.found(b, "manifest block has no valid header"),
            }
        } else {
            rep.found(u32::MAX, "no manifest block");
        }
        let (mut reads, mut meta_reads) = (0, 0);
        let mut runs = self.cursors.take();
        let r = (|| -> Result<(), D> {
            runs.set(0, 0, 0, 0)?;
            let c = &mut runs[0].c;
            for (lvl, tables) in self.levels.iter().enumerate() {
                for (i, t) in tables.iter().enumerate() {
                    claim(t.block, &mut rep);
                    rep.tables += 1;
                    let keys = &self.keys;
                    if lvl > 0 && i > 0 && !one_run(keys.view(), &tables[i - 1], t) {
                        rep.found(t.block, "table overlaps the one before it in its level");
                    }
                    let (io, l) = (&mut self.io, &self.layout);
                    let fresh = match Table::load(io, l, t.block, &mut self.scratch, None) {
                        Ok(f) => f,
                        Err(Error::Corrupted(c)) => {
                            rep.found(c.block, c.what);
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    if fresh.epoch != t.epoch || fresh.footer != t.footer {
                        rep.found(t.block, "table changed on media");
                    }
                    match fresh.verify_bloom(io, l, &mut self.scratch) {
                        Ok(()) => {}
                        Err(Error::Corrupted(c)) => {
                            rep.found(c.block, c.what);
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                    let mut cx = ReadCtx {
                        reads: 0,
                        meta_reads: 0,
                        cache: None,
                        spare: Some((&mut self.scratch, &mut self.meta_scratch)),
                        keys: Some(keys.view()),
                    };
                    let mut count = 0u64;
                    let mut tombs = 0u32;
                    let last = &mut self.merge_key;
                    last.clear();
                    let mut res = c.seek(t, io, l, Bound::Unbounded, &mut cx);
                    while res.is_ok() {
                        let Some(k) = c.key() else { break };
                        count += 1;
                        if c.value().is_none() {
                            tombs += 1;
                        }
                        if count == 1 && k != keys.smallest(t) {
                            rep.found(t.block, "table's first key differs from its index");
                        }
                        if last.set(k).is_err() {
                            rep.found(t.block, "table holds a key longer than allowed");
                        }
                        res = c.advance(t, io, l, &mut cx);
                    }
                    (reads, meta_reads) = (reads + cx.reads, meta_reads + cx.meta_reads);
                    match res {
                        Ok(()) => {}
                        Err(Error::Corrupted(c)) => {
                            rep.found(c.block, c.what);
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                    if count == 0 || &last[..] != keys.largest(t) {
                        rep.found(t.block, "table's last key differs from its index");
                    }
                    if count != fresh.footer.entries as u64 || tombs != fresh.footer.tombstones {
                        rep.found(t.block, "table's entry count differs from its footer");
                    }
                    rep.entries += count;
                    rep.blocks_checked += 1;
                }
            }
            Ok(())
        })();
        self.cursors.put_back(runs);
        self.ops.table_block_reads += reads;
        self.ops.table_meta_reads += meta_reads;
        r?;
        let l = self.layout;
        for i in 0..self.wal.len() {
            let w = self.wal[i];
            claim(w.block, &mut rep);
            self.io.read(w.block, 0, hdr)?;
            match BlockHeader::parse(hdr) {
                Some(h) if h.kind == BlockKind::Wal && h.epoch == w.epoch => {}
                _ => {
                    rep.found(w.block, "log block has no valid header");
                    continue;
                }
            }
            let sealed = w.end != u32::MAX && i + 1 < self.wal.len();
            let limit = (w.end as usize).min(l.block_size);
            let mut recs = Records::new(w.block, w.epoch, l.header_len, limit);
            while let Some((_, payload)) = recs.next(&mut self.io, &mut self.records, &l)? {
                if apply_payload::<D>(None, &self.records[payload], w.block).is_err() {
                    rep.found(w.block, "log record malformed");
                }
            }
            if sealed && recs.off != limit {
                rep.found(w.block, "sealed log block's records end early");
            }
            rep.blocks_checked += 1;
        }
        // Blocks freed by commits not yet synced, or by compactions not yet
        // committed, stay in use, named by nothing the store holds now.
        let owner = &self.bits;
        for b in self
            .space
            .pending_blocks()
            .chain(self.space.deferred_blocks())
        {
            if b >= n || bit(owner, b) {
                rep.found(b, "block awaits release but is referenced");
            }
        }
        let ones = |map: &[u32]| map.iter().map(|w| w.count_ones() as usize).sum::<usize>();
        let claimed =
            ones(owner) + self.space.pending_count as usize + self.space.deferred_count as usize;
        if ones(&self.space.used) != claimed {
            rep.found(
                u32::MAX,
                "blocks marked in use differ from blocks referenced or awaiting release",
            );
        }
        Ok(rep)
    }
}

/// A store closed by dropping it hands its buffered log records (writes
/// made with `sync_writes` off) to the device, as `into_device` does, so a
/// clean close loses nothing. It does not sync: a power cut may still.
impl<D: BlockDevice> Drop for Db<D> {
    fn drop(&mut self) {
        if self.io.dev.is_some() {
            let _ = self.write_log_buffer();
        }
    }
}

/// Checks a log record and inserts its operations into `mem`; with no
/// memtable, only checks it.
fn apply_payload<D: BlockDevice>(
    mut mem: Option<&mut Memtable<Arena>>,
    payload: &[u8],
    block: u32,
) -> Result<(), D> {
    let bad = || Error::corrupted(block, "log record malformed");
    let mut r = Reader::new(payload);
    let n = r.varint().ok_or_else(bad)?;
    if n == 0 || n > payload.len() as u64 {
        return Err(bad());
    }
    // Validate the whole record before applying any of it: all or nothing.
    let start = r.pos();
    for _ in 0..n {
        read_entry(&mut r).ok_or_else(bad)?;
    }
    if !r.is_empty() {
        return Err(bad());
    }
    let mut r = Reader::new(&payload[start..]);
    for _ in 0..n {
        let e = read_entry(&mut r).ok_or_else(bad)?;
        if e.key.is_empty() {
            return Err(bad());
        }
        if let Some(mem) = mem.as_deref_mut() {
            // Grows a `Vec` arena; a fixed one may be too small for a log
            // written with a larger memtable.
            mem.insert_or_grow(e.key, e.value).map_err(|_| {
                Error::InvalidConfig(
                    "the log holds more than memtable_bytes: open with a larger one",
                )
            })?;
        }
    }
    Ok(())
}

/// Iterator returned by [`Db::range`].
#[cfg(feature = "alloc")]
pub struct Range<'a, D: BlockDevice> {
    db: &'a mut Db<D>,
    next: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    buf: VecDeque<(Vec<u8>, Vec<u8>)>,
    done: bool,
    chunk: usize,
}

/// A range reads this many entries first, then twice as many each time,
/// up to `RANGE_CHUNK`.
#[cfg(feature = "alloc")]
const FIRST_RANGE_CHUNK: usize = 8;
#[cfg(feature = "alloc")]
const RANGE_CHUNK: usize = 128;

#[cfg(feature = "alloc")]
impl<D: BlockDevice> Iterator for Range<'_, D> {
    type Item = Result<(Vec<u8>, Vec<u8>), D>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() && !self.done {
            let buf = &mut self.buf;
            let start = match &self.next {
                Bound::Included(k) => Bound::Included(k.as_slice()),
                Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
                Bound::Unbounded => Bound::Unbounded,
            };
            let end = match &self.end {
                Bound::Included(k) => Bound::Included(k.as_slice()),
                Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
                Bound::Unbounded => Bound::Unbounded,
            };
            let chunk = self.chunk;
            self.chunk = (self.chunk * 2).min(RANGE_CHUNK);
            let r = self.db.scan(start, end, |k, v| {
                buf.push_back((k.to_vec(), v.to_vec()));
                buf.len() < chunk
            });
            if let Err(e) = r {
                self.done = true;
                return Some(Err(e));
            }
            if self.buf.len() < chunk {
                self.done = true;
            }
            if let Some((k, _)) = self.buf.back() {
                self.next = Bound::Excluded(k.clone());
            }
        }
        self.buf.pop_front().map(Ok)
    }
}
