//! The wire layer: every structure cairn puts on media, as parse and emit
//! functions over byte slices. Nothing here trusts its input: a bad length,
//! offset or checksum is reported, never an index panic.
//!
//! `docs/format.md` draws each structure byte by byte.

/// The on-media format version written into every block header.
///
/// Version 2: data blocks end with restart points (a lookup binary-searches
/// a data block), and a manifest may name several open log blocks, started
/// ahead of need, the log ending at the first gap. A store of another
/// version is refused with [`crate::Error::UnsupportedVersion`].
pub const FORMAT_VERSION: u16 = 2;

/// Magic bytes at the start of every block cairn has written.
pub const BLOCK_MAGIC: [u8; 4] = *b"CAIR";
/// Magic bytes at the start of a table footer.
pub const FOOTER_MAGIC: [u8; 4] = *b"CTBL";

/// Bytes of a block header before padding to the device alignment.
pub const HEADER_LEN: usize = 32;
/// The longest a block header takes, padded to the largest alignment.
pub const MAX_HEADER_LEN: usize = 256;
/// Bytes of a table footer before padding to the device alignment.
pub const FOOTER_LEN: usize = 64;
/// Bytes of a record frame (checksum, length, sequence number).
pub const FRAME_LEN: usize = 16;

#[cfg(feature = "std")]
type CrcImpl = crc::Table<16>;
#[cfg(not(feature = "std"))]
type CrcImpl = crc::Table<1>;

/// CRC-32C (Castagnoli), the checksum of every structure.
const CRC: crc::Crc<u32, CrcImpl> = crc::Crc::<u32, CrcImpl>::new(&crc::CRC_32_ISCSI);

/// CRC-32C of `data`, seeded with the epoch of the block it lives in, so a
/// structure left over from an earlier use of the block never verifies.
/// (The CRC-32C of the epoch's 8 little-endian bytes followed by `data`.)
pub fn checksum(epoch: u64, data: &[u8]) -> u32 {
    #[cfg(feature = "std")]
    {
        crc32c::crc32c_append(crc32c::crc32c(&epoch.to_le_bytes()), data)
    }
    #[cfg(not(feature = "std"))]
    {
        checksum_portable(epoch, data)
    }
}

/// [`checksum`] computed piece by piece, for data read a piece at a time.
pub(crate) struct Checksum(crc::Digest<'static, u32, CrcImpl>);

/// The CRC-32C engine incremental checksums borrow.
static CRC_ENGINE: crc::Crc<u32, CrcImpl> = CRC;

impl Checksum {
    /// A checksum seeded with `epoch`, as [`checksum`] is.
    pub fn new(epoch: u64) -> Self {
        let mut d = CRC_ENGINE.digest();
        d.update(&epoch.to_le_bytes());
        Checksum(d)
    }

    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub fn finish(self) -> u32 {
        self.0.finalize()
    }
}

/// [`checksum`] computed by table lookups on any target.
pub fn checksum_portable(epoch: u64, data: &[u8]) -> u32 {
    let mut d = CRC.digest();
    d.update(&epoch.to_le_bytes());
    d.update(data);
    d.finalize()
}

/// Rounds `n` up to a multiple of `align` (a power of two).
pub const fn round_up(n: usize, align: usize) -> usize {
    (n + align - 1) & !(align - 1)
}

/// What a block holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BlockKind {
    /// Manifest commits.
    Meta = 1,
    /// Write-ahead log records.
    Wal = 2,
    /// One sorted table.
    Table = 3,
}

impl BlockKind {
    fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(BlockKind::Meta),
            2 => Some(BlockKind::Wal),
            3 => Some(BlockKind::Table),
            _ => None,
        }
    }
}

/// The parsed header at the start of every block cairn writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// What the block holds.
    pub kind: BlockKind,
    /// Strictly increasing number given to each block as it is started.
    pub epoch: u64,
    /// Block size of the store that wrote it.
    pub block_size: u32,
    /// Block count of the store that wrote it.
    pub block_count: u32,
}

