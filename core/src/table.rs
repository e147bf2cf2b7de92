//! Sorted tables: one erase block each, written once and never changed.
//!
//! ```text
//! | header | data block 0 | data block 1 | ... | index | bloom | free | footer |
//! ```
//!
//! Data blocks hold entries in key order and end with a CRC-32C. The index
//! holds each data block's first key, offset and length, and the table's
//! largest key. The bloom filter answers "certainly absent" for most keys
//! that are not in the table. The footer, at a fixed place at the end of the
//! block, locates the rest.

use crate::levels::{Keys, KeysView};
use crate::list::List;
use core::cmp::Ordering;
use core::ops::Bound;

use crate::cache::{BlockCache, Shared};
use crate::device::BlockDevice;
use crate::error::Error;
use crate::format::{
    checksum, data_block_parts, data_block_split, entry_len, put_entry, read_entry, restart_at,
    restart_trailer_len, round_up, u32_at, BlockHeader, BlockKind, Footer, Reader, FOOTER_LEN,
    HEADER_LEN, OP_DELETE, OP_PUT, RESTART_INTERVAL,
};
use crate::io::Io;
use crate::list::{Overflow, Source};
use crate::manifest::{push_bytes, push_varint};
use crate::sizes::Sizes;

pub(crate) use crate::format::key_hash;

fn bloom_probes(hash: u64, nbits: u64, k: u8, mut f: impl FnMut(u64) -> bool) -> bool {
    let mut x = hash;
    let delta = hash.rotate_left(31) | 1;
    for _ in 0..k {
        if !f(x % nbits) {
            return false;
        }
        x = x.wrapping_add(delta);
    }
    true
}

/// Geometry-derived sizes a table needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    pub block_size: usize,
    pub align: usize,
    pub header_len: usize,
    pub footer_region: usize,
    pub data_block_bytes: usize,
    pub bloom_bits_per_key: usize,
    /// How much of a log or metadata block is read at a time while
    /// opening a store.
    pub record_window: usize,
}

impl Layout {
    pub fn footer_off(&self) -> usize {
        self.block_size - self.footer_region
    }
}

/// Builds one table, streaming it into its block: each data block is
/// programmed as soon as it is full, so a builder holds one data block and
/// the index, never the whole table. A store keeps one builder and its
/// buffers for good.
pub(crate) struct TableBuilder {
    layout: Layout,
    /// The block and epoch, once the first entry has started the table.
    dest: Option<(u32, u64)>,
    /// The open data block.
    buf: List<u8>,
    /// Where the open data block goes in the table block.
    off: usize,
    /// Restart offsets of the open data block, and its entry count.
    restarts: List<u16>,
    block_entries: usize,
    /// The index as it goes to the device, past its count: each data
    /// block's first key and offset, and its length once closed.
    index: List<u8>,
    /// Data blocks begun.
    blocks: usize,
    /// Entries added.
    entries: usize,
    /// The keys' hashes, for the bloom filter: on the heap. In fixed
    /// memory the filter is made by reading the table's keys back.
    hashes: List<u64>,
    tombstones: u32,
    last_key: List<u8>,
    /// The bloom filter, and then the footer, built when the table is
    /// finished.
    out: List<u8>,
    /// The most bits a bloom filter may have: in fixed memory, what `out`
    /// holds (a table of many tiny entries then gets fewer bits per key,
    /// which readers tell from the filter's length).
    max_bloom_bits: usize,
}

impl TableBuilder {
    /// A builder whose buffers come from `mem`, sized by `sz`.
    pub fn new(layout: Layout, mem: &mut Source<'_>, sz: &Sizes) -> Result<Self, Overflow> {
        Ok(TableBuilder {
            layout,
            dest: None,
            buf: mem.list(sz.data)?,
            off: layout.header_len,
            restarts: mem.list(sz.restarts)?,
            block_entries: 0,
            index: mem.list(sz.index)?,
            blocks: 0,
            entries: 0,
            hashes: mem.list(0)?,
            tombstones: 0,
            last_key: mem.list(sz.max_key)?,
            out: mem.list(sz.bloom)?,
            max_bloom_bits: if mem.is_fixed() {
                sz.bloom_bits
            } else {
                usize::MAX
            },
        })
    }

    /// Gives fixed memory back to `mem`, in the order `new` took it.
    pub fn give_back(&mut self, mem: &mut crate::list::Memory) {
        core::mem::take(&mut self.buf).give_back(mem);
        core::mem::take(&mut self.restarts).give_back(mem);
        core::mem::take(&mut self.index).give_back(mem);
        core::mem::take(&mut self.hashes).give_back(mem);
        core::mem::take(&mut self.last_key).give_back(mem);
        core::mem::take(&mut self.out).give_back(mem);
    }

    /// Bits of the bloom filter of `entries` keys: a multiple of 8.
    fn bloom_bits(&self, entries: usize) -> usize {
        let bits = entries.saturating_mul(self.layout.bloom_bits_per_key);
        bits.min(self.max_bloom_bits).max(64).div_ceil(8) * 8
    }

