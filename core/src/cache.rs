//! A cache of table data blocks, bounded in bytes, with CLOCK eviction.
//!
//! Entries are keyed by (block, epoch, offset): a block that is freed and
//! reused gets a new epoch, so a stale entry can never be served.

#[cfg(not(feature = "alloc"))]
pub(crate) use none::{BlockCache, Shared};

/// Without a heap there is no cache: it misses, and keeps nothing.
#[cfg(not(feature = "alloc"))]
mod none {
    /// A cached block: none exists without a heap.
    #[derive(Clone)]
    pub(crate) enum Shared {}

    impl core::ops::Deref for Shared {
        type Target = [u8];
        fn deref(&self) -> &[u8] {
            match *self {}
        }
    }

    pub(crate) struct BlockCache {
        pub hits: u64,
        pub misses: u64,
    }

    impl BlockCache {
        pub fn new(_budget: usize) -> Self {
            BlockCache { hits: 0, misses: 0 }
        }

        pub fn bytes(&self) -> usize {
            0
        }

        pub fn get(&mut self, _key: (u32, u64, u32)) -> Option<&Shared> {
            None
        }

        pub fn insert(&mut self, _key: (u32, u64, u32), _data: &[u8]) -> Option<Shared> {
            None
        }

        pub fn forget(&mut self, _any: bool, _gone: impl Fn(u32) -> bool) {}
    }
}

#[cfg(feature = "alloc")]
pub(crate) use heap::{BlockCache, Shared};

#[cfg(feature = "alloc")]
mod heap {
    use alloc::vec::Vec;
    use core::hash::{BuildHasherDefault, Hash, Hasher};
    use hashbrown::HashMap;

    /// A cached block, shared with the cursors reading it, so that a scan
    /// that finds a block in the cache reads it in place instead of copying it.
    #[cfg(target_has_atomic = "ptr")]
    pub(crate) type Shared = alloc::sync::Arc<[u8]>;
    /// A cached block (targets without atomic pointers share it with `Rc`).
    #[cfg(not(target_has_atomic = "ptr"))]
    pub(crate) type Shared = alloc::rc::Rc<[u8]>;

    type Key = (u32, u64, u32);

    /// A cache key as the map holds it, hashed in one step: keys are made by
    /// the engine, not chosen by an adversary, so one folded multiply mixes
    /// them enough.
    #[derive(Clone, Copy, PartialEq, Eq)]
    struct MapKey(Key);

    impl Hash for MapKey {
        fn hash<H: Hasher>(&self, state: &mut H) {
            let (block, epoch, off) = self.0;
            let lo = ((block as u64) << 32 | off as u64) ^ 0x9E37_79B9_7F4A_7C15;
            let p = (lo as u128) * ((epoch ^ 0xD6E8_FEB8_6659_FD93) as u128);
            state.write_u64(p as u64 ^ (p >> 64) as u64);
        }
    }

    /// Takes the hash [`MapKey`] computed as it is.
    #[derive(Default)]
    struct PassHasher(u64);

    impl Hasher for PassHasher {
        fn write(&mut self, bytes: &[u8]) {
            // Not used by `MapKey`; a plain fold keeps it a hash all the same.
            for &b in bytes {
                self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            }
        }

        fn write_u64(&mut self, v: u64) {
            self.0 ^= v;
        }

        fn finish(&self) -> u64 {
            self.0
        }
    }

    struct Slot {
        key: Key,
        data: Shared,
        referenced: bool,
        live: bool,
    }

    pub(crate) struct BlockCache {
        budget: usize,
        used: usize,
        map: HashMap<MapKey, usize, BuildHasherDefault<PassHasher>>,
        slots: Vec<Slot>,
        free: Vec<usize>,
        hand: usize,
        pub hits: u64,
        pub misses: u64,
    }

    impl BlockCache {
        pub fn new(budget: usize) -> Self {
            BlockCache {
                budget,
                used: 0,
                map: HashMap::default(),
                slots: Vec::new(),
                free: Vec::new(),
                hand: 0,
                hits: 0,
                misses: 0,
            }
        }

        pub fn bytes(&self) -> usize {
            self.used
        }

        /// The verified contents of a data block, if cached.
        pub fn get(&mut self, key: Key) -> Option<&Shared> {
            match self.map.get(&MapKey(key)) {
                Some(&i) => {
                    self.hits += 1;
                    let s = &mut self.slots[i];
                    s.referenced = true;
                    Some(&s.data)
                }
                None => {
                    self.misses += 1;
                    None
                }
            }
        }