impl BlockHeader {
    /// Writes the header into `buf[..HEADER_LEN]`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0..4].copy_from_slice(&BLOCK_MAGIC);
        buf[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        buf[6] = self.kind as u8;
        buf[7] = 0;
        buf[8..16].copy_from_slice(&self.epoch.to_le_bytes());
        buf[16..20].copy_from_slice(&self.block_size.to_le_bytes());
        buf[20..24].copy_from_slice(&self.block_count.to_le_bytes());
        buf[24..28].copy_from_slice(&[0; 4]);
        let crc = checksum(0, &buf[0..28]);
        buf[28..32].copy_from_slice(&crc.to_le_bytes());
    }

    /// Parses a header; `None` when the bytes are not a valid cairn header
    /// of this format version (a blank, torn or foreign block).
    pub fn parse(buf: &[u8]) -> Option<Self> {
        if Self::version(buf)? != FORMAT_VERSION {
            return None;
        }
        Some(BlockHeader {
            kind: BlockKind::from_u8(buf[6])?,
            epoch: u64_at(buf, 8)?,
            block_size: u32_at(buf, 16)?,
            block_count: u32_at(buf, 20)?,
        })
    }
}

impl BlockHeader {
    /// The format version of a valid cairn header of any version; `None`
    /// when the bytes are not one. A store of another version is refused
    /// with a clear error rather than taken for a blank device.
    pub fn version(buf: &[u8]) -> Option<u16> {
        if buf.len() < HEADER_LEN || buf[0..4] != BLOCK_MAGIC {
            return None;
        }
        if checksum(0, &buf[0..28]) != u32_at(buf, 28)? {
            return None;
        }
        Some(u16::from_le_bytes([buf[4], buf[5]]))
    }

    /// Kind and epoch of a valid header of any format version.
    pub fn any_version(buf: &[u8]) -> Option<(u16, u8, u64)> {
        let v = Self::version(buf)?;
        Some((v, buf[6], u64_at(buf, 8)?))
    }
}

/// A restart point every this many entries of a data block: lookups
/// binary-search the restart points, then read at most this many entries.
pub const RESTART_INTERVAL: usize = 8;

/// The largest data block (restart offsets are 16-bit).
pub const MAX_DATA_BLOCK: usize = 32 * 1024;

/// Bytes the restart array adds to a data block with `n` restart points.
pub const fn restart_trailer_len(n: usize) -> usize {
    2 * n + 2
}

/// Splits a verified data block (without its checksum) into its entries
/// and its restart offsets. `None` if the trailer is malformed: offsets
/// must start at 0, increase, and point inside the entries.
pub fn data_block_parts(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = data.len();
    let n = u16::from_le_bytes([*data.get(len.checked_sub(2)?)?, data[len - 1]]) as usize;
    let entries_end = len.checked_sub(restart_trailer_len(n))?;
    if n == 0 {
        return None;
    }
    let restarts = &data[entries_end..len - 2];
    let mut prev = None;
    for i in 0..n {
        let off = u16::from_le_bytes([restarts[2 * i], restarts[2 * i + 1]]) as usize;
        let ok = match prev {
            None => off == 0,
            Some(p) => off > p,
        };
        if !ok || off >= entries_end {
            return None;
        }
        prev = Some(off);
    }
    Some((&data[..entries_end], restarts))
}

/// Splits a data block already checked by [`data_block_parts`] (when it
/// was read from the device) into its entries and restart offsets, without
/// checking the offsets again. `None` if the block is too short for its
/// restart count. Whoever reads the parts must still index them with
/// checked accesses: nothing here proves the offsets sound.
#[inline]
pub fn data_block_split(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = data.len();
    let tail = data.get(len.checked_sub(2)?..)?;
    let n = u16::from_le_bytes([tail[0], tail[1]]) as usize;
    let entries_end = len.checked_sub(restart_trailer_len(n))?;
    if n == 0 {
        return None;
    }
    Some((&data[..entries_end], &data[entries_end..len - 2]))
}

/// The `i`-th restart offset of a restart array from [`data_block_parts`]
/// or [`data_block_split`] (`2 * n` bytes, `i < n`).
#[inline]
pub fn restart_at(restarts: &[u8], i: usize) -> usize {
    u16::from_le_bytes([restarts[2 * i], restarts[2 * i + 1]]) as usize
}

