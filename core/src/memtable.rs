//! The memtable: recent writes, sorted, bounded in bytes.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::ops::Bound;

/// Bytes charged per entry beyond its key and value, for the tree's nodes.
const ENTRY_OVERHEAD: usize = 32;

/// Sorted in-memory writes; `None` values are tombstones.
#[derive(Default)]
pub(crate) struct Memtable {
    map: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    bytes: usize,
}

fn charge(key: &[u8], value: &Option<Vec<u8>>) -> usize {
    key.len() + value.as_ref().map_or(0, |v| v.len()) + ENTRY_OVERHEAD
}

impl Memtable {
    pub fn insert(&mut self, key: &[u8], value: Option<&[u8]>) {
        let value = value.map(|v| v.to_vec());
        self.bytes += charge(key, &value);
        if let Some(old) = self.map.get_mut(key) {
            self.bytes -= charge(key, old);
            *old = value;
        } else {
            self.map.insert(key.to_vec(), value);
        }
    }

    /// `Some(None)` is a tombstone; `None` means not here.
    pub fn get(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        self.map.get(key).map(|v| v.as_deref())
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
        self.map.iter().map(|(k, v)| (k.as_slice(), v.as_deref()))
    }

    pub fn range<'a>(
        &'a self,
        start: Bound<&'a [u8]>,
        end: Bound<&'a [u8]>,
    ) -> impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)> + 'a {
        self.map
            .range::<[u8], _>((start, end))
            .map(|(k, v)| (k.as_slice(), v.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overwrite_recharges_bytes() {
        let mut m = Memtable::default();
        m.insert(b"k", Some(b"12345"));
        let one = m.bytes();
        m.insert(b"k", Some(b"1"));
        assert_eq!(m.bytes(), one - 4);
        m.insert(b"k", None);
        assert_eq!(m.get(b"k"), Some(None));
        assert_eq!(m.get(b"x"), None);
    }
}
