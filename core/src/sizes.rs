//! How much memory a store needs: the largest each of its buffers and lists
//! can get for a configuration and a device geometry, worked out once (and
//! at compile time, for a buffer in a `static`).

use crate::db::Config;
use crate::device::Geometry;
use crate::format::{
    entry_len, record_len, restart_trailer_len, round_up, FOOTER_LEN, HEADER_LEN, MAX_DATA_BLOCK,
    RESTART_INTERVAL,
};
use crate::list::region;
use crate::manifest::{self, WalRef, LEVELS};
use crate::memtable;
use crate::table::{Table, META_HEAD, META_REC};

/// Sorted runs a store in fixed memory can read at once, at most: its
/// scans and merges keep a cursor per run (see `Sizes::runs`).
pub(crate) const MAX_RUNS: usize = 8;

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

const fn min(a: usize, b: usize) -> usize {
    if a < b {
        a
    } else {
        b
    }
}

/// The sizes of a store's buffers and lists.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sizes {
    /// Blocks of the device.
    pub blocks: usize,
    /// Words of a bitmap of the blocks.
    pub words: usize,
    pub max_key: usize,
    /// The longest value accepted.
    pub max_value: usize,
    /// Target bytes of a data block.
    pub data_block_bytes: usize,
    /// Log blocks the store writes before it flushes.
    pub max_wal_blocks: usize,
    /// Bytes of the memtable's arena.
    pub arena: usize,
    /// The largest data block, padded: its entries, restart array and
    /// checksum.
    pub data: usize,
    /// Restart points in a data block at most.
    pub restarts: usize,
    /// Data blocks in a table at most.
    pub table_blocks: usize,
    /// The largest table index, padded.
    pub index: usize,
    /// In fixed memory, the most bits of a table's bloom filter: 16 bytes
    /// of block per key, at `bloom_bits_per_key`.
    pub bloom_bits: usize,
    /// The largest bloom filter, padded.
    pub bloom: usize,
    /// A buffer for reads of data blocks, indexes, headers and footers.
    pub raw: usize,
    /// A buffer for a bloom filter or a decoded index.
    pub own: usize,
    /// Log records buffered with `sync_writes` off before they are
    /// programmed.
    pub log_buffer: usize,
    /// A buffer for a manifest record, or a window of records read at
    /// mount.
    pub records: usize,
    /// Bytes of a log or metadata block read at a time while mounting.
    pub record_window: usize,
    /// Log blocks the manifest may name.
    pub wal: usize,
    /// In fixed memory, the sorted runs level 0 may hold: past that it is
    /// merged down before it takes another flush.
    pub l0_runs: usize,
    /// In fixed memory, the cursors a scan or merge may need: one per run
    /// of level 0 and per deeper level the device can fill.
    pub runs: usize,
}

