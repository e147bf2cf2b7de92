//! The memtable: recent writes, sorted, in one byte arena whose size is
//! fixed when the store opens.
//!
//! A skip list, as in LevelDB's memtable, laid out in a single buffer: no
//! allocation per operation, and no allocator at all when the buffer is a
//! caller's `&mut [u8]`. Nodes are appended one after the other and never
//! freed; [`Memtable::clear`] empties the whole arena once its contents are
//! in tables.
//!
//! A node is, with every integer little-endian:
//!
//! ```text
//! height: u8 | key_len: u16 | next: [u32; height] | key
//! value_cap: u32 | value_len: u32 (u32::MAX: tombstone) | value space (value_cap bytes)
//! ```
//!
//! What a search reads of a node, its height, key length, one link and its
//! key, is one run of bytes at its start, most often one cache line.
//!
//! The first 1/65 of the buffer (a multiple of 8 bytes) is a filter of the
//! keys present: four bits per key, all in one 64-bit word, from the key's
//! hash, so that a lookup of a key the memtable does not hold (most
//! lookups, once the store is larger than its memtable) reads one word and
//! seldom walks the list. Nodes follow it.
//!
//! The height of a node comes from a hash of its key, so the space a
//! sequence of operations takes is a function of the operations alone:
//! replaying a write-ahead log into an empty arena of the same size takes
//! exactly the space the writes took, and whatever the store accepted
//! before a crash fits again. An overwrite reuses the node's value space
//! when the new value fits in it; otherwise a new node is appended and
//! linked in place of the old one, whose space stays dead until the arena
//! is cleared.
//!
//! Every offset and length read back from the arena is bounds-checked: a
//! read that falls outside it gives an empty key or the end of a list,
//! never a panic.
#![cfg_attr(not(feature = "alloc"), allow(dead_code))]

use core::cmp::Ordering;
use core::ops::Bound;

use crate::format::key_hash;

/// The tallest tower: with a branching factor of 4, enough for millions of
/// entries.
pub(crate) const MAX_HEIGHT: usize = 12;
/// Bytes of a node besides its tower, key and value: 3 before the tower,
/// 8 after the key.
const NODE_HEADER: usize = 11;
/// Bytes of a node before its tower.
const TOWER_AT: usize = 3;
/// The end of a list.
const NIL: u32 = u32::MAX;
/// The list head, whose tower lives outside the arena.
const HEAD: u32 = u32::MAX - 1;
/// `value_len` of a tombstone.
const TOMBSTONE: u32 = u32::MAX;
/// The largest arena used: offsets are `u32`, two of which are reserved.
pub(crate) const MAX_ARENA: usize = (u32::MAX - 2) as usize;
const _: () = assert!(NODE_HEADER + 4 * MAX_HEIGHT <= 64);
/// The longest key a node can hold.
pub(crate) const MAX_KEY: usize = u16::MAX as usize;

/// The arena of the store's memtable.
pub(crate) type Arena = crate::list::List<u8>;

/// The byte buffer a memtable lives in.
pub(crate) trait Storage: AsRef<[u8]> + AsMut<[u8]> + Default {
    /// Makes the buffer `len` bytes long, keeping its first bytes, and
    /// returns whether it could. A borrowed buffer cannot.
    fn resize_to(&mut self, len: usize) -> bool {
        let _ = len;
        false
    }
}

impl Storage for &mut [u8] {}

#[cfg(feature = "alloc")]
impl Storage for alloc::vec::Vec<u8> {
    fn resize_to(&mut self, len: usize) -> bool {
        if len > self.len() {
            self.resize(len, 0);
        } else if len < self.len() {
            self.truncate(len);
            self.shrink_to_fit();
        }
        true
    }
}

/// The arena has no room for the insert; nothing was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Full;

/// Sorted recent writes in one arena; `None` values are tombstones.
pub(crate) struct Memtable<S: Storage> {
    buf: S,
    /// Bytes of the buffer in use: at most `MAX_ARENA`.
    cap: usize,
    /// Bytes allocated, dead nodes included.
    used: usize,
    /// Bytes at the start of the buffer given to a filter of the keys
    /// present (four bits of one 64-bit word per key, from its hash), so
    /// that a lookup of a key the memtable does not hold seldom walks the
    /// list.
    filter: usize,
    /// Levels in use (at least 1).
    height: usize,
    /// The head's tower.
    head: [u32; MAX_HEIGHT],
}

impl<S: Storage> Memtable<S> {
    /// The arena, given back.
    pub fn into_storage(self) -> S {
        self.buf
    }
}

impl<S: Storage> Default for Memtable<S> {
    fn default() -> Self {
        Memtable::new(S::default())
    }
}

/// The height of the tower of `key`'s nodes: 1, then one more with
/// probability 1/4 each, from the key's hash.
fn height_of(key: &[u8]) -> usize {
    height_from(key_hash(key))
}

fn height_from(mut h: u64) -> usize {
    let mut height = 1;
    while height < MAX_HEIGHT && h & 3 == 0 {
        height += 1;
        h >>= 2;
    }
    height
}

/// Bytes of a node of `height` holding `key_len` and `value_len` bytes.
const fn node_size(height: usize, key_len: usize, value_len: usize) -> usize {
    (NODE_HEADER + 4 * height)
        .saturating_add(key_len)
        .saturating_add(value_len)
}

/// Bytes of the arena of a memtable of `node_bytes`: the nodes, and the
/// key filter at its start.
pub(crate) const fn arena_len(node_bytes: usize) -> usize {
    node_bytes.saturating_add(node_bytes / 64)
}