/// Reads a little-endian `u32` at `off`, `None` if out of bounds.
pub fn u32_at(buf: &[u8], off: usize) -> Option<u32> {
    let b = buf.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Reads a little-endian `u64` at `off`, `None` if out of bounds.
pub fn u64_at(buf: &[u8], off: usize) -> Option<u64> {
    let b = buf.get(off..off.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_le_bytes(a))
}

/// A cursor that reads LEB128 varints and byte strings from untrusted
/// bytes; every read is bounds-checked.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    /// Bytes consumed so far.
    pub fn pos(&self) -> usize {
        self.pos
    }
    /// Whether every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }
    /// One byte.
    pub fn u8(&mut self) -> Option<u8> {
        let v = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(v)
    }
    /// A little-endian `u64`.
    pub fn u64(&mut self) -> Option<u64> {
        let v = u64_at(self.buf, self.pos)?;
        self.pos += 8;
        Some(v)
    }
    /// A LEB128 varint of at most 64 bits.
    #[inline]
    pub fn varint(&mut self) -> Option<u64> {
        // Lengths below 128, the common case, take one byte.
        match self.buf.get(self.pos) {
            Some(&b) if b < 0x80 => {
                self.pos += 1;
                Some(b as u64)
            }
            _ => self.varint_long(),
        }
    }

    /// [`Reader::varint`] of more than one byte (or at the end of input).
    #[inline(never)]
    fn varint_long(&mut self) -> Option<u64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.u8()?;
            let bits = (b & 0x7F) as u64;
            if i == 9 && bits > 1 {
                return None;
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    /// A varint that must fit in `u32`.
    pub fn varint_u32(&mut self) -> Option<u32> {
        u32::try_from(self.varint()?).ok()
    }
    /// `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
}

/// Number of bytes the varint encoding of `v` takes.
pub const fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Writes `v` as a LEB128 varint at the start of `out`; returns the length.
pub fn put_varint(out: &mut [u8], mut v: u64) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        out[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    out[i] = v as u8;
    i + 1
}

/// Frames a record built in place at the end of `buf`, from `start`:
/// `FRAME_LEN` placeholder bytes followed by the payload. Fills in the
/// frame and pads.
pub(crate) fn seal_record(
    buf: &mut crate::list::List<u8>,
    start: usize,
    epoch: u64,
    seq: u64,
    align: usize,
) -> Result<(), crate::list::Overflow> {
    let rec = &mut buf[start..];
    let len = (rec.len() - FRAME_LEN) as u32;
    rec[4..8].copy_from_slice(&len.to_le_bytes());
    rec[8..16].copy_from_slice(&seq.to_le_bytes());
    let crc = checksum(epoch, &rec[4..]);
    rec[0..4].copy_from_slice(&crc.to_le_bytes());
    let padded = round_up(rec.len(), align);
    buf.resize(start + padded, 0xFF)
}

/// The 64-bit XXH3 hash of a key, which bloom filters, the memtable's key
/// filter and its tower heights all use. Kept out of line, so that a
/// microcontroller's flash holds one copy of it.
#[inline(never)]
pub(crate) fn key_hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

/// Length of a framed record with a payload of `payload_len` bytes.
pub const fn record_len(payload_len: usize, align: usize) -> usize {
    round_up(FRAME_LEN + payload_len, align)
}

/// A record read back from a block.
#[derive(Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// The record's sequence number.
    pub seq: u64,
    /// Its payload.
    pub payload: &'a [u8],
    /// Offset just past the record and its padding.
    pub next: usize,
}

/// Parses the record at `off` in `block` (a whole block read into memory).
/// `None` if there is no valid record there: the end of the log, or a torn
/// write.
pub fn parse_record(block: &[u8], off: usize, epoch: u64, align: usize) -> Option<Record<'_>> {
    let len = u32_at(block, off.checked_add(4)?)? as usize;
    let end = off.checked_add(FRAME_LEN)?.checked_add(len)?;
    if end > block.len() {
        return None;
    }
    if checksum(epoch, &block[off + 4..end]) != u32_at(block, off)? {
        return None;
    }
    Some(Record {
        seq: u64_at(block, off + 8)?,
        payload: &block[off + FRAME_LEN..end],
        next: round_up(end, align),
    })
}

