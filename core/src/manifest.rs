//! The manifest: which blocks hold the live tables, level by level, and
//! which hold the write-ahead log. Every commit writes the whole manifest as
//! one record into a metadata block; the newest valid commit wins.
//!
//! It is written straight from the store's lists and read by visiting its
//! entries, so that neither needs memory of its own.

use crate::format::{put_varint, Reader};
use crate::list::{List, Overflow};
use crate::table::Table;

/// Number of levels in the tree.
pub const LEVELS: usize = 7;

/// One block of the write-ahead log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub(crate) struct WalRef {
    pub block: u32,
    /// End of the valid records for a sealed block; `u32::MAX` for the last
    /// block, whose records are read up to the first invalid one.
    pub end: u32,
    /// The epoch the block's header must carry.
    pub epoch: u64,
}

/// Appends a varint to `out`.
pub(crate) fn push_varint(out: &mut List<u8>, v: u64) -> Result<(), Overflow> {
    let mut tmp = [0u8; 10];
    let n = put_varint(&mut tmp, v);
    out.extend_from_slice(&tmp[..n])
}

/// Appends a length-prefixed byte string to `out`.
pub(crate) fn push_bytes(out: &mut List<u8>, b: &[u8]) -> Result<(), Overflow> {
    push_varint(out, b.len() as u64)?;
    out.extend_from_slice(b)
}

/// The longest manifest of a store of `blocks` blocks naming at most
/// `wal` log blocks: every other block a table.
pub(crate) const fn max_len(blocks: usize, wal: usize) -> usize {
    8 + 10 + 1 + LEVELS * 10 + wal * (5 + 8 + 5) + blocks * 5
}

/// Appends the manifest to `out`: `last_seq`, the log blocks `wal`, and the
/// tables of each level `l`, which are the concatenation of `levels(l)`
/// (level 0 newest first, deeper levels in key order).
pub(crate) fn emit<'t>(
    out: &mut List<u8>,
    last_seq: u64,
    wal: &[WalRef],
    levels: impl Fn(usize) -> [&'t [Table]; 3],
) -> Result<(), Overflow> {
    out.extend_from_slice(&last_seq.to_le_bytes())?;
    push_varint(out, wal.len() as u64)?;
    for w in wal {
        push_varint(out, w.block as u64)?;
        out.extend_from_slice(&w.epoch.to_le_bytes())?;
        push_varint(out, w.end as u64)?;
    }
    out.push(LEVELS as u8)?;
    for l in 0..LEVELS {
        let parts = levels(l);
        push_varint(out, parts.iter().map(|p| p.len() as u64).sum())?;
        for t in parts.iter().copied().flatten() {
            push_varint(out, t.block as u64)?;
        }
    }
    Ok(())
}

/// An entry of a manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A log block, oldest first.
    Wal(WalRef),
    /// A table: its level and block.
    Table(usize, u32),
}

/// Reads a manifest, calling `f` with each entry in order. Returns
/// `last_seq`; `None` if it is malformed (`f` may have been called by
/// then).
pub(crate) fn visit(payload: &[u8], mut f: impl FnMut(Entry)) -> Option<u64> {
    let mut r = Reader::new(payload);
    let last_seq = r.u64()?;
    let nwal = r.varint()?;
    for _ in 0..nwal {
        let block = r.varint_u32()?;
        let epoch = r.u64()?;
        let end = r.varint_u32()?;
        f(Entry::Wal(WalRef { block, end, epoch }));
    }
    if r.u8()? as usize != LEVELS {
        return None;
    }
    for l in 0..LEVELS {
        let n = r.varint()?;
        for _ in 0..n {
            f(Entry::Table(l, r.varint_u32()?));
        }
    }
    r.is_empty().then_some(last_seq)
}

/// Checks a manifest: well formed, every block below `block_count` and
/// named once. `seen` is a bitmap of at least `block_count` bits, which it
/// clears and uses. Returns `last_seq`.
pub(crate) fn check(payload: &[u8], block_count: u32, seen: &mut [u32]) -> Option<u64> {
    seen.fill(0);
    let mut ok = true;
    let last_seq = visit(payload, |e| {
        let b = match e {
            Entry::Wal(w) => w.block,
            Entry::Table(_, b) => b,
        };
        let (word, bit) = ((b / 32) as usize, 1u32 << (b % 32));
        match seen.get_mut(word) {
            Some(w) if b < block_count && *w & bit == 0 => *w |= bit,
            _ => ok = false,
        }
    })?;
    ok.then_some(last_seq)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn table(block: u32) -> Table {
        Table {
            block,
            ..Table::default()
        }
    }

    #[test]
    fn manifest_round_trips_and_rejects_duplicates() {
        let wal = [WalRef {
            block: 3,
            end: u32::MAX,
            epoch: 9,
        }];
        let (l0, l2) = ([table(7), table(5)], [table(1)]);
        let mut out = List::new();
        emit(&mut out, 42, &wal, |l| match l {
            0 => [&l0[..1], &[], &l0[1..]],
            2 => [&[], &l2, &[]],
            _ => [&[]; 3],
        })
        .unwrap();
        let mut seen = [0u32; 1];
        assert_eq!(check(&out, 8, &mut seen), Some(42));
        let mut seen_entries = Vec::new();
        visit(&out, |e| seen_entries.push(e));
        assert_eq!(
            seen_entries,
            [
                Entry::Wal(wal[0]),
                Entry::Table(0, 7),
                Entry::Table(0, 5),
                Entry::Table(2, 1)
            ]
        );
        assert_eq!(check(&out, 7, &mut seen), None, "block 7 out of range");
        let l3 = [table(5)];
        out.clear();
        emit(&mut out, 42, &wal, |l| match l {
            0 => [&l0, &[], &[]],
            3 => [&l3, &[], &[]],
            _ => [&[]; 3],
        })
        .unwrap();
        assert_eq!(check(&out, 8, &mut seen), None, "block 5 twice");
        assert_eq!(check(&out[..5], 8, &mut seen), None);
    }
}