impl Sizes {
    /// The sizes for `cfg` on a device of geometry `geo`. Values a store
    /// refuses to open with give sizes that are merely large.
    pub const fn of(cfg: &Config, geo: &Geometry) -> Sizes {
        let align = max(geo.align() as usize, 1);
        let bs = geo.block_size as usize;
        let blocks = geo.block_count as usize;
        let header_len = round_up(HEADER_LEN, align);
        let footer_region = round_up(FOOTER_LEN, align);
        let max_key = cfg.max_key_len;
        let dbb = max(
            min(min(cfg.data_block_bytes as usize, bs / 4), MAX_DATA_BLOCK),
            1,
        );
        // As `Db` works it out: what fits a table block and a memtable.
        let room = bs.saturating_sub(header_len + footer_region + 6 * align + 3 * max_key + 128);
        let mem_room = cfg
            .memtable_bytes
            .saturating_sub(memtable::needed_at_most(max_key, 0));
        let max_value = min(min(cfg.max_value_len, room), mem_room);
        // A data block is closed before an entry would take it past its
        // target, so its entries fill at most the target, or one entry.
        let entries = max(dbb, entry_len(max_key, Some(max_value)));
        let smallest_entry = entry_len(1, None);
        let restarts = entries / smallest_entry / RESTART_INTERVAL + 1;
        let data = round_up(entries + restart_trailer_len(restarts) + 4, align);
        // Two neighbouring data blocks hold more than the target together.
        let table_blocks = 2 * (bs / dbb) + 1;
        let index = round_up(
            10 + table_blocks * (max_key + 3 + 10) + max_key + 3 + 4,
            align,
        );
        let bloom_bits = max((bs / 16) * cfg.bloom_bits_per_key as usize, 64).div_ceil(8) * 8;
        let bloom = max(round_up(1 + bloom_bits / 8 + 4, align), footer_region);
        let meta = META_HEAD + (table_blocks + 1) * META_REC + table_blocks * max_key;
        let raw = max(max(data, index), max(header_len, footer_region));
        let own = max(meta, bloom);
        // A log record holds operations that fit the memtable, each
        // smaller than the node it takes there, and fits a block.
        let record = min(
            round_up(bs - min(header_len, bs), align),
            record_len(cfg.memtable_bytes + 10, align),
        );
        // Records are buffered up to the limit, or one at a time.
        let log_buffer = max(min(bs / 4, 64 << 10), record);
        let record_window = round_up(max(min(dbb, bs), min(512, bs)), align);
        let max_wal_blocks = max(2 * cfg.memtable_bytes / bs + 2, 2);
        let wal = max_wal_blocks + 2;
        let manifest = record_len(manifest::max_len(blocks, wal), align);
        let records = max(max(record_window, record), manifest);
        // Level `l + 1` exists once level `l` outgrew memtable * trigger *
        // multiplier^(l - 1) bytes, which the device must hold.
        let base = cfg.memtable_bytes.saturating_mul(cfg.l0_compaction_trigger);
        let capacity = bs.saturating_mul(blocks);
        let mut deeper = 1;
        let mut target = base;
        while deeper < LEVELS - 1 && target < capacity {
            deeper += 1;
            target = target.saturating_mul(max(cfg.level_size_multiplier as usize, 2));
        }
        let l0_runs = max(min(cfg.l0_compaction_trigger + 1, MAX_RUNS - deeper - 1), 1);
        let runs = min(l0_runs + deeper, MAX_RUNS);
        Sizes {
            blocks,
            words: blocks.div_ceil(32),
            max_key,
            max_value,
            data_block_bytes: dbb,
            max_wal_blocks,
            arena: memtable::arena_len(cfg.memtable_bytes),
            data,
            restarts,
            table_blocks,
            index,
            bloom_bits,
            bloom,
            raw,
            own,
            log_buffer,
            records,
            record_window,
            wal,
            l0_runs,
            runs,
        }
    }

    /// Bytes of the buffer a store in fixed memory needs: every list it
    /// carves, in the order it carves them (see `Db::new_handle`), with
    /// room to align each.
    pub const fn memory(&self) -> usize {
        let n = self.blocks;
        // Space: used, pending, deferred.
        region::<u32>(self.words) * 3
            // Key ranges and tables.
            + region::<u8>(n * (4 + 2 * self.max_key))
            + region::<Table>(n)
            // Level-0 runs, log blocks, freed blocks, bitmap.
            + region::<usize>(MAX_RUNS)
            + region::<WalRef>(self.wal)
            + region::<u32>(n)
            + region::<u32>(self.words)
            // Memtable.
            + region::<u8>(self.arena)
            // Read buffers, log buffers, manifest and record buffer.
            + region::<u8>(self.raw)
            + region::<u8>(self.own)
            + region::<u8>(self.log_buffer)
            + region::<u8>(self.records)
            // Keys and values of scans and merges.
            + region::<u8>(self.max_key) * 2
            + region::<u8>(self.max_value)
            // Table builder: data block, restarts, index, last key, index
            // and bloom filter.
            + region::<u8>(self.data)
            + region::<u16>(self.restarts)
            + region::<u8>(self.index)
            + region::<u8>(self.max_key)
            + region::<u8>(self.bloom)
            // Cursors: a data block and the data blocks' spans each.
            + self.runs * (region::<u8>(self.data) + region::<u32>(2 * self.table_blocks))
    }
}