/// The most any key of `key_len` bytes with a value of `value_len` bytes
/// may need, whatever its hash: at most 64 bytes more than the key and
/// value (`Db::write` documents that bound).
pub(crate) const fn needed_at_most(key_len: usize, value_len: usize) -> usize {
    node_size(MAX_HEIGHT, key_len, value_len)
}

fn read_u32(buf: &[u8], at: usize) -> u32 {
    match buf.get(at..at.saturating_add(4)) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
        _ => NIL,
    }
}

fn read_u64(buf: &[u8], at: usize) -> u64 {
    buf.get(at..at.saturating_add(8))
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
        .map_or(0, u64::from_le_bytes)
}

fn write_u32(buf: &mut [u8], at: usize, v: u32) {
    if let Some(d) = buf.get_mut(at..at.saturating_add(4)) {
        if d.len() == 4 {
            d.copy_from_slice(&v.to_le_bytes());
        }
    }
}

/// `a` against `b` in the order of byte slices, eight bytes at a time: the
/// keys of a memtable often share long prefixes, and most are short enough
/// that a call to `memcmp` costs more than the comparison.
#[inline]
fn compare(a: &[u8], b: &[u8]) -> Ordering {
    let word = |c: &[u8]| <[u8; 8]>::try_from(c).map_or(0, u64::from_be_bytes);
    let mut same = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let (x, y) = (word(x), word(y));
        if x != y {
            return x.cmp(&y);
        }
        same += 8;
    }
    let (a, b) = (a.get(same..).unwrap_or(&[]), b.get(same..).unwrap_or(&[]));
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// A node's header fields.
struct Header {
    height: usize,
    key_len: usize,
    value_cap: usize,
    value_len: u32,
}

impl Header {
    fn read(buf: &[u8], node: u32) -> Option<Header> {
        let n = node as usize;
        let &[height, k0, k1] = buf.get(n..n.saturating_add(TOWER_AT))? else {
            return None;
        };
        let height = height as usize;
        let key_len = u16::from_le_bytes([k0, k1]) as usize;
        let at = n + TOWER_AT + 4 * height + key_len;
        let v: &[u8; 8] = buf.get(at..at + 8)?.try_into().ok()?;
        Some(Header {
            height,
            key_len,
            value_cap: u32::from_le_bytes([v[0], v[1], v[2], v[3]]) as usize,
            value_len: u32::from_le_bytes([v[4], v[5], v[6], v[7]]),
        })
    }

    /// Where the key starts.
    fn key_at(&self, node: u32) -> usize {
        node as usize + TOWER_AT + 4 * self.height
    }

    /// Where `value_len` is.
    fn value_len_at(&self, node: u32) -> usize {
        self.key_at(node) + self.key_len + 4
    }

    /// Where the value starts.
    fn value_at(&self, node: u32) -> usize {
        self.key_at(node) + self.key_len + 8
    }
}

/// Where `node`'s pointer at `level` is.
fn next_at(node: u32, level: usize) -> usize {
    node as usize + TOWER_AT + 4 * level
}

/// The key of `node`; empty if the node does not fit the arena.
fn key_of(buf: &[u8], node: u32) -> &[u8] {
    let n = node as usize;
    let Some(&[height, k0, k1]) = buf.get(n..n.saturating_add(3)) else {
        return &[];
    };
    let start = n + TOWER_AT + 4 * height as usize;
    let len = u16::from_le_bytes([k0, k1]) as usize;
    buf.get(start..start.saturating_add(len)).unwrap_or(&[])
}

/// The key and value (`None`: tombstone) of `node`.
fn entry_of(buf: &[u8], node: u32) -> Option<(&[u8], Option<&[u8]>)> {
    let h = Header::read(buf, node)?;
    let k = h.key_at(node);
    let key = buf.get(k..k + h.key_len)?;
    let v = h.value_at(node);
    if h.value_len == TOMBSTONE {
        return Some((key, None));
    }
    let len = (h.value_len as usize).min(h.value_cap);
    Some((key, Some(buf.get(v..v.saturating_add(len))?)))
}

impl<S: Storage> Memtable<S> {
    /// An empty memtable in `storage`, all of which it may use (up to
    /// [`MAX_ARENA`] bytes). The previous contents do not matter.
    pub fn new(storage: S) -> Self {
        let cap = storage.as_ref().len().min(MAX_ARENA);
        let filter = (cap / 65) & !7;
        let mut m = Memtable {
            buf: storage,
            cap,
            used: filter,
            filter,
            height: 1,
            head: [NIL; MAX_HEIGHT],
        };
        m.clear();
        m
    }
    /// Where the filter's word for a key's hash is, and its four bits in
    /// that word. One word rather than bits anywhere: one cache line read
    /// per lookup, for a few more false positives (about 0.5% at the 16
    /// bits per key of 100-byte values, against 1.4% for two bits
    /// anywhere). The word comes from the hash's high half, the bits from
    /// its low half above the bits that set a node's height.
    fn filter_probe(&self, hash: u64) -> (usize, u64) {
        let words = (self.filter / 8) as u64;
        let word = ((hash >> 32) * words) >> 32;
        let bits = (0..4).fold(0u64, |m, i| m | 1 << ((hash >> (8 + 6 * i)) & 63));
        (8 * word as usize, bits)
    }