/// The fixed-size trailer of a table block; it locates everything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct Footer {
    /// Number of entries (values and tombstones).
    pub entries: u32,
    /// Number of data blocks.
    pub data_blocks: u32,
    /// Offset and length of the index.
    pub index_off: u32,
    /// Length of the index in bytes (unpadded).
    pub index_len: u32,
    /// Offset of the bloom filter.
    pub bloom_off: u32,
    /// Length of the bloom filter in bytes (unpadded).
    pub bloom_len: u32,
    /// Number of tombstones.
    pub tombstones: u32,
    /// Offset just past the last data block.
    pub data_end: u32,
}

impl Footer {
    /// Writes the footer into `buf[..FOOTER_LEN]`.
    pub fn emit(&self, buf: &mut [u8], epoch: u64) {
        buf[..FOOTER_LEN].fill(0);
        buf[0..4].copy_from_slice(&FOOTER_MAGIC);
        let fields = [
            self.entries,
            self.data_blocks,
            self.index_off,
            self.index_len,
            self.bloom_off,
            self.bloom_len,
            self.tombstones,
            self.data_end,
        ];
        for (i, f) in fields.iter().enumerate() {
            buf[4 + 4 * i..8 + 4 * i].copy_from_slice(&f.to_le_bytes());
        }
        buf[36..44].copy_from_slice(&epoch.to_le_bytes());
        let crc = checksum(epoch, &buf[0..60]);
        buf[60..64].copy_from_slice(&crc.to_le_bytes());
    }

    /// Parses a footer written with `epoch`, checking its bounds against
    /// `block_size`.
    pub fn parse(buf: &[u8], epoch: u64, block_size: u32) -> Option<Self> {
        if buf.len() < FOOTER_LEN || buf[0..4] != FOOTER_MAGIC {
            return None;
        }
        if checksum(epoch, &buf[0..60]) != u32_at(buf, 60)? || u64_at(buf, 36)? != epoch {
            return None;
        }
        let f = |i: usize| u32_at(buf, 4 + 4 * i);
        let footer = Footer {
            entries: f(0)?,
            data_blocks: f(1)?,
            index_off: f(2)?,
            index_len: f(3)?,
            bloom_off: f(4)?,
            bloom_len: f(5)?,
            tombstones: f(6)?,
            data_end: f(7)?,
        };
        let bs = block_size as u64;
        let in_block = |off: u32, len: u32| off as u64 + len as u64 <= bs;
        if !in_block(footer.index_off, footer.index_len)
            || !in_block(footer.bloom_off, footer.bloom_len)
            || footer.data_end as u64 > bs
            || footer.tombstones > footer.entries
        {
            return None;
        }
        Some(footer)
    }
}

/// An entry in a data block: a value or a tombstone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The value, or `None` for a tombstone.
    pub value: Option<&'a [u8]>,
}

/// Tag of a value entry or log operation.
pub const OP_PUT: u8 = 0;
/// Tag of a tombstone entry or log operation.
pub const OP_DELETE: u8 = 1;

/// Encoded length of an entry (also of one log operation).
pub const fn entry_len(key_len: usize, value: Option<usize>) -> usize {
    1 + varint_len(key_len as u64)
        + key_len
        + match value {
            Some(v) => varint_len(v as u64) + v,
            None => 0,
        }
}

/// Writes an entry into `out` (which must be `entry_len` long); returns the
/// length written.
pub fn put_entry(out: &mut [u8], key: &[u8], value: Option<&[u8]>) -> usize {
    let mut i = 0;
    out[i] = if value.is_some() { OP_PUT } else { OP_DELETE };
    i += 1;
    i += put_varint(&mut out[i..], key.len() as u64);
    out[i..i + key.len()].copy_from_slice(key);
    i += key.len();
    if let Some(v) = value {
        i += put_varint(&mut out[i..], v.len() as u64);
        out[i..i + v.len()].copy_from_slice(v);
        i += v.len();
    }
    i
}

