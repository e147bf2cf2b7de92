//! The live tables, level by level, in one list; and their key ranges, in
//! one arena.
//!
//! A table in memory is a fixed-size record ([`Table`]): no allocation of
//! its own. The levels are consecutive stretches of one list, and tables a
//! flush or merge has written but not yet placed are staged past the last
//! level. The key ranges live in a byte arena: on the heap it is appended
//! to and compacted once mostly dead; in a caller's fixed memory each block
//! has a slot of twice the longest key, with the two keys' lengths.

use core::ops::Index;

use crate::list::{List, Memory, Overflow, Source};
use crate::manifest::LEVELS;
use crate::table::Table;

/// The tables of every level, and those staged.
pub(crate) struct Levels {
    all: List<Table>,
    /// Where each level ends in `all`; level `l` starts where `l - 1` ends.
    ends: [usize; LEVELS],
}

impl Levels {
    /// Room for `tables` tables (fixed memory) or unbounded (heap).
    pub fn new(mem: &mut Source<'_>, tables: usize) -> Result<Self, Overflow> {
        Ok(Levels {
            all: mem.list(tables)?,
            ends: [0; LEVELS],
        })
    }

    #[inline]
    fn start(&self, lvl: usize) -> usize {
        if lvl == 0 {
            0
        } else {
            self.ends[lvl - 1]
        }
    }

    /// Every table, for the key arena to move their keys.
    pub fn all_mut(&mut self) -> &mut [Table] {
        &mut self.all
    }

    /// The tables written and not yet placed in a level.
    pub fn staged(&self) -> &[Table] {
        &self.all[self.ends[LEVELS - 1]..]
    }

    pub fn staged_mut(&mut self) -> &mut [Table] {
        let last = self.ends[LEVELS - 1];
        &mut self.all[last..]
    }

    /// Adds a table written and not yet placed.
    pub fn stage(&mut self, t: Table) -> Result<(), Overflow> {
        self.all.push(t)
    }

    /// Drops the staged tables from `from` on (their blocks are the
    /// caller's to release).
    pub fn unstage_from(&mut self, from: usize) {
        self.all.truncate(self.ends[LEVELS - 1] + from);
    }

    /// Places every staged table, in order, at position `at` of level
    /// `lvl`.
    pub fn place_staged(&mut self, lvl: usize, at: usize) {
        let last = self.ends[LEVELS - 1];
        let k = self.all.len() - last;
        let pos = (self.start(lvl) + at).min(self.ends[lvl]);
        self.all[pos..].rotate_right(k);
        for e in &mut self.ends[lvl..] {
            *e += k;
        }
    }

    /// Removes table `i` of level `lvl`.
    pub fn remove(&mut self, lvl: usize, i: usize) -> Option<Table> {
        if i >= self[lvl].len() {
            return None;
        }
        let t = self.all.remove(self.start(lvl) + i)?;
        for e in &mut self.ends[lvl..] {
            *e -= 1;
        }
        Some(t)
    }

    /// Removes tables `from..to` of level `lvl`.
    pub fn remove_range(&mut self, lvl: usize, from: usize, to: usize) {
        let n = self[lvl].len();
        let (from, to) = (from.min(n), to.min(n).max(from.min(n)));
        let s = self.start(lvl);
        self.all.drain_range(s + from, s + to);
        for e in &mut self.ends[lvl..] {
            *e -= to - from;
        }
    }

    /// Adds `t` at the end of level `lvl`.
    pub fn push(&mut self, lvl: usize, t: Table) -> Result<(), Overflow> {
        self.stage(t)?;
        let n = self[lvl].len();
        self.place_staged(lvl, n);
        Ok(())
    }

    /// Tables `from..to` of level `lvl` (empty if out of range).
    #[inline]
    pub fn run(&self, lvl: usize, from: usize, to: usize) -> &[Table] {
        let start = match lvl {
            0 => 0,
            1..LEVELS => self.ends[lvl - 1],
            _ => return &[],
        };
        if start + to > self.ends[lvl] {
            return &[];
        }
        self.all.get(start + from..start + to).unwrap_or_default()
    }

    /// The levels, from level 0 down.
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = &[Table]> + '_ {
        (0..LEVELS).map(move |l| &self[l])
    }

    /// Whether every level is empty.
    pub fn is_empty(&self) -> bool {
        self.ends[LEVELS - 1] == 0
    }

    pub fn clear(&mut self) {
        self.all.clear();
        self.ends = [0; LEVELS];
    }

    /// Gives fixed memory back to `mem`, leaving no level.
    pub fn give_back(&mut self, mem: &mut Memory) {
        self.clear();
        core::mem::take(&mut self.all).give_back(mem);
    }
}

impl Index<usize> for Levels {
    type Output = [Table];

    /// The tables of level `lvl`: level 0 newest first, deeper levels in
    /// key order.
    #[inline]
    fn index(&self, lvl: usize) -> &[Table] {
        match lvl {
            0..LEVELS => self
                .all
                .get(self.start(lvl)..self.ends[lvl])
                .unwrap_or_default(),
            _ => &[],
        }
    }
}

/// The key ranges of the tables, borrowed.
#[derive(Clone, Copy)]
pub(crate) struct KeysView<'a>(&'a [u8]);

impl<'a> KeysView<'a> {
    /// The lengths of `t`'s largest and smallest keys, at the start of its
    /// range.
    #[inline]
    fn lens(self, t: &Table) -> (usize, usize) {
        let at = t.key_off as usize;
        match self.0.get(at..at + 4) {
            Some(&[a, b, c, d]) => (
                u16::from_le_bytes([a, b]) as usize,
                u16::from_le_bytes([c, d]) as usize,
            ),
            _ => (0, 0),
        }
    }