    fn filter_add(&mut self, hash: u64) {
        if self.filter == 0 {
            return;
        }
        let (at, bits) = self.filter_probe(hash);
        let word = read_u64(self.buf.as_ref(), at);
        if let Some(w) = self.buf.as_mut().get_mut(at..at.saturating_add(8)) {
            w.copy_from_slice(&(word | bits).to_le_bytes());
        }
    }

    fn filter_may_hold(&self, hash: u64) -> bool {
        if self.filter == 0 {
            return true;
        }
        let (at, bits) = self.filter_probe(hash);
        // A word outside the arena (never: `at` is below `filter`) lets
        // every key through.
        self.buf
            .as_ref()
            .get(at..at.saturating_add(8))
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .is_none_or(|w| u64::from_le_bytes(w) & bits == bits)
    }

    /// The bytes a new node for `key` with a value of `value_len` bytes
    /// (`None`: a tombstone) takes: an upper bound of what inserting it
    /// needs. `usize::MAX` for a key longer than [`MAX_KEY`], which never
    /// fits.
    pub fn needed(key: &[u8], value_len: Option<usize>) -> usize {
        if key.len() > MAX_KEY || value_len.is_some_and(|v| v >= TOMBSTONE as usize) {
            return usize::MAX;
        }
        node_size(height_of(key), key.len(), value_len.unwrap_or(0))
    }

    /// An upper bound of the bytes that inserting every operation of `ops`
    /// takes.
    pub fn needed_for(ops: &[(&[u8], Option<&[u8]>)]) -> usize {
        ops.iter().fold(0usize, |sum, (k, v)| {
            sum.saturating_add(Self::needed(k, v.map(|v| v.len())))
        })
    }

    /// Bytes still free in the arena.
    pub fn room(&self) -> usize {
        self.cap.saturating_sub(self.used)
    }

    /// Whether every operation of `ops` can be inserted, in order, now.
    #[allow(dead_code)] // the store asks `needed_for` and `room` instead
    pub fn room_for(&self, ops: &[(&[u8], Option<&[u8]>)]) -> bool {
        Self::needed_for(ops) <= self.room()
    }

    /// Bytes of the arena in use by nodes, dead nodes included.
    pub fn bytes(&self) -> usize {
        self.used - self.filter
    }

    /// Bytes of the arena.
    #[allow(dead_code)] // the store sizes the arena itself
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Whether the memtable holds no entry.
    pub fn is_empty(&self) -> bool {
        self.head[0] == NIL
    }

    /// Empties the memtable; its arena is reused as it is.
    pub fn clear(&mut self) {
        self.used = self.filter;
        if let Some(f) = self.buf.as_mut().get_mut(..self.filter) {
            f.fill(0);
        }
        self.height = 1;
        self.head = [NIL; MAX_HEIGHT];
    }

    /// Empties the memtable and, if the storage can change size, makes the
    /// arena `capacity` bytes.
    pub fn clear_to(&mut self, capacity: usize) {
        self.clear();
        if self.buf.as_ref().len() != capacity && self.buf.resize_to(capacity) {
            self.cap = self.buf.as_ref().len().min(MAX_ARENA);
        }
    }

    fn next(&self, node: u32, level: usize) -> u32 {
        if node == HEAD {
            self.head.get(level).copied().unwrap_or(NIL)
        } else {
            read_u32(self.buf.as_ref(), next_at(node, level))
        }
    }

    fn set_next(&mut self, node: u32, level: usize, to: u32) {
        if node == HEAD {
            if let Some(h) = self.head.get_mut(level) {
                *h = to;
            }
        } else {
            write_u32(self.buf.as_mut(), next_at(node, level), to);
        }
    }

    /// The node of `key`, if there is one: a search that stops on the
    /// highest level the key's node is on.
    fn find(&self, key: &[u8]) -> Option<u32> {
        let buf = self.buf.as_ref();
        let mut x = HEAD;
        let mut level = self.height.clamp(1, MAX_HEIGHT) - 1;
        // A node already found after `key`, on a higher level.
        let mut after = NIL;
        loop {
            let next = self.next(x, level);
            if next != NIL && next != after {
                match compare(key_of(buf, next), key) {
                    Ordering::Less => {
                        x = next;
                        continue;
                    }
                    Ordering::Equal => return Some(next),
                    Ordering::Greater => {}
                }
            }
            if level == 0 {
                return None;
            }
            after = next;
            level -= 1;
        }
    }

    /// The first node whose key is not `before` the target (`NIL` if none),
    /// with the last node before it on every level in `prev`.
    fn seek(&self, before: impl Fn(&[u8]) -> bool, prev: &mut [u32; MAX_HEIGHT]) -> u32 {
        let buf = self.buf.as_ref();
        let mut x = HEAD;
        let mut level = self.height.clamp(1, MAX_HEIGHT) - 1;
        // A node already found not before the target, on a higher level.
        let mut not_before = NIL;
        loop {
            let next = self.next(x, level);
            if next != NIL && next != not_before && before(key_of(buf, next)) {
                x = next;
            } else {
                prev[level] = x;
                if level == 0 {
                    return next;
                }
                not_before = next;
                level -= 1;
            }
        }
    }