/// Reads one entry; `None` if the bytes are malformed.
pub fn read_entry<'a>(r: &mut Reader<'a>) -> Option<Entry<'a>> {
    let tag = r.u8()?;
    let klen = r.varint()? as usize;
    let key = r.bytes(klen)?;
    let value = match tag {
        OP_PUT => {
            let vlen = r.varint()? as usize;
            Some(r.bytes(vlen)?)
        }
        OP_DELETE => None,
        _ => return None,
    };
    Some(Entry { key, value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn checksum_is_the_same_on_every_target() {
        // The hardware CRC (std builds) and the table-driven one (firmware)
        // must agree, or a store written on one could not be read on the
        // other. Known answer: CRC-32C of "123456789" is 0xE3069283.
        let mut d = CRC.digest();
        d.update(b"123456789");
        assert_eq!(d.finalize(), 0xE306_9283);
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for len in [0, 1, 3, 7, 8, 15, 16, 63, 64, 65, 1000, 4096] {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            for epoch in [0, 1, x] {
                assert_eq!(checksum(epoch, &data), checksum_portable(epoch, &data));
            }
        }
    }

    #[test]
    fn header_round_trips_and_rejects_damage() {
        let h = BlockHeader {
            kind: BlockKind::Wal,
            epoch: 77,
            block_size: 4096,
            block_count: 16,
        };
        let mut buf = [0u8; HEADER_LEN];
        h.emit(&mut buf);
        assert_eq!(BlockHeader::parse(&buf), Some(h));
        for i in 0..HEADER_LEN {
            let mut bad = buf;
            bad[i] ^= 0x10;
            assert_eq!(BlockHeader::parse(&bad), None, "flip at byte {i}");
        }
        assert_eq!(BlockHeader::parse(&[0xFF; HEADER_LEN]), None);
        assert_eq!(BlockHeader::parse(&buf[..10]), None);
    }

    #[test]
    fn record_checksum_is_bound_to_the_block_epoch() {
        let mut rec = crate::list::List::new();
        rec.resize(FRAME_LEN, 0).unwrap();
        rec.extend_from_slice(b"payload").unwrap();
        seal_record(&mut rec, 0, 5, 9, 8).unwrap();
        let out = rec.to_vec();
        assert_eq!(out.len() % 8, 0);
        let r = parse_record(&out, 0, 5, 8).unwrap();
        assert_eq!((r.seq, r.payload, r.next), (9, &b"payload"[..], out.len()));
        assert_eq!(
            parse_record(&out, 0, 6, 8),
            None,
            "stale epoch must not verify"
        );
        let mut torn = out.clone();
        torn[20] ^= 1;
        assert_eq!(parse_record(&torn, 0, 5, 8), None);
        // A length pointing past the block is rejected, not sliced.
        let mut long = out.clone();
        long[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse_record(&long, 0, 5, 8), None);
        assert_eq!(parse_record(&out, out.len() - 3, 5, 8), None);
    }

    #[test]
    fn varints_round_trip_and_reject_overlong() {
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut buf = [0u8; 10];
            let n = put_varint(&mut buf, v);
            assert_eq!(n, varint_len(v));
            let mut r = Reader::new(&buf[..n]);
            assert_eq!(r.varint(), Some(v));
        }
        let mut r = Reader::new(&[0xFF; 11]);
        assert_eq!(r.varint(), None);
        let mut r = Reader::new(&[0x80]);
        assert_eq!(r.varint(), None);
    }

    #[test]
    fn entries_round_trip() {
        let mut buf = vec![0u8; entry_len(3, Some(5)) + entry_len(2, None)];
        let n = put_entry(&mut buf, b"abc", Some(b"hello"));
        put_entry(&mut buf[n..], b"xy", None);
        let mut r = Reader::new(&buf);
        assert_eq!(
            read_entry(&mut r),
            Some(Entry {
                key: b"abc",
                value: Some(b"hello")
            })
        );
        assert_eq!(
            read_entry(&mut r),
            Some(Entry {
                key: b"xy",
                value: None
            })
        );
        assert!(r.is_empty());
        assert_eq!(read_entry(&mut Reader::new(&[7, 1, 0])), None);
        assert_eq!(read_entry(&mut Reader::new(&[0, 200, 1])), None);
    }

    #[test]
    fn footer_round_trips_and_checks_bounds() {
        let f = Footer {
            entries: 10,
            data_blocks: 2,
            index_off: 1000,
            index_len: 50,
            bloom_off: 1056,
            bloom_len: 20,
            tombstones: 1,
            data_end: 1000,
        };
        let mut buf = [0u8; FOOTER_LEN];
        f.emit(&mut buf, 3);
        assert_eq!(Footer::parse(&buf, 3, 4096), Some(f));
        assert_eq!(Footer::parse(&buf, 4, 4096), None);
        assert_eq!(Footer::parse(&buf, 3, 1024), None, "index past block end");
    }
}
