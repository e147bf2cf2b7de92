//! The manifest: which blocks hold the live tables, level by level, and
//! which hold the write-ahead log. Every commit writes the whole manifest as
//! one record into a metadata block; the newest valid commit wins.

use alloc::vec::Vec;

use crate::format::{push_varint, Reader};

/// Number of levels in the tree.
pub const LEVELS: usize = 7;

/// One block of the write-ahead log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WalRef {
    pub block: u32,
    /// The epoch the block's header must carry.
    pub epoch: u64,
    /// End of the valid records for a sealed block; `u32::MAX` for the last
    /// block, whose records are read up to the first invalid one.
    pub end: u32,
}

/// The parsed manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ManifestRepr {
    /// Sequence number of the last operation applied to the tables.
    pub last_seq: u64,
    pub wal: Vec<WalRef>,
    /// Table blocks per level; level 0 newest first, deeper levels in key
    /// order.
    pub levels: [Vec<u32>; LEVELS],
}

impl ManifestRepr {
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.last_seq.to_le_bytes());
        push_varint(out, self.wal.len() as u64);
        for w in &self.wal {
            push_varint(out, w.block as u64);
            out.extend_from_slice(&w.epoch.to_le_bytes());
            push_varint(out, w.end as u64);
        }
        out.push(LEVELS as u8);
        for level in &self.levels {
            push_varint(out, level.len() as u64);
            for b in level {
                push_varint(out, *b as u64);
            }
        }
    }

    /// Parses a manifest; `None` if malformed or if it names a block twice
    /// or a block beyond `block_count`.
    pub fn parse(payload: &[u8], block_count: u32) -> Option<Self> {
        let mut r = Reader::new(payload);
        let mut m = ManifestRepr {
            last_seq: r.u64()?,
            ..Default::default()
        };
        let nwal = r.varint()? as usize;
        if nwal > block_count as usize {
            return None;
        }
        for _ in 0..nwal {
            let block = r.varint_u32()?;
            let epoch = r.u64()?;
            let end = r.varint_u32()?;
            m.wal.push(WalRef { block, epoch, end });
        }
        if r.u8()? as usize != LEVELS {
            return None;
        }
        for level in m.levels.iter_mut() {
            let n = r.varint()? as usize;
            if n > block_count as usize {
                return None;
            }
            for _ in 0..n {
                level.push(r.varint_u32()?);
            }
        }
        if !r.is_empty() {
            return None;
        }
        // Every block in range and named once: one bit per block.
        let mut seen: Vec<u32> = alloc::vec![0; (block_count as usize).div_ceil(32)];
        for b in m.blocks() {
            if b >= block_count {
                return None;
            }
            let (word, bit) = ((b / 32) as usize, 1u32 << (b % 32));
            if seen[word] & bit != 0 {
                return None;
            }
            seen[word] |= bit;
        }
        Some(m)
    }

    /// Every block the manifest references.
    pub fn blocks(&self) -> impl Iterator<Item = u32> + '_ {
        self.wal
            .iter()
            .map(|w| w.block)
            .chain(self.levels.iter().flatten().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn manifest_round_trips_and_rejects_duplicates() {
        let mut m = ManifestRepr {
            last_seq: 42,
            wal: vec![WalRef {
                block: 3,
                epoch: 9,
                end: u32::MAX,
            }],
            ..Default::default()
        };
        m.levels[0] = vec![7, 5];
        m.levels[2] = vec![1];
        let mut out = Vec::new();
        m.emit(&mut out);
        assert_eq!(ManifestRepr::parse(&out, 8), Some(m.clone()));
        assert_eq!(ManifestRepr::parse(&out, 7), None, "block 7 out of range");
        m.levels[3] = vec![5];
        out.clear();
        m.emit(&mut out);
        assert_eq!(ManifestRepr::parse(&out, 8), None, "block 5 twice");
        assert_eq!(ManifestRepr::parse(&out[..5], 8), None);
    }
}