    /// Appends a node for `key` and `value`, its tower unset.
    fn append(&mut self, key: &[u8], value: Option<&[u8]>, height: usize) -> Result<u32, Full> {
        let value_len = value.map(|v| v.len());
        if key.len() > MAX_KEY || value_len.is_some_and(|v| v >= TOMBSTONE as usize) {
            return Err(Full);
        }
        let size = node_size(height, key.len(), value_len.unwrap_or(0));
        let end = self.used.checked_add(size).ok_or(Full)?;
        if end > self.cap {
            return Err(Full);
        }
        let node = self.used;
        let buf = self.buf.as_mut().get_mut(node..end).ok_or(Full)?;
        let (header, rest) = buf.split_at_mut(TOWER_AT);
        header[0] = height as u8;
        header[1..3].copy_from_slice(&(key.len() as u16).to_le_bytes());
        let (k, rest) = rest[4 * height..].split_at_mut(key.len());
        k.copy_from_slice(key);
        let (fields, v) = rest.split_at_mut(8);
        let cap = value_len.unwrap_or(0) as u32;
        fields[..4].copy_from_slice(&cap.to_le_bytes());
        let len = value_len.map_or(TOMBSTONE, |v| v as u32);
        fields[4..].copy_from_slice(&len.to_le_bytes());
        if let Some(value) = value {
            v.copy_from_slice(value);
        }
        self.used = end;
        Ok(node as u32)
    }

    /// Inserts `key` with `value` (`None`: a tombstone), replacing what the
    /// key held. On `Err(Full)` nothing changed.
    pub fn insert(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), Full> {
        let mut prev = [HEAD; MAX_HEIGHT];
        let x = self.seek(|k| compare(k, key) == Ordering::Less, &mut prev);
        if x != NIL {
            let buf = self.buf.as_ref();
            if key_of(buf, x) == key {
                let h = Header::read(buf, x).ok_or(Full)?;
                return self.overwrite(x, h, &prev, key, value);
            }
        }
        let hash = key_hash(key);
        let height = height_from(hash);
        let node = self.append(key, value, height)?;
        self.filter_add(hash);
        if height > self.height {
            // `prev` is HEAD on the new levels.
            self.height = height;
        }
        self.link(node, height, &prev);
        Ok(())
    }

    /// Links `node` of `height` after `prev` on every level of its tower.
    fn link(&mut self, node: u32, height: usize, prev: &[u32; MAX_HEIGHT]) {
        for (level, &p) in prev.iter().enumerate().take(height) {
            let next = self.next(p, level);
            self.set_next(node, level, next);
            self.set_next(p, level, node);
        }
    }

    fn overwrite(
        &mut self,
        x: u32,
        h: Header,
        prev: &[u32; MAX_HEIGHT],
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<(), Full> {
        let len_at = h.value_len_at(x);
        match value {
            None => {
                write_u32(self.buf.as_mut(), len_at, TOMBSTONE);
                Ok(())
            }
            Some(v) if v.len() <= h.value_cap => {
                let at = h.value_at(x);
                let dst = self.buf.as_mut().get_mut(at..at + v.len()).ok_or(Full)?;
                dst.copy_from_slice(v);
                write_u32(self.buf.as_mut(), len_at, v.len() as u32);
                Ok(())
            }
            Some(v) => {
                // A new node of the same height (it is the key's) takes
                // the old one's place on every level.
                let node = self.append(key, Some(v), h.height)?;
                for (level, &p) in prev.iter().enumerate().take(h.height) {
                    let next = self.next(x, level);
                    self.set_next(node, level, next);
                    self.set_next(p, level, node);
                }
                Ok(())
            }
        }
    }

    /// Like [`Memtable::insert`], but when the arena is full, makes it
    /// larger if the storage can (twice as large, or as large as needed).
    pub fn insert_or_grow(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), Full> {
        match self.insert(key, value) {
            Err(Full) => {
                let need = Self::needed(key, value.map(|v| v.len()));
                let want = self.used.saturating_add(need);
                let len = want.max(self.cap.saturating_mul(2)).min(MAX_ARENA);
                if want > len || !self.buf.resize_to(len) {
                    return Err(Full);
                }
                self.cap = self.buf.as_ref().len().min(MAX_ARENA);
                self.insert(key, value)
            }
            ok => ok,
        }
    }

    /// The value of `key`: `Some(None)` is a tombstone, `None` means the
    /// key is not here.
    #[cfg(test)]
    pub fn get(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        self.get_hashed(key, key_hash(key))
    }

    /// [`Memtable::get`] for a key whose 64-bit XXH3 hash is `hash`.
    pub fn get_hashed(&self, key: &[u8], hash: u64) -> Option<Option<&[u8]>> {
        if !self.filter_may_hold(hash) {
            return None;
        }
        let x = self.find(key)?;
        entry_of(self.buf.as_ref(), x).map(|(_, v)| v)
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            buf: self.buf.as_ref(),
            node: self.head[0],
            end: Bound::Unbounded,
        }
    }

    /// The entries from `start` to `end`, in key order.
    pub fn range<'a>(&'a self, start: Bound<&[u8]>, end: Bound<&'a [u8]>) -> Iter<'a> {
        let mut prev = [HEAD; MAX_HEIGHT];
        let node = match start {
            Bound::Unbounded => self.head[0],
            Bound::Included(s) => self.seek(|k| compare(k, s) == Ordering::Less, &mut prev),
            Bound::Excluded(s) => self.seek(|k| compare(k, s) != Ordering::Greater, &mut prev),
        };
        Iter {
            buf: self.buf.as_ref(),
            node,
            end,
        }
    }
}