    #[inline]
    pub fn largest(self, t: &Table) -> &'a [u8] {
        let at = t.key_off as usize;
        let len = match self.0.get(at..at + 2) {
            Some(&[a, b]) => u16::from_le_bytes([a, b]) as usize,
            _ => 0,
        };
        self.0.get(at + 4..at + 4 + len).unwrap_or_default()
    }

    #[inline]
    pub fn smallest(self, t: &Table) -> &'a [u8] {
        let (l, s) = self.lens(t);
        let at = t.key_off as usize + 4 + l;
        self.0.get(at..at + s).unwrap_or_default()
    }

    /// Whether `key` lies within `t`'s key range.
    #[inline]
    pub fn covers(self, t: &Table, key: &[u8]) -> bool {
        key <= self.largest(t) && key >= self.smallest(t)
    }
}

/// The key ranges of the tables: at each table's `key_off`, the lengths of
/// its largest and smallest keys (two `u16`s), then the largest key (what a
/// binary search over a level compares), then the smallest.
pub(crate) struct Keys {
    bytes: List<u8>,
    /// In fixed memory, the bytes each block's slot holds; on the heap 0
    /// (keys are appended).
    slot: usize,
    /// Heap: bytes of keys of tables no longer live.
    dead: usize,
}

impl Keys {
    /// Key ranges for `blocks` blocks with keys of up to `max_key` bytes
    /// (fixed memory), or unbounded (heap).
    pub fn new(mem: &mut Source<'_>, blocks: usize, max_key: usize) -> Result<Self, Overflow> {
        let fixed = mem.is_fixed();
        let slot = if fixed { 4 + 2 * max_key } else { 0 };
        let mut bytes = mem.list(blocks * slot)?;
        if fixed {
            bytes.resize(blocks * slot, 0)?;
        }
        Ok(Keys {
            bytes,
            slot,
            dead: 0,
        })
    }

    /// The key ranges as a plain slice, for many lookups in a row.
    #[inline]
    pub fn view(&self) -> KeysView<'_> {
        KeysView(&self.bytes)
    }

    #[inline]
    pub fn smallest(&self, t: &Table) -> &[u8] {
        self.view().smallest(t)
    }

    #[inline]
    pub fn largest(&self, t: &Table) -> &[u8] {
        self.view().largest(t)
    }

    /// Whether `key` lies within `t`'s key range.
    #[inline]
    pub fn covers(&self, t: &Table, key: &[u8]) -> bool {
        self.view().covers(t, key)
    }

    /// Records `t`'s key range.
    pub fn add(&mut self, t: &mut Table, smallest: &[u8], largest: &[u8]) -> Result<(), Overflow> {
        let (s, l) = (smallest.len(), largest.len());
        let (Ok(sl), Ok(ll)) = (u16::try_from(s), u16::try_from(l)) else {
            return Err(Overflow);
        };
        let [a, b] = ll.to_le_bytes();
        let [c, d] = sl.to_le_bytes();
        if self.slot == 0 {
            let at = self.bytes.len();
            t.key_off = u32::try_from(at).map_err(|_| Overflow)?;
            let r = (|| {
                self.bytes.extend_from_slice(&[a, b, c, d])?;
                self.bytes.extend_from_slice(largest)?;
                self.bytes.extend_from_slice(smallest)
            })();
            if r.is_err() {
                self.bytes.truncate(at);
            }
            r
        } else {
            if 4 + s + l > self.slot {
                return Err(Overflow);
            }
            let at = t.block as usize * self.slot;
            let dest = self.bytes.get_mut(at..at + 4 + s + l).ok_or(Overflow)?;
            dest[..4].copy_from_slice(&[a, b, c, d]);
            dest[4..4 + l].copy_from_slice(largest);
            dest[4 + l..].copy_from_slice(smallest);
            t.key_off = at as u32;
            Ok(())
        }
    }

    /// `t` is no longer live (nor staged).
    pub fn release(&mut self, t: &Table) {
        if self.slot == 0 {
            let (l, s) = self.view().lens(t);
            self.dead += 4 + s + l;
        }
    }

    /// On the heap, once most of the arena is dead, copies the key ranges
    /// of `tables` (every table live or staged) into a new one.
    pub fn compact(&mut self, tables: &mut [Table]) {
        #[cfg(feature = "alloc")]
        if self.slot == 0 && self.dead > 4096 && self.dead * 2 > self.bytes.len() {
            let live = self.bytes.len() - self.dead;
            let mut fresh = alloc::vec::Vec::with_capacity(live);
            for t in tables.iter_mut() {
                let at = t.key_off as usize;
                let (l, s) = self.view().lens(t);
                t.key_off = fresh.len() as u32;
                fresh.extend_from_slice(self.bytes.get(at..at + 4 + s + l).unwrap_or_default());
            }
            self.bytes = List::Heap(fresh);
            self.dead = 0;
        }
        let _ = tables;
    }

    /// Gives fixed memory back to `mem`, leaving no key range.
    pub fn give_back(&mut self, mem: &mut Memory) {
        core::mem::take(&mut self.bytes).give_back(mem);
    }

    pub fn clear(&mut self) {
        if self.slot == 0 {
            self.bytes.clear();
            self.bytes.shrink();
        }
        self.dead = 0;
    }
}