        /// Caches a verified data block, evicting others to stay in budget.
        /// Returns the shared copy, if cached.
        pub fn insert(&mut self, key: Key, data: &[u8]) -> Option<Shared> {
            // A block larger than a quarter of the budget would flush too much.
            if data.len() > self.budget / 4 || self.map.contains_key(&MapKey(key)) {
                return None;
            }
            while self.used + data.len() > self.budget {
                if !self.evict_one() {
                    return None;
                }
            }
            let shared = Shared::from(data);
            let slot = Slot {
                key,
                data: shared.clone(),
                referenced: false,
                live: true,
            };
            let i = match self.free.pop() {
                Some(i) => {
                    self.slots[i] = slot;
                    i
                }
                None => {
                    self.slots.push(slot);
                    self.slots.len() - 1
                }
            };
            self.used += data.len();
            self.map.insert(MapKey(key), i);
            Some(shared)
        }

        /// Drops every cached block of the device blocks in `blocks`: tables
        /// the store no longer names, whose entries could never be read again
        /// (a reused block gets a new epoch) but would hold memory until
        /// evicted, which a cache under its budget never does.
        /// Drops the blocks of the tables `gone` says are no longer live
        /// (`any`: some may be).
        pub fn forget(&mut self, any: bool, gone: impl Fn(u32) -> bool) {
            if !any || self.used == 0 {
                return;
            }
            for i in 0..self.slots.len() {
                let s = &self.slots[i];
                if s.live && gone(s.key.0) {
                    self.remove(i);
                }
            }
        }

        /// Empties slot `i`, which must be live.
        fn remove(&mut self, i: usize) {
            let s = &mut self.slots[i];
            s.live = false;
            self.used -= s.data.len();
            s.data = Shared::from(&[][..]);
            self.map.remove(&MapKey(s.key));
            self.free.push(i);
        }

        /// Evicts the first live entry not referenced since the hand last
        /// passed it. At most two sweeps of the slots.
        fn evict_one(&mut self) -> bool {
            let n = self.slots.len();
            for _ in 0..2 * n {
                let i = self.hand;
                self.hand = (self.hand + 1) % n;
                let s = &mut self.slots[i];
                if !s.live {
                    continue;
                }
                if s.referenced {
                    s.referenced = false;
                    continue;
                }
                self.remove(i);
                return true;
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_the_blocks_of_freed_tables_only() {
        let mut c = BlockCache::new(1 << 20);
        for block in 0..4u32 {
            for off in 0..3u32 {
                c.insert((block, 7, off * 512), &[block as u8; 512]);
            }
        }
        assert_eq!(c.bytes(), 12 * 512);
        c.forget(true, |b| [1, 3].contains(&b));
        assert_eq!(c.bytes(), 6 * 512);
        for off in 0..3u32 {
            assert!(c.get((1, 7, off * 512)).is_none());
            assert!(c.get((3, 7, off * 512)).is_none());
            assert_eq!(c.get((0, 7, off * 512)).unwrap()[0], 0);
            assert_eq!(c.get((2, 7, off * 512)).unwrap()[0], 2);
        }
        // The freed slots are reused.
        c.insert((5, 8, 0), &[5; 512]);
        assert_eq!(c.bytes(), 7 * 512);
        assert_eq!(c.get((5, 8, 0)).unwrap()[0], 5);
    }

    #[test]
    fn stays_in_budget_and_keeps_referenced_blocks() {
        let mut c = BlockCache::new(4096);
        for i in 0..4u32 {
            c.insert((i, 1, 0), &[i as u8; 1000]);
        }
        assert_eq!(c.bytes(), 4000);
        assert!(c.get((0, 1, 0)).is_some());
        c.insert((9, 1, 0), &[9; 1000]);
        assert!(c.bytes() <= 4096);
        assert!(c.get((0, 1, 0)).is_some(), "referenced entry survives");
        assert!(c.get((1, 1, 0)).is_none(), "unreferenced entry evicted");
        assert_eq!(c.get((9, 1, 0)).map(|d| &d[..]), Some(&[9u8; 1000][..]));
        assert!(c.get((9, 2, 0)).is_none(), "another epoch is another block");
        c.insert((7, 1, 0), &[0; 2000]);
        assert!(c.get((7, 1, 0)).is_none(), "too large for the budget");
    }
}