    /// Starts over, for the next table.
    pub fn reset(&mut self) {
        self.dest = None;
        self.buf.clear();
        self.off = self.layout.header_len;
        self.restarts.clear();
        self.block_entries = 0;
        self.index.clear();
        self.blocks = 0;
        self.entries = 0;
        self.hashes.clear();
        self.tombstones = 0;
        self.last_key.clear();
        self.out.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The block this table is being written into, once started.
    pub fn block(&self) -> Option<u32> {
        self.dest.map(|(b, _)| b)
    }

    /// Whether an entry of this shape can be added without overflowing the
    /// block (conservatively), nor the builder's buffers.
    pub fn fits(&self, key: &[u8], value: Option<&[u8]>) -> bool {
        let l = &self.layout;
        let elen = entry_len(key.len(), value.map(|v| v.len()));
        // The open block may close first (restart array, checksum,
        // padding), and the entry may start a block of its own.
        let open = self.buf.len() + restart_trailer_len(self.restarts.len() + 1) + 4 + l.align;
        let data = self.off + open + elen + restart_trailer_len(1) + 4 + l.align;
        let index = self.index.len() + 2 * (key.len() + 10) + 4 + 10 + l.align;
        let bloom_bits = self.bloom_bits(self.entries + 1);
        let bloom = 1 + bloom_bits / 8 + 4 + l.align;
        data + index + bloom + l.footer_region <= l.block_size
            && self.index.fits(2 * (key.len() + 10) + 20 + l.align)
            && self.out.fits(bloom)
    }

    /// Adds an entry; keys must arrive in strictly increasing order and
    /// `fits` must have said yes. `start` is called for the first entry,
    /// to allocate, erase and head the block.
    pub fn add<D: BlockDevice>(
        &mut self,
        key: &[u8],
        value: Option<&[u8]>,
        io: &mut Io<D>,
        start: impl FnOnce(&mut Io<D>) -> Result<(u32, u64), Error<D::Error>>,
    ) -> Result<(), Error<D::Error>> {
        debug_assert!(self.is_empty() || key > &self.last_key[..]);
        if self.dest.is_none() {
            self.dest = Some(start(io)?);
        }
        let elen = entry_len(key.len(), value.map(|v| v.len()));
        let new_restart = self.block_entries % RESTART_INTERVAL == 0;
        let trailer = restart_trailer_len(self.restarts.len() + new_restart as usize);
        if !self.buf.is_empty() && self.buf.len() + elen + trailer > self.layout.data_block_bytes {
            self.close_block(io)?;
        }
        if self.block_entries % RESTART_INTERVAL == 0 {
            self.restarts.push(self.buf.len() as u16)?;
        }
        self.block_entries += 1;
        if self.buf.is_empty() {
            push_bytes(&mut self.index, key)?;
            push_varint(&mut self.index, self.off as u64)?;
            self.blocks += 1;
        }
        let at = self.buf.len();
        self.buf.resize(at + elen, 0)?;
        put_entry(&mut self.buf[at..], key, value);
        if self.hashes.fits(1) {
            self.hashes.push(key_hash(key))?;
        }
        self.entries += 1;
        if value.is_none() {
            self.tombstones += 1;
        }
        self.last_key.set(key)?;
        Ok(())
    }

    /// Seals the open data block with its checksum and programs it.
    fn close_block<D: BlockDevice>(&mut self, io: &mut Io<D>) -> Result<(), Error<D::Error>> {
        let Some((block, _)) = self.dest else {
            return Ok(());
        };
        for i in 0..self.restarts.len() {
            let r = self.restarts[i];
            self.buf.extend_from_slice(&r.to_le_bytes())?;
        }
        self.buf
            .extend_from_slice(&(self.restarts.len() as u16).to_le_bytes())?;
        self.restarts.clear();
        self.block_entries = 0;
        let crc = checksum(0, &self.buf);
        self.buf.extend_from_slice(&crc.to_le_bytes())?;
        push_varint(&mut self.index, self.buf.len() as u64)?;
        let padded = round_up(self.buf.len(), self.layout.align);
        self.buf.resize(padded, 0xFF)?;
        io.program(block, self.off as u32, &self.buf)?;
        self.off += padded;
        self.buf.clear();
        Ok(())
    }

    /// Sets the bloom filter's bits (`bits`, of `nbits`) for every key of
    /// the table: from their hashes, or by reading the data blocks back.
    fn set_bloom_bits<D: BlockDevice>(
        &mut self,
        io: &mut Io<D>,
        block: u32,
        bits_at: usize,
        nbits: u64,
        k: u8,
    ) -> Result<(), Error<D::Error>> {
        let set = |out: &mut List<u8>, h: u64| {
            let bits = &mut out[bits_at..];
            bloom_probes(h, nbits, k, |b| {
                bits[(b / 8) as usize] |= 1 << (b % 8);
                true
            });
        };
        if self.hashes.len() == self.entries {
            for &h in self.hashes.iter() {
                set(&mut self.out, h);
            }
            return Ok(());
        }
        // Read back: each data block, as the index lists them.
        let bad = || corrupt(block, "table written differs from its index");
        let mut r = Reader::new(&self.index);
        let mut spans = 0;
        let mut seen = 0;
        while spans < self.blocks {
            let klen = r.varint().ok_or_else(bad)? as usize;
            r.bytes(klen).ok_or_else(bad)?;
            let off = r.varint().ok_or_else(bad)? as usize;
            let len = r.varint().ok_or_else(bad)? as usize;
            spans += 1;
            self.buf.clear();
            self.buf.resize(round_up(len, self.layout.align), 0)?;
            io.read(block, off as u32, &mut self.buf)?;
            let (entries, _) =
                data_block_split(&self.buf[..len.saturating_sub(4)]).ok_or_else(bad)?;
            let mut er = Reader::new(entries);
            while !er.is_empty() {
                let e = read_entry(&mut er).ok_or_else(bad)?;
                set(&mut self.out, key_hash(e.key));
                seen += 1;
            }
        }
        self.buf.clear();
        if seen != self.entries {
            return Err(bad());
        }
        Ok(())
    }

    /// Finishes the table: programs the last data block, the index, the
    /// bloom filter and, last, the footer. Returns the table, its key range
    /// recorded in `keys`, and makes the builder ready for the next one.
    pub fn finish<D: BlockDevice>(
        &mut self,
        io: &mut Io<D>,
        keys: &mut Keys,
    ) -> Result<Table, Error<D::Error>> {
        let r = self.finish_inner(io, keys);
        self.reset();
        r
    }

    fn finish_inner<D: BlockDevice>(
        &mut self,
        io: &mut Io<D>,
        keys: &mut Keys,
    ) -> Result<Table, Error<D::Error>> {
        let Some((block, epoch)) = self.dest else {
            return Err(Error::corrupted(u32::MAX, "empty table finished"));
        };
        if !self.buf.is_empty() {
            self.close_block(io)?;
        }
        let l = self.layout;
        let data_end = self.off;

        // The bloom filter first: made in `out`, reading the table back if
        // the keys' hashes were not kept.
        let index_off = self.off;
        let nbits = self.bloom_bits(self.entries);
        let k = ((l.bloom_bits_per_key as f32 * 0.69) as u8).clamp(1, 30);
        self.out.clear();
        self.out.push(k)?;
        self.out.resize(1 + nbits / 8, 0)?;
        self.set_bloom_bits(io, block, 1, nbits as u64, k)?;
        let crc = checksum(epoch, &self.out);
        self.out.extend_from_slice(&crc.to_le_bytes())?;
        let bloom_len = self.out.len();
        self.out.resize(round_up(bloom_len, l.align), 0xFF)?;

        // The index, made in place: its count goes in front of the entries.
        let index = &mut self.index;
        let mut count = [0u8; 10];
        let n = crate::format::put_varint(&mut count, self.blocks as u64);
        let entries = index.len();
        index.resize(entries + n, 0)?;
        index.rotate_right(n);
        index[..n].copy_from_slice(&count[..n]);
        push_bytes(index, &self.last_key)?;
        let crc = checksum(epoch, index);
        index.extend_from_slice(&crc.to_le_bytes())?;
        let index_len = index.len();
        index.resize(round_up(index_len, l.align), 0xFF)?;
        let bloom_off = index_off + index.len();
        if bloom_off + self.out.len() > l.footer_off() {
            return Err(Error::corrupted(block, "table overflowed its block"));
        }
        io.program(block, index_off as u32, index)?;
        io.program(block, bloom_off as u32, &self.out)?;
        let out = &mut self.out;

        let footer = Footer {
            entries: self.entries as u32,
            data_blocks: self.blocks as u32,
            index_off: index_off as u32,
            index_len: index_len as u32,
            bloom_off: bloom_off as u32,
            bloom_len: bloom_len as u32,
            tombstones: self.tombstones,
            data_end: data_end as u32,
        };
        out.clear();
        out.resize(l.footer_region, 0xFF)?;
        footer.emit(out, epoch);
        io.program(block, l.footer_off() as u32, out)?;

        let mut r = Reader::new(&self.index[n..]);
        let klen = r.varint().unwrap_or(0) as usize;
        let smallest = r.bytes(klen).unwrap_or_default();
        let mut t = Table::new(block, epoch, footer);
        keys.add(&mut t, smallest, &self.last_key)?;
        Ok(t)
    }
}

/// What the engine keeps in memory of a live table: where it is, where
/// its key range is kept (see `Keys`) and its footer, in a fixed-size record
/// with no allocation of its own. The index and bloom filter stay on the
/// device and are read when a lookup or cursor needs them, through the
/// block cache when there is one (as [`Meta`]).
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct Table {
    pub(crate) block: u32,
    /// Where the key range starts in the store's key arena.
    pub(crate) key_off: u32,
    pub(crate) epoch: u64,
    pub(crate) footer: Footer,
}

impl Table {
    fn new(block: u32, epoch: u64, footer: Footer) -> Self {
        Table {
            block,
            epoch,
            footer,
            key_off: 0,
        }
    }
}

impl core::fmt::Debug for Table {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Table")
            .field("block", &self.block)
            .field("epoch", &self.epoch)
            .field("entries", &self.footer.entries)
            .finish()
    }
}