/// Iterator over a memtable's entries, in key order: (key, value), a
/// `None` value being a tombstone.
pub(crate) struct Iter<'a> {
    buf: &'a [u8],
    node: u32,
    end: Bound<&'a [u8]>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.node == NIL {
            return None;
        }
        let Some((k, v)) = entry_of(self.buf, self.node) else {
            self.node = NIL;
            return None;
        };
        let past_end = match self.end {
            Bound::Unbounded => false,
            Bound::Included(e) => k > e,
            Bound::Excluded(e) => k >= e,
        };
        if past_end {
            self.node = NIL;
            return None;
        }
        self.node = read_u32(self.buf, next_at(self.node, 0));
        Some((k, v))
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::format;
    use std::vec;
    use std::vec::Vec;

    type Mem = Memtable<Vec<u8>>;

    type Model = BTreeMap<Vec<u8>, Option<Vec<u8>>>;
    type Batch = Vec<(Vec<u8>, Option<Vec<u8>>)>;

    fn contents(m: &Mem) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        m.iter()
            .map(|(k, v)| (k.to_vec(), v.map(|v| v.to_vec())))
            .collect()
    }

    fn model_contents(m: &Model) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    fn key(i: u32) -> Vec<u8> {
        format!("key{i:06}").into_bytes()
    }

    #[test]
    fn entries_come_back_in_key_order() {
        let mut m = Mem::new(vec![0; 1 << 16]);
        let mut model = Model::new();
        // A fixed permutation of 0..500.
        for i in 0..500u32 {
            let k = key(i * 7919 % 500);
            m.insert(&k, Some(&k[3..])).unwrap();
            model.insert(k.clone(), Some(k[3..].to_vec()));
        }
        assert_eq!(contents(&m), model_contents(&model));
        for i in 0..500u32 {
            let k = key(i);
            assert_eq!(m.get(&k), Some(Some(&k[3..])));
        }
        assert_eq!(m.get(b"key"), None);
        assert_eq!(m.get(b"key000500"), None);
        assert_eq!(m.get(b""), None);
    }

    #[test]
    fn overwrite_reuses_value_space_or_relinks() {
        let mut m = Mem::new(vec![0; 4096]);
        m.insert(b"a", Some(b"1")).unwrap();
        m.insert(b"k", Some(b"12345")).unwrap();
        m.insert(b"z", Some(b"9")).unwrap();
        let used = m.bytes();
        // Shorter or equal: in place.
        m.insert(b"k", Some(b"ab")).unwrap();
        assert_eq!(m.bytes(), used);
        assert_eq!(m.get(b"k"), Some(Some(&b"ab"[..])));
        m.insert(b"k", Some(b"abcde")).unwrap();
        assert_eq!(m.bytes(), used);
        assert_eq!(m.get(b"k"), Some(Some(&b"abcde"[..])));
        // Longer: a new node replaces the old one.
        m.insert(b"k", Some(b"0123456789")).unwrap();
        assert_eq!(m.bytes(), used + Mem::needed(b"k", Some(10)));
        assert_eq!(m.get(b"k"), Some(Some(&b"0123456789"[..])));
        let keys: Vec<_> = m.iter().map(|(k, _)| k.to_vec()).collect();
        assert_eq!(keys, [b"a".to_vec(), b"k".to_vec(), b"z".to_vec()]);
        // The new node's space is reused in turn.
        m.insert(b"k", Some(b"x")).unwrap();
        assert_eq!(m.bytes(), used + Mem::needed(b"k", Some(10)));
        assert_eq!(m.get(b"k"), Some(Some(&b"x"[..])));
    }

    #[test]
    fn relinking_keeps_every_level_consistent() {
        // Many keys so that towers of several heights exist; grow each
        // value so that every key is relinked, then check order and reach.
        let mut m = Mem::new(vec![0; 1 << 20]);
        for i in 0..2000u32 {
            m.insert(&key(i), Some(b"v")).unwrap();
        }
        assert!(m.height > 3);
        for round in 2..5usize {
            for i in (0..2000u32).rev() {
                m.insert(&key(i), Some(&vec![round as u8; round])).unwrap();
            }
            let all = contents(&m);
            assert_eq!(all.len(), 2000);
            for (i, (k, v)) in all.iter().enumerate() {
                assert_eq!(k, &key(i as u32));
                assert_eq!(v.as_deref(), Some(&vec![round as u8; round][..]));
            }
            for i in 0..2000u32 {
                assert_eq!(m.get(&key(i)).unwrap().unwrap().len(), round);
            }
        }
    }

    #[test]
    fn the_key_filter_turns_away_most_absent_keys_and_no_present_one() {
        // The filter takes 1/64 of the arena: with 100-byte values, about
        // 14 bits per key.
        let value = [7u8; 100];
        let mut m = Mem::new(vec![0; 1 << 16]);
        let mut n = 0;
        while m.insert(&key(n), Some(&value)).is_ok() {
            n += 1;
        }
        for i in 0..n {
            assert!(m.filter_may_hold(key_hash(&key(i))), "key {i}");
            assert_eq!(m.get(&key(i)), Some(Some(&value[..])));
        }
        let passed = (n..n + 10_000)
            .filter(|&i| m.filter_may_hold(key_hash(&key(i))))
            .count();
        assert!(
            passed < 500,
            "{passed} of 10,000 absent keys passed ({n} present)"
        );
        m.clear();
        let stale = (0..n)
            .filter(|&i| m.filter_may_hold(key_hash(&key(i))))
            .count();
        assert_eq!(stale, 0, "clearing empties the filter");
    }

    proptest! {
        #[test]
        fn compare_orders_as_slices_do(
            a in proptest::collection::vec(0u8..3, 0..40),
            b in proptest::collection::vec(0u8..3, 0..40),
            shared in 0usize..30,
        ) {
            // Long shared prefixes, as keys of one kind have.
            let (mut x, mut y) = (vec![7u8; shared], vec![7u8; shared]);
            x.extend(&a);
            y.extend(&b);
            prop_assert_eq!(compare(&x, &y), x.cmp(&y));
            prop_assert_eq!(compare(&y, &x), y.cmp(&x));
            prop_assert_eq!(compare(&x, &x), Ordering::Equal);
            prop_assert_eq!(compare(&x[..x.len() / 2], &x), x[..x.len() / 2].cmp(&x));
        }
    }

    #[test]
    fn tombstones_are_entries() {
        let mut m = Mem::new(vec![0; 1024]);
        m.insert(b"gone", None).unwrap();
        assert_eq!(m.get(b"gone"), Some(None));
        assert!(!m.is_empty());
        m.insert(b"k", Some(b"value")).unwrap();
        let used = m.bytes();
        // Deleting keeps the value space for a later put.
        m.insert(b"k", None).unwrap();
        assert_eq!(m.get(b"k"), Some(None));
        assert_eq!(m.bytes(), used);
        m.insert(b"k", Some(b"vv")).unwrap();
        assert_eq!(m.get(b"k"), Some(Some(&b"vv"[..])));
        assert_eq!(m.bytes(), used);
        // A tombstone has no value space: a put after it appends.
        m.insert(b"gone", Some(b"back")).unwrap();
        assert_eq!(m.bytes(), used + Mem::needed(b"gone", Some(4)));
        assert_eq!(
            contents(&m),
            [
                (b"gone".to_vec(), Some(b"back".to_vec())),
                (b"k".to_vec(), Some(b"vv".to_vec()))
            ]
        );
        // Empty values are values.
        m.insert(b"e", Some(b"")).unwrap();
        assert_eq!(m.get(b"e"), Some(Some(&b""[..])));
    }

    #[test]
    fn a_full_arena_refuses_and_changes_nothing() {
        let mut m = Mem::new(vec![0; 600]);
        let mut i = 0;
        while m.insert(&key(i), Some(&[i as u8; 20])).is_ok() {
            i += 1;
        }
        assert!(i > 5);
        let before = contents(&m);
        let used = m.bytes();
        let image = m.buf.clone();
        // A new key, a grown value, a key that never fits.
        assert_eq!(m.insert(&key(i), Some(&[0; 20])), Err(Full));
        assert_eq!(m.insert(&key(0), Some(&[0; 400])), Err(Full));
        assert_eq!(m.insert(&[b'x'; MAX_KEY + 1], None), Err(Full));
        assert_eq!(m.bytes(), used);
        assert_eq!(contents(&m), before);
        assert_eq!(m.buf, image);
        // What reuses space still works.
        m.insert(&key(0), Some(&[1; 20])).unwrap();
        m.insert(&key(1), None).unwrap();
        assert_eq!(m.bytes(), used);
        assert!(m.room() < Mem::needed(&key(i), Some(20)));
        m.clear();
        assert!(m.is_empty());
        assert_eq!(m.bytes(), 0);
        assert_eq!(m.iter().count(), 0);
        m.insert(&key(i), Some(&[0; 20])).unwrap();
        assert_eq!(m.get(&key(0)), None);
    }

    #[test]
    fn needed_bounds_what_an_insert_takes() {
        let mut m = Mem::new(vec![0; 1 << 16]);
        for i in 0..300u32 {
            let k = key(i % 97);
            let v = vec![7u8; (i as usize * 13) % 50];
            let value = (i % 5 != 0).then_some(&v[..]);
            let ops = [(&k[..], value)];
            assert!(m.room_for(&ops));
            let before = m.bytes();
            m.insert(&k, value).unwrap();
            assert!(m.bytes() - before <= Mem::needed_for(&ops));
            assert!(Mem::needed_for(&ops) <= needed_at_most(k.len(), v.len()));
        }
        assert_eq!(Mem::needed(&[0; MAX_KEY + 1], None), usize::MAX);
        let empty = Mem::new(vec![0; 64]);
        assert!(!empty.room_for(&[(b"k", Some(&[0u8; 60][..]))]));
        assert!(empty.room_for(&[]));
    }

    /// Operations as a store issues them: when a batch does not fit, the
    /// memtable is flushed (cleared) and the log starts over.
    fn run_log(cap: usize, batches: &[Batch]) -> (Mem, usize) {
        let mut m = Mem::new(vec![0; cap]);
        let mut log_start = 0;
        for (i, b) in batches.iter().enumerate() {
            let ops: Vec<(&[u8], Option<&[u8]>)> =
                b.iter().map(|(k, v)| (&k[..], v.as_deref())).collect();
            if Mem::needed_for(&ops) > cap {
                continue; // too large for any memtable of this size
            }
            if !m.room_for(&ops) {
                m.clear();
                log_start = i;
            }
            for (k, v) in ops {
                m.insert(k, v).unwrap();
            }
        }
        (m, log_start)
    }

    fn batches() -> impl Strategy<Value = Vec<Batch>> {
        let op = (
            0u8..40,
            proptest::option::weighted(0.8, proptest::collection::vec(any::<u8>(), 0..60)),
        )
            .prop_map(|(k, v)| (format!("k{k}").into_bytes(), v));
        proptest::collection::vec(proptest::collection::vec(op, 1..4), 1..200)
    }

    proptest! {
        #[test]
        fn replay_takes_the_same_space(cap in 200usize..3000, log in batches()) {
            let (m, start) = run_log(cap, &log);
            // Replaying the log since the last flush into an empty arena of
            // the same size: everything fits, in the same bytes.
            let mut r = Mem::new(vec![0; cap]);
            for b in &log[start..] {
                let ops: Vec<(&[u8], Option<&[u8]>)> =
                    b.iter().map(|(k, v)| (&k[..], v.as_deref())).collect();
                if Mem::needed_for(&ops) > cap {
                    continue;
                }
                for (k, v) in ops {
                    prop_assert_eq!(r.insert(k, v), Ok(()));
                }
            }
            prop_assert_eq!(r.bytes(), m.bytes());
            prop_assert_eq!(&r.buf[..r.bytes()], &m.buf[..m.bytes()]);
            prop_assert_eq!(contents(&r), contents(&m));
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u8, Option<Vec<u8>>),
        Get(u8),
        Range(Bound<u8>, Bound<u8>),
        Clear,
    }

    fn bound() -> impl Strategy<Value = Bound<u8>> {
        prop_oneof![
            Just(Bound::Unbounded),
            (0u8..64).prop_map(Bound::Included),
            (0u8..64).prop_map(Bound::Excluded),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            12 => (0u8..64, proptest::option::weighted(0.8, proptest::collection::vec(any::<u8>(), 0..80)))
                .prop_map(|(k, v)| Op::Insert(k, v)),
            4 => (0u8..64).prop_map(Op::Get),
            3 => (bound(), bound()).prop_map(|(a, b)| Op::Range(a, b)),
            1 => Just(Op::Clear),
        ]
    }

    /// Keys of several lengths, some prefixes of others.
    fn mkey(k: u8) -> Vec<u8> {
        let mut v = format!("{:02}", k / 2).into_bytes();
        if k % 2 == 1 {
            v.push(b'x');
        }
        v
    }

    fn owned(b: Bound<u8>) -> Bound<Vec<u8>> {
        match b {
            Bound::Included(k) => Bound::Included(mkey(k)),
            Bound::Excluded(k) => Bound::Excluded(mkey(k)),
            Bound::Unbounded => Bound::Unbounded,
        }
    }

    fn borrowed(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
        match b {
            Bound::Included(k) => Bound::Included(k),
            Bound::Excluded(k) => Bound::Excluded(k),
            Bound::Unbounded => Bound::Unbounded,
        }
    }

    /// What `BTreeMap::range` gives, without its panics on inverted bounds.
    fn model_range(
        m: &Model,
        lo: &Bound<Vec<u8>>,
        hi: &Bound<Vec<u8>>,
    ) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let after_lo = |k: &Vec<u8>| match lo {
            Bound::Included(l) => k >= l,
            Bound::Excluded(l) => k > l,
            Bound::Unbounded => true,
        };
        let before_hi = |k: &Vec<u8>| match hi {
            Bound::Included(h) => k <= h,
            Bound::Excluded(h) => k < h,
            Bound::Unbounded => true,
        };
        m.iter()
            .filter(|(k, _)| after_lo(k) && before_hi(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn mem_range(
        m: &Mem,
        lo: &Bound<Vec<u8>>,
        hi: &Bound<Vec<u8>>,
    ) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        m.range(borrowed(lo), borrowed(hi))
            .map(|(k, v)| (k.to_vec(), v.map(|v| v.to_vec())))
            .collect()
    }

    #[test]
    fn ranges_with_every_kind_of_bound() {
        let mut m = Mem::new(vec![0; 8192]);
        let mut model = Model::new();
        for k in (0u8..64).filter(|k| k % 3 != 0) {
            let v = (k % 5 != 0).then(|| vec![k; 3]);
            m.insert(&mkey(k), v.as_deref()).unwrap();
            model.insert(mkey(k), v);
        }
        let mut bounds = vec![Bound::Unbounded];
        for k in 0u8..64 {
            bounds.push(Bound::Included(k));
            bounds.push(Bound::Excluded(k));
        }
        for lo in &bounds {
            for hi in &bounds {
                let (lo, hi) = (owned(*lo), owned(*hi));
                assert_eq!(
                    mem_range(&m, &lo, &hi),
                    model_range(&model, &lo, &hi),
                    "{lo:?}..{hi:?}"
                );
            }
        }
        let empty = Mem::new(vec![0; 64]);
        assert_eq!(
            empty.range(Bound::Included(b"a"), Bound::Unbounded).count(),
            0
        );
        assert_eq!(empty.iter().count(), 0);
    }

    proptest! {
        #[test]
        fn behaves_like_a_btreemap(cap in 64usize..4000, ops in proptest::collection::vec(op(), 1..300)) {
            let mut m = Mem::new(vec![0; cap]);
            let mut model = Model::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        let key = mkey(k);
                        let used = m.bytes();
                        let fits = m.room_for(&[(&key, v.as_deref())]);
                        match m.insert(&key, v.as_deref()) {
                            Ok(()) => {
                                prop_assert!(m.bytes() - used <= Mem::needed(&key, v.as_ref().map(|v| v.len())));
                                model.insert(key, v);
                            }
                            Err(Full) => {
                                prop_assert!(!fits);
                                prop_assert_eq!(m.bytes(), used);
                            }
                        }
                        prop_assert!(m.bytes() <= m.capacity());
                    }
                    Op::Get(k) => {
                        let key = mkey(k);
                        let want = model.get(&key).map(|v| v.as_deref());
                        prop_assert_eq!(m.get(&key), want);
                    }
                    Op::Range(a, b) => {
                        let (lo, hi) = (owned(a), owned(b));
                        prop_assert_eq!(mem_range(&m, &lo, &hi), model_range(&model, &lo, &hi));
                    }
                    Op::Clear => {
                        m.clear();
                        model.clear();
                    }
                }
                prop_assert_eq!(m.is_empty(), model.is_empty());
            }
            prop_assert_eq!(contents(&m), model_contents(&model));
        }
    }

    #[test]
    fn a_borrowed_buffer_works_and_cannot_grow() {
        let mut buf = [0xA5u8; 256];
        let mut m = Memtable::new(&mut buf[..]);
        assert_eq!(m.capacity(), 256);
        let mut n = 0;
        while m.insert_or_grow(&key(n), Some(b"v")).is_ok() {
            n += 1;
        }
        assert!(n > 3);
        assert_eq!(m.capacity(), 256);
        for i in 0..n {
            assert_eq!(m.get(&key(i)), Some(Some(&b"v"[..])));
        }
        m.clear_to(1024);
        assert_eq!(m.capacity(), 256);
        assert!(m.is_empty());
        // `take` leaves an empty, zero-sized memtable behind.
        let taken = core::mem::take(&mut m);
        assert_eq!(taken.capacity(), 256);
        assert_eq!(m.capacity(), 0);
        assert_eq!(m.insert(b"k", None), Err(Full));
    }

    #[test]
    fn a_vec_arena_grows_on_demand_and_shrinks_back() {
        let mut m = Mem::new(vec![0; 256]);
        for i in 0..100 {
            m.insert_or_grow(&key(i), Some(&[i as u8; 30])).unwrap();
        }
        assert!(m.capacity() > 256);
        for i in 0..100 {
            assert_eq!(m.get(&key(i)), Some(Some(&[i as u8; 30][..])));
        }
        m.clear_to(256);
        assert_eq!(m.capacity(), 256);
        assert!(m.is_empty());
        let mut d = Mem::default();
        assert_eq!(d.insert(b"k", Some(b"v")), Err(Full));
        d.insert_or_grow(b"k", Some(b"v")).unwrap();
        assert_eq!(d.get(b"k"), Some(Some(&b"v"[..])));
    }

    /// Timing of the memtable against the `BTreeMap` it replaced (run with
    /// `--ignored --nocapture`; it asserts nothing about time).
    #[test]
    #[ignore]
    fn timing() {
        // About a default (1 MiB) memtable's worth, many times; then a
        // large one once.
        time_one(1_000, 400);
        time_one(8_000, 50);
        time_one(200_000, 1);
    }

    fn time_one(n: u32, rounds: u32) {
        use std::time::{Duration, Instant};
        let sequential: Vec<Vec<u8>> = (0..n).map(|i| format!("{i:016}").into_bytes()).collect();
        let mut random = sequential.clone();
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for i in (1..random.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            random.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let value = [0x5Au8; 100];
        let arena = needed_at_most(16, 100) * n as usize;
        let per = |d: Duration| d.as_nanos() as f64 / (n as f64 * rounds as f64);
        for (name, order) in [("sequential", &sequential), ("random", &random)] {
            let mut m = Mem::new(vec![0; arena]);
            let (mut ins, mut over, mut get, mut it) = Default::default();
            for _ in 0..rounds {
                m.clear();
                let t = Instant::now();
                for k in order {
                    m.insert(k, Some(&value)).unwrap();
                }
                ins += t.elapsed();
                let t = Instant::now();
                for k in order {
                    m.insert(k, Some(&value[..50])).unwrap();
                }
                over += t.elapsed();
                let t = Instant::now();
                let mut found = 0;
                for k in &random {
                    found += m.get(k).is_some_and(|v| v.is_some()) as u32;
                }
                get += t.elapsed();
                let t = Instant::now();
                let count = m.iter().filter(|(_, v)| v.is_some()).count();
                it += t.elapsed();
                assert_eq!((found, count), (n, n as usize));
            }
            let (ins, over, get, it): (Duration, Duration, Duration, Duration) =
                (ins, over, get, it);

            let (mut bins, mut bover, mut bget, mut bit) = Default::default();
            for _ in 0..rounds {
                let mut b: Model = BTreeMap::new();
                let t = Instant::now();
                for k in order {
                    let v = Some(value.to_vec());
                    if let Some(old) = b.get_mut(&k[..]) {
                        *old = v;
                    } else {
                        b.insert(k.clone(), v);
                    }
                }
                bins += t.elapsed();
                let t = Instant::now();
                for k in order {
                    let v = Some(value[..50].to_vec());
                    if let Some(old) = b.get_mut(&k[..]) {
                        *old = v;
                    } else {
                        b.insert(k.clone(), v);
                    }
                }
                bover += t.elapsed();
                let t = Instant::now();
                let mut found = 0;
                for k in &random {
                    found += b.get(&k[..]).is_some_and(|v| v.is_some()) as u32;
                }
                bget += t.elapsed();
                let t = Instant::now();
                let count = b.values().filter(|v| v.is_some()).count();
                bit += t.elapsed();
                assert_eq!((found, count), (n, n as usize));
            }
            let (bins, bover, bget, bit): (Duration, Duration, Duration, Duration) =
                (bins, bover, bget, bit);
            std::println!(
                "{n:>7} keys, {name:>10}: ns/op arena vs btree: insert {:5.0} {:5.0} | overwrite {:5.0} {:5.0} | get {:5.0} {:5.0} | iter {:5.1} {:5.1} | arena bytes {}",
                per(ins), per(bins), per(over), per(bover), per(get), per(bget), per(it), per(bit), m.bytes()
            );
        }
    }
}