/// Outcome of looking a key up in one table.
pub(crate) enum Lookup {
    /// The key is not in this table; look further down.
    Absent,
    /// The table holds a tombstone for the key.
    Deleted,
    /// The value is at this range of the scratch buffer.
    Found(usize, usize),
}

fn corrupt<E>(block: u32, what: &'static str) -> Error<E> {
    Error::corrupted(block, what)
}

/// Reads `len` bytes at an aligned `off` into `buf` (resized to the padded
/// length); the caller uses `buf[..len]`.
fn read_padded<D: BlockDevice>(
    io: &mut Io<D>,
    l: &Layout,
    block: u32,
    off: usize,
    len: usize,
    buf: &mut List<u8>,
) -> Result<(), Error<D::Error>> {
    let padded = round_up(len, l.align);
    if off % l.align != 0 || off + padded > l.block_size {
        return Err(corrupt(block, "table structure out of bounds"));
    }
    // Every byte is read over: only growth needs filling.
    buf.resize(padded, 0)?;
    io.read(block, off as u32, buf)
}

/// Checks a table's index (`buf`, `footer.index_len` bytes with its
/// checksum) and calls `each` with every data block's first key, offset
/// and length, in order. Returns the table's largest key.
fn parse_index<'b, E>(
    buf: &'b [u8],
    footer: &Footer,
    l: &Layout,
    block: u32,
    epoch: u64,
    each: &mut dyn FnMut(&'b [u8], u32, u32),
) -> Result<&'b [u8], Error<E>> {
    let ilen = footer.index_len as usize;
    if ilen < 4
        || ilen > buf.len()
        || checksum(epoch, &buf[..ilen - 4]) != u32_at(buf, ilen - 4).unwrap_or(0)
    {
        return Err(corrupt(block, "table index checksum mismatch"));
    }
    let bad_index = || corrupt(block, "table index malformed");
    let mut r = Reader::new(&buf[..ilen - 4]);
    let n = r.varint().ok_or_else(bad_index)? as usize;
    if n == 0 || n != footer.data_blocks as usize || n > l.block_size / 8 {
        return Err(bad_index());
    }
    let mut prev_end = l.header_len;
    let mut prev_key: Option<&[u8]> = None;
    let mut first: &[u8] = &[];
    for i in 0..n {
        let klen = r.varint().ok_or_else(bad_index)? as usize;
        let key = r.bytes(klen).ok_or_else(bad_index)?;
        let off = r.varint_u32().ok_or_else(bad_index)?;
        let len = r.varint_u32().ok_or_else(bad_index)?;
        // Data blocks are contiguous, in order, and inside the data area.
        if off as usize != prev_end
            || len < 4
            || off as usize + len as usize > footer.data_end as usize
            || prev_key.is_some_and(|p| p >= key)
        {
            return Err(bad_index());
        }
        if i == 0 {
            first = key;
        }
        prev_end = round_up(off as usize + len as usize, l.align);
        prev_key = Some(key);
        each(key, off, len);
    }
    let llen = r.varint().ok_or_else(bad_index)? as usize;
    let largest = r.bytes(llen).ok_or_else(bad_index)?;
    if !r.is_empty() || largest < first {
        return Err(bad_index());
    }
    Ok(largest)
}

/// Length of the fixed part of a decoded [`Meta`], and of each of its
/// per-data-block records.
pub(crate) const META_HEAD: usize = 8;
pub(crate) const META_REC: usize = 20;

fn le32(b: &[u8], at: usize) -> usize {
    let mut w = [0; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w) as usize
}

/// A table's index, checked and decoded into a layout searched in place
/// (held in the block cache, or in a buffer of the reader's when there is
/// no cache):
///
/// ```text
/// u32 n | u32 p
/// (n + 1) x { u32 key_start | u32 data_off | u32 data_len | [u8; 8] word }   (record n: key_start = end of keys)
/// first keys of the n data blocks, back to back
/// ```
///
/// `p` is the length of the prefix the table's smallest and largest keys
/// share, and so every key between them; a block's `word` is the 8 bytes
/// of its first key after that prefix (zero-padded), which decide most
/// comparisons of a binary search as one `u64` comparison.
///
/// Built only by [`Table::read_part`] from a checked index, so its offsets
/// are consistent by construction.
#[derive(Clone, Copy)]
pub(crate) struct Meta<'a>(&'a [u8]);

impl<'a> Meta<'a> {
    fn blocks(&self) -> usize {
        le32(self.0, 0)
    }

    fn rec(&self, i: usize, field: usize) -> usize {
        le32(self.0, META_HEAD + i * META_REC + field * 4)
    }

    fn first_key(&self, i: usize) -> &'a [u8] {
        &self.0[self.rec(i, 0)..self.rec(i + 1, 0)]
    }

    /// Offset and length of data block `i`.
    fn data_block(&self, i: usize) -> (usize, usize) {
        (self.rec(i, 1), self.rec(i, 2))
    }

    /// Block `i`'s word (see [`Meta`]).
    fn word(&self, i: usize) -> u64 {
        let at = META_HEAD + i * META_REC + 12;
        be64(&self.0[at..at + 8])
    }

    /// Whether `key` starts with the prefix every key of the table shares.
    fn shares_prefix(&self, key: &[u8]) -> bool {
        let p = le32(self.0, 4);
        self.blocks() > 0
            && key
                .get(..p)
                .is_some_and(|k| self.first_key(0).get(..p) == Some(k))
    }

    /// The number of data blocks whose first key is at most `key`.
    /// `in_range`: the key lies within the table's range (so it shares the
    /// prefix of every key in the table).
    fn blocks_up_to(&self, key: &[u8], in_range: bool) -> usize {
        let (mut lo, mut hi) = (0, self.blocks());
        // Words after the shared prefix order keys as their bytes do when
        // they differ; when they tie, the keys themselves decide.
        let w = match in_range {
            true => Some(key_word(key, le32(self.0, 4))),
            false => None,
        };
        while lo < hi {
            let mid = (lo + hi) / 2;
            let ord = match w.map(|w| self.word(mid).cmp(&w)) {
                Some(Ordering::Less) => Ordering::Less,
                Some(Ordering::Greater) => Ordering::Greater,
                _ => self.first_key(mid).cmp(key),
            };
            if ord != Ordering::Greater {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// The 8 bytes of `key` after its first `p`, zero-padded, as a big-endian
/// `u64`: for two keys that share their first `p` bytes, a smaller word
/// means a smaller key (and equal words decide nothing).
fn key_word(key: &[u8], p: usize) -> u64 {
    let mut w = [0; 8];
    let tail = key.get(p..).unwrap_or(&[]);
    let n = tail.len().min(8);
    w[..n].copy_from_slice(&tail[..n]);
    u64::from_be_bytes(w)
}

/// The length of the prefix `a` and `b` share.
fn shared_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Whether a checked bloom filter (`k`, then the bit array) may hold the
/// key with this hash.
fn bloom_may_contain(bloom: &[u8], hash: u64) -> bool {
    let (Some(&k), Some(bits)) = (bloom.first(), bloom.get(1..)) else {
        return true;
    };
    let nbits = bits.len() as u64 * 8;
    if nbits == 0 {
        return true;
    }
    bloom_probes(hash, nbits, k, |b| {
        bits[(b / 8) as usize] & (1 << (b % 8)) != 0
    })
}

/// The two parts of a table read when needed rather than kept in memory.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The bloom filter: `k` and the bit array, checked.
    Bloom,
    /// The index, checked and decoded as a [`Meta`].
    Index,
}

/// The cache key of a table's bloom filter or decoded index (data blocks
/// are keyed by their offset, which is never this high).
fn part_key(t: &Table, part: Part) -> (u32, u64, u32) {
    let off = match part {
        Part::Bloom => u32::MAX,
        Part::Index => u32::MAX - 1,
    };
    (t.block, t.epoch, off)
}

impl Table {
    /// Bytes of the block this table uses.
    pub fn used_bytes(&self) -> u64 {
        (self.footer.bloom_off + self.footer.bloom_len) as u64
    }

    /// Reads a table's header, footer and index: what a live table keeps
    /// in memory; records its key range in `keys`, if given. The bloom
    /// filter is checked when first read.
    pub(crate) fn load<D: BlockDevice>(
        io: &mut Io<D>,
        l: &Layout,
        block: u32,
        buf: &mut List<u8>,
        keys: Option<&mut Keys>,
    ) -> Result<Table, Error<D::Error>> {
        read_padded(io, l, block, 0, HEADER_LEN, buf)?;
        let header = BlockHeader::parse(buf).ok_or(corrupt(block, "table header invalid"))?;
        if header.kind != BlockKind::Table || header.block_size as usize != l.block_size {
            return Err(corrupt(block, "block is not a table"));
        }
        let epoch = header.epoch;
        read_padded(io, l, block, l.footer_off(), FOOTER_LEN, buf)?;
        let footer = Footer::parse(buf, epoch, l.block_size as u32)
            .ok_or(corrupt(block, "table footer invalid"))?;
        if footer.entries == 0
            || footer.data_end > footer.index_off
            || footer.index_off.checked_add(footer.index_len) > Some(footer.bloom_off)
        {
            return Err(corrupt(block, "table footer inconsistent"));
        }
        read_padded(
            io,
            l,
            block,
            footer.index_off as usize,
            footer.index_len as usize,
            buf,
        )?;
        let mut smallest: Option<&[u8]> = None;
        let largest = parse_index(buf, &footer, l, block, epoch, &mut |k, _, _| {
            smallest.get_or_insert(k);
        })?;
        let smallest = smallest.unwrap_or_default();
        if smallest.len() > u16::MAX as usize || largest.len() > u16::MAX as usize {
            return Err(corrupt(block, "table key too long"));
        }
        let mut t = Table::new(block, epoch, footer);
        if let Some(keys) = keys {
            keys.add(&mut t, smallest, largest)?;
        }
        Ok(t)
    }

    /// Reads and checks the bloom filter (into `out`), or the index (into
    /// `raw`, decoded into `out` as a [`Meta`]).
    fn read_part<D: BlockDevice>(
        &self,
        io: &mut Io<D>,
        l: &Layout,
        part: Part,
        raw: &mut List<u8>,
        out: &mut List<u8>,
        keys: Option<KeysView<'_>>,
    ) -> Result<(), Error<D::Error>> {
        let f = &self.footer;
        if part == Part::Bloom {
            let blen = f.bloom_len as usize;
            read_padded(io, l, self.block, f.bloom_off as usize, blen, out)?;
            if blen < 5
                || checksum(self.epoch, &out[..blen - 4]) != u32_at(out, blen - 4).unwrap_or(0)
            {
                return Err(corrupt(self.block, "table bloom filter checksum mismatch"));
            }
            if out[0] == 0 || out[0] > 30 {
                return Err(corrupt(self.block, "table bloom filter malformed"));
            }
            out.truncate(blen - 4);
            return Ok(());
        }
        read_padded(
            io,
            l,
            self.block,
            f.index_off as usize,
            f.index_len as usize,
            raw,
        )?;
        let n = f.data_blocks as usize;
        let keys_at = META_HEAD + (n + 1) * META_REC;
        out.clear();
        out.resize(keys_at, 0)?;
        let mut i = 0;
        let mut room = true;
        // The prefix every key of the table shares: from the key range in
        // memory, or (without it) from a first pass over the index.
        let p = match keys {
            Some(k) => shared_prefix(k.smallest(self), k.largest(self)),
            None => {
                let mut first: &[u8] = &[];
                let largest = parse_index(raw, f, l, self.block, self.epoch, &mut |k, _, _| {
                    if first.is_empty() {
                        first = k;
                    }
                })?;
                shared_prefix(first, largest)
            }
        };
        let largest = parse_index(raw, f, l, self.block, self.epoch, &mut |key, off, len| {
            if i < n {
                let at = META_HEAD + i * META_REC;
                let start = out.len() as u32;
                out[at..at + 4].copy_from_slice(&start.to_le_bytes());
                out[at + 4..at + 8].copy_from_slice(&off.to_le_bytes());
                out[at + 8..at + 12].copy_from_slice(&len.to_le_bytes());
                out[at + 12..at + 20].copy_from_slice(&key_word(key, p).to_be_bytes());
                room &= out.extend_from_slice(key).is_ok();
            }
            i += 1;
        })?;
        if !room {
            return Err(Error::OutOfMemory);
        }
        let end = META_HEAD + n * META_REC;
        let keys_end = out.len() as u32;
        out[end..end + 4].copy_from_slice(&keys_end.to_le_bytes());
        out[0..4].copy_from_slice(&(n as u32).to_le_bytes());
        out[4..8].copy_from_slice(&(p as u32).to_le_bytes());
        // The table in memory was loaded from this index: its keys must
        // still be there.
        let first = Meta(out).first_key(0);
        if keys.is_some_and(|k| first != k.smallest(self) || largest != k.largest(self)) {
            return Err(corrupt(self.block, "table changed on media"));
        }
        Ok(())
    }

    /// This table's bloom filter or index from the cache, or read from the
    /// device (through `raw`, into `own`) and cached. `Some` holds the
    /// cached copy; `None` means it is in `own`.
    #[cfg_attr(not(feature = "alloc"), allow(unreachable_code))] // no cache
    fn fetch<D: BlockDevice>(
        &self,
        io: &mut Io<D>,
        l: &Layout,
        part: Part,
        cx: &mut ReadCtx<'_>,
        raw: &mut List<u8>,
        own: &mut List<u8>,
    ) -> Result<Option<Shared>, Error<D::Error>> {
        let key = part_key(self, part);
        if let Some(m) = cx.cache.as_deref_mut().and_then(|c| c.get(key)) {
            return Ok(Some(m.clone()));
        }
        self.read_and_cache(io, l, part, cx, raw, own)
    }

    /// Reads this table's bloom filter or index from the device (through
    /// `raw`, into `own`) and caches it; returns the cached copy, if any.
    fn read_and_cache<D: BlockDevice>(
        &self,
        io: &mut Io<D>,
        l: &Layout,
        part: Part,
        cx: &mut ReadCtx<'_>,
        raw: &mut List<u8>,
        own: &mut List<u8>,
    ) -> Result<Option<Shared>, Error<D::Error>> {
        cx.meta_reads += 1;
        self.read_part(io, l, part, raw, own, cx.keys)?;
        Ok(cx
            .cache
            .as_deref_mut()
            .and_then(|c| c.insert(part_key(self, part), own)))
    }

    /// Calls `f` with this table's bloom filter or decoded index, from the
    /// cache in place, or read from the device (through `raw`, into `own`)
    /// and cached.
    #[allow(clippy::too_many_arguments)]
    fn with_part<D: BlockDevice, R>(
        &self,
        io: &mut Io<D>,
        l: &Layout,
        part: Part,
        cx: &mut ReadCtx<'_>,
        raw: &mut List<u8>,
        own: &mut List<u8>,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, Error<D::Error>> {
        let key = part_key(self, part);
        if let Some(m) = cx.cache.as_deref_mut().and_then(|c| c.get(key)) {
            return Ok(f(m));
        }
        self.read_and_cache(io, l, part, cx, raw, own)?;
        Ok(f(own))
    }

    /// Reads and checks the bloom filter (`check` reads the rest of a table
    /// through a cursor, which needs only the index).
    pub(crate) fn verify_bloom<D: BlockDevice>(
        &self,
        io: &mut Io<D>,
        l: &Layout,
        buf: &mut List<u8>,
    ) -> Result<(), Error<D::Error>> {
        self.read_part(io, l, Part::Bloom, &mut List::new(), buf, None)
    }

    /// Reads data block `i` (at `off`, `len` bytes) into `buf` and checks
    /// it: its checksum, then its restart array, so that a block in the
    /// cache need not be checked again. Returns the length of its entries
    /// and restart array.
    fn read_data_block<D: BlockDevice>(
        &self,
        io: &mut Io<D>,
        l: &Layout,
        (off, len): (usize, usize),
        buf: &mut List<u8>,
    ) -> Result<usize, Error<D::Error>> {
        read_padded(io, l, self.block, off, len, buf)?;
        if checksum(0, &buf[..len - 4]) != u32_at(buf, len - 4).unwrap_or(0) {
            return Err(corrupt(self.block, "data block checksum mismatch"));
        }
        if data_block_parts(&buf[..len - 4]).is_none() {
            return Err(corrupt(self.block, "data block malformed"));
        }
        Ok(len - 4)
    }

    /// Looks `key`, which lies within the table's key range, up; on
    /// `Found`, the value is in `buf`. `own` holds the table's index and
    /// bloom filter when they are not cached.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn get<D: BlockDevice>(
        &self,
        io: &mut Io<D>,
        l: &Layout,
        key: &[u8],
        hash: u64,
        buf: &mut List<u8>,
        own: &mut List<u8>,
        cx: &mut ReadCtx<'_>,
    ) -> Result<Lookup, Error<D::Error>> {
        let bloom = |b: &[u8]| bloom_may_contain(b, hash);
        if !self.with_part(io, l, Part::Bloom, cx, buf, own, bloom)? {
            return Ok(Lookup::Absent);
        }
        let locate = |m: &[u8]| {
            let meta = Meta(m);
            let i = meta.blocks_up_to(key, true);
            i.checked_sub(1).map(|i| meta.data_block(i))
        };
        let Some((off, len)) = self.with_part(io, l, Part::Index, cx, buf, own, locate)? else {
            return Ok(Lookup::Absent);
        };
        cx.reads += 1;
        let ck = (self.block, self.epoch, off as u32);
        if let Some(data) = cx.cache.as_deref_mut().and_then(|c| c.get(ck)) {
            return Ok(
                match search_block(data, key).ok_or(corrupt(self.block, "data block malformed"))? {
                    Found::Value(o, n) => {
                        // Copied to the front of `buf`, which keeps its
                        // length: shrinking it would make the next read
                        // from the device fill it again first.
                        if buf.len() < n {
                            buf.resize(n, 0)?;
                        }
                        buf[..n].copy_from_slice(&data[o..o + n]);
                        Lookup::Found(0, n)
                    }
                    Found::Tombstone => Lookup::Deleted,
                    Found::No => Lookup::Absent,
                },
            );
        }
        let end = self.read_data_block(io, l, (off, len), buf)?;
        if let Some(c) = cx.cache.as_deref_mut() {
            c.insert(ck, &buf[..end]);
        }
        Ok(
            match search_block(&buf[..end], key)
                .ok_or(corrupt(self.block, "data block malformed"))?
            {
                Found::Value(o, n) => Lookup::Found(o, n),
                Found::Tombstone => Lookup::Deleted,
                Found::No => Lookup::Absent,
            },
        )
    }
}

enum Found {
    Value(usize, usize),
    Tombstone,
    No,
}

/// Eight bytes (a chunk of exactly eight) as a big-endian `u64`.
#[inline]
fn be64(b: &[u8]) -> u64 {
    let mut w = [0; 8];
    w.copy_from_slice(b);
    u64::from_be_bytes(w)
}

/// A varint at `at` in `b` (one byte in the common case), and the offset
/// just past it; `None` if malformed.
#[inline]
fn varint_at(b: &[u8], at: usize) -> Option<(usize, usize)> {
    match b.get(at) {
        Some(&x) if x < 0x80 => Some((x as usize, at + 1)),
        _ => {
            let mut r = Reader::new(b.get(at..)?);
            let v = usize::try_from(r.varint()?).ok()?;
            Some((v, at + r.pos()))
        }
    }
}

/// The tag and key of the entry at `at` in a data block's entries, and
/// the offset just past the key; `None` if malformed.
#[inline]
fn entry_key(entries: &[u8], at: usize) -> Option<(u8, &[u8], usize)> {
    let tag = *entries.get(at)?;
    let (klen, k) = varint_at(entries, at + 1)?;
    let end = k.checked_add(klen)?;
    Some((tag, entries.get(k..end)?, end))
}

/// The value of an entry with this tag whose key ends at `at`: its start
/// and end, or `None` inside for a tombstone; `None` if malformed.
#[inline]
fn entry_value(entries: &[u8], tag: u8, at: usize) -> Option<Option<(usize, usize)>> {
    match tag {
        OP_PUT => {
            let (vlen, v) = varint_at(entries, at)?;
            let end = v.checked_add(vlen)?;
            (end <= entries.len()).then_some(Some((v, end)))
        }
        OP_DELETE => Some(None),
        _ => None,
    }
}

/// The offset of the last restart point whose key is at most `key` (the
/// first restart point if every key is larger); `None` if malformed.
fn restart_before(entries: &[u8], restarts: &[u8], key: &[u8]) -> Option<usize> {
    let (mut lo, mut hi) = (0, restarts.len() / 2);
    // Invariant: restart lo's key <= key (or lo == 0); keys at hi.. > key.
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        let (_, k, _) = entry_key(entries, restart_at(restarts, mid))?;
        if k <= key {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(restart_at(restarts, lo))
}

/// Finds `key` in a data block (entries and restart array, checksum
/// removed, checked by [`Table::read_data_block`]); `None` if malformed.
fn search_block(data: &[u8], key: &[u8]) -> Option<Found> {
    let (entries, restarts) = data_block_split(data)?;
    let mut at = restart_before(entries, restarts, key)?;
    while at < entries.len() {
        let (tag, k, after) = entry_key(entries, at)?;
        let ord = k.cmp(key);
        let value = entry_value(entries, tag, after)?;
        match ord {
            Ordering::Less => at = value.map_or(after, |(_, end)| end),
            Ordering::Greater => return Some(Found::No),
            // Entries start at the block's start: offsets are the same.
            Ordering::Equal => {
                return Some(match value {
                    None => Found::Tombstone,
                    Some((v, end)) => Found::Value(v, end - v),
                })
            }
        }
    }
    Some(Found::No)
}

/// What cursors share while they read: a count of data blocks read, and
/// the block cache, if reads should use it (lookups and scans do;
/// compaction and checks do not, so as not to evict what readers need).
pub(crate) struct ReadCtx<'a> {
    pub reads: u64,
    /// Index and bloom filter reads (cache misses).
    pub meta_reads: u64,
    pub cache: Option<&'a mut BlockCache>,
    /// Buffers a cursor in fixed memory reads a table's index through.
    pub spare: Option<(&'a mut List<u8>, &'a mut List<u8>)>,
    /// The tables' key ranges, to check an index read against (not while
    /// a merge adds ranges).
    pub keys: Option<KeysView<'a>>,
}

/// Key offset, key length, and value (offset, length) within a cursor's
/// buffer.
type CurEntry = (usize, usize, Option<(usize, usize)>);

/// A position in a table for ordered iteration.
pub(crate) struct TableCursor {
    next_block: usize,
    /// The current data block when read from the device.
    own: List<u8>,
    /// The current data block when found in the cache (shared, not copied).
    shared: Option<Shared>,
    /// Length of the current data block (entries and restart array).
    block_len: usize,
    pos: usize,
    /// End of the current data block's entries.
    end: usize,
    /// Current entry: key offset, key length, value (offset, length).
    cur: Option<CurEntry>,
    /// The table's index, from the cache (`meta_shared`) or read for this
    /// cursor (`meta_own`).
    meta_shared: Option<Shared>,
    meta_own: List<u8>,
    /// In fixed memory, the table's data blocks as (offset, length) pairs,
    /// copied from its index (read through `ReadCtx::spare`) at `seek`,
    /// in place of the whole index.
    spans: List<u32>,
    fixed: bool,
}

impl TableCursor {
    /// A cursor whose buffers grow on the heap.
    pub fn new() -> Self {
        TableCursor {
            next_block: 0,
            own: List::new(),
            shared: None,
            meta_shared: None,
            meta_own: List::new(),
            spans: List::new(),
            fixed: false,
            block_len: 0,
            pos: 0,
            end: 0,
            cur: None,
        }
    }

    /// A cursor in fixed memory: a data block in `own`, the table's data
    /// blocks' spans in `spans`.
    pub fn fixed(own: List<u8>, spans: List<u32>) -> Self {
        TableCursor {
            own,
            spans,
            fixed: true,
            ..TableCursor::new()
        }
    }

    /// The buffers of a cursor in fixed memory, taken back.
    pub fn take_buffers(&mut self) -> (List<u8>, List<u32>) {
        self.release_shared();
        (
            core::mem::take(&mut self.own),
            core::mem::take(&mut self.spans),
        )
    }

    /// Data blocks of the table, and where block `i` is.
    fn block_span(&self, i: usize) -> (usize, Option<(usize, usize)>) {
        if self.fixed {
            let n = self.spans.len() / 2;
            let span =
                (i < n).then(|| (self.spans[2 * i] as usize, self.spans[2 * i + 1] as usize));
            return (n, span);
        }
        let meta = self.meta();
        let n = meta.blocks();
        (n, (i < n).then(|| meta.data_block(i)))
    }

    fn data(&self) -> &[u8] {
        match &self.shared {
            Some(s) => s,
            None => &self.own,
        }
    }

    fn meta(&self) -> Meta<'_> {
        Meta(self.meta_shared.as_deref().unwrap_or(&self.meta_own))
    }

    /// Positions the cursor on the first entry at or after `start`.
    pub fn seek<D: BlockDevice>(
        &mut self,
        t: &Table,
        io: &mut Io<D>,
        l: &Layout,
        start: Bound<&[u8]>,
        cx: &mut ReadCtx<'_>,
    ) -> Result<(), Error<D::Error>> {
        let target = match start {
            Bound::Unbounded => None,
            Bound::Included(k) | Bound::Excluded(k) => Some(k),
        };
        self.shared = None;
        let first_block = |m: &[u8]| {
            let meta = Meta(m);
            match target {
                None => 0,
                Some(k) => meta
                    .blocks_up_to(k, meta.shares_prefix(k))
                    .saturating_sub(1),
            }
        };
        if self.fixed {
            let Some((raw, own)) = cx.spare.take() else {
                return Err(Error::OutOfMemory);
            };
            let spans = &mut self.spans;
            let r = t.with_part(io, l, Part::Index, cx, raw, own, |m| {
                let meta = Meta(m);
                spans.clear();
                let mut room = true;
                for i in 0..meta.blocks() {
                    let (off, len) = meta.data_block(i);
                    room &= spans.extend_from_slice(&[off as u32, len as u32]).is_ok();
                }
                room.then(|| first_block(m))
            });
            cx.spare = Some((raw, own));
            self.next_block = r?.ok_or(Error::OutOfMemory)?;
        } else {
            self.meta_shared =
                t.fetch(io, l, Part::Index, cx, &mut self.own, &mut self.meta_own)?;
            self.next_block = first_block(self.meta().0);
        }
        self.cur = None;
        if !self.load_block(t, io, l, cx)? {
            return Ok(());
        }
        if let Some(k) = target {
            // Jump to the restart point before the key.
            let data = &self.data()[..self.block_len];
            let (entries, restarts) =
                data_block_split(data).ok_or(corrupt(t.block, "data block malformed"))?;
            self.pos = restart_before(entries, restarts, k)
                .ok_or(corrupt(t.block, "data block malformed"))?;
        }
        self.read_entry_at_pos(t, true)?;
        while let Some(k) = self.key() {
            let before = match start {
                Bound::Unbounded => false,
                Bound::Included(s) => k < s,
                Bound::Excluded(s) => k <= s,
            };
            if !before {
                break;
            }
            self.advance(t, io, l, cx)?;
        }
        Ok(())
    }

    /// Reads data block `next_block` (from the cache if it holds it) and
    /// moves to its start. False when the table has no more blocks.
    fn load_block<D: BlockDevice>(
        &mut self,
        t: &Table,
        io: &mut Io<D>,
        l: &Layout,
        cx: &mut ReadCtx<'_>,
    ) -> Result<bool, Error<D::Error>> {
        let (_, Some((off, len))) = self.block_span(self.next_block) else {
            self.cur = None;
            return Ok(false);
        };
        cx.reads += 1;
        let ck = (t.block, t.epoch, off as u32);
        self.shared = cx.cache.as_deref_mut().and_then(|c| c.get(ck).cloned());
        self.block_len = match &self.shared {
            Some(d) => d.len(),
            None => {
                let n = t.read_data_block(io, l, (off, len), &mut self.own)?;
                if let Some(c) = cx.cache.as_deref_mut() {
                    c.insert(ck, &self.own[..n]);
                }
                n
            }
        };
        let data = &self.data()[..self.block_len];
        let (entries, _) =
            data_block_split(data).ok_or(corrupt(t.block, "data block malformed"))?;
        self.end = entries.len();
        self.next_block += 1;
        self.pos = 0;
        Ok(true)
    }

    /// Parses the entry at `pos` into `cur`; `first` skips the order check
    /// against the previous entry.
    fn read_entry_at_pos<E>(&mut self, t: &Table, first: bool) -> Result<(), Error<E>> {
        if self.pos >= self.end {
            self.cur = None;
            return Ok(());
        }
        let data = self.data();
        let entries = &data[..self.end];
        let bad = || corrupt(t.block, "data block malformed");
        let (tag, key, after) = entry_key(entries, self.pos).ok_or_else(bad)?;
        let value = entry_value(entries, tag, after).ok_or_else(bad)?;
        if let (false, Some((pk, pl, _))) = (first, self.cur) {
            if data[pk..pk + pl] >= *key {
                return Err(corrupt(t.block, "keys out of order in data block"));
            }
        }
        let klen = key.len();
        self.pos = value.map_or(after, |(_, end)| end);
        self.cur = Some((after - klen, klen, value.map(|(v, end)| (v, end - v))));
        Ok(())
    }

    /// Moves to the next entry (the first one after `seek`).
    pub fn advance<D: BlockDevice>(
        &mut self,
        t: &Table,
        io: &mut Io<D>,
        l: &Layout,
        cx: &mut ReadCtx<'_>,
    ) -> Result<(), Error<D::Error>> {
        let mut first = false;
        while self.pos >= self.end {
            if !self.load_block(t, io, l, cx)? {
                return Ok(());
            }
            first = true;
        }
        self.read_entry_at_pos(t, first)
    }

    pub fn key(&self) -> Option<&[u8]> {
        self.cur.map(|(k, n, _)| &self.data()[k..k + n])
    }

    /// Lets go of the cached blocks the cursor reads in place, keeping its
    /// own buffers for the next `seek` (a kept cursor must not hold cache
    /// entries alive past their eviction).
    pub fn release_shared(&mut self) {
        self.shared = None;
        self.meta_shared = None;
        self.cur = None;
    }

    /// The current value; `None` for a tombstone. Only valid with a key.
    pub fn value(&self) -> Option<&[u8]> {
        self.cur
            .and_then(|(_, _, v)| v.map(|(o, n)| &self.data()[o..o + n]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// A data block as `TableBuilder` lays it out (without its checksum).
    fn block(keys: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut restarts = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            if i % RESTART_INTERVAL == 0 {
                restarts.push(out.len() as u16);
            }
            let value = (i % 5 != 3).then_some(&k[..1]);
            let at = out.len();
            out.resize(at + entry_len(k.len(), value.map(|v| v.len())), 0);
            put_entry(&mut out[at..], k, value);
        }
        for r in &restarts {
            out.extend_from_slice(&r.to_le_bytes());
        }
        out.extend_from_slice(&(restarts.len() as u16).to_le_bytes());
        out
    }

    #[test]
    fn words_after_a_shared_prefix_order_keys_as_bytes_do() {
        let keys: [&[u8]; 10] = [
            b"pre",
            b"pre\0",
            b"pre\0\0\0\0\0\0\0\0\0",
            b"prea",
            b"preabcdefgh",
            b"preabcdefgh\0",
            b"preabcdefghz",
            b"preabcdefgi",
            b"prf",
            b"pr",
        ];
        for a in keys {
            for b in keys {
                let p = shared_prefix(a, b).min(3);
                let (wa, wb) = (key_word(a, p), key_word(b, p));
                if wa != wb {
                    assert_eq!(wa.cmp(&wb), a.cmp(b), "{a:?} {b:?}");
                }
            }
        }
        assert_eq!(shared_prefix(b"abcd", b"abxd"), 2);
        assert_eq!(shared_prefix(b"ab", b"abc"), 2);
    }

    #[test]
    fn a_block_search_finds_every_key_and_no_other() {
        let owned: Vec<Vec<u8>> = (0..50u32)
            .map(|i| alloc::format!("key{:05}", i * 2).into_bytes())
            .collect();
        let keys: Vec<&[u8]> = owned.iter().map(|k| k.as_slice()).collect();
        let data = block(&keys);
        assert!(data_block_parts(&data).is_some());
        for (i, k) in keys.iter().enumerate() {
            match search_block(&data, k) {
                Some(Found::Value(o, n)) => assert_eq!(&data[o..o + n], &k[..1]),
                Some(Found::Tombstone) => assert_eq!(i % 5, 3),
                _ => panic!("{i} not found"),
            }
            let mut after = k.to_vec();
            after.push(0);
            assert!(matches!(search_block(&data, &after), Some(Found::No)));
        }
        assert!(matches!(search_block(&data, b"a"), Some(Found::No)));
        assert!(matches!(search_block(&data, b"z"), Some(Found::No)));
    }

    /// The search trusts a cached block to have been checked, but must not
    /// panic even on one that was not: every byte changed, every length cut.
    #[test]
    fn a_block_search_never_panics_on_damaged_bytes() {
        let owned: Vec<Vec<u8>> = (0..20u32)
            .map(|i| alloc::format!("k{:03}", i).into_bytes())
            .collect();
        let keys: Vec<&[u8]> = owned.iter().map(|k| k.as_slice()).collect();
        let data = block(&keys);
        for i in 0..data.len() {
            for x in [0x01, 0x80, 0xFF] {
                let mut bad = data.clone();
                bad[i] ^= x;
                for k in [&b"k007"[..], b"k000", b"k019", b"", b"zz"] {
                    let _ = search_block(&bad, k);
                }
            }
            let _ = search_block(&data[..i], b"k010");
        }
        let _ = search_block(&[0xFF; 40], b"k");
    }
}
