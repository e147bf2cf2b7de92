//! The store's memory: lists that grow on the heap (with `alloc`), or that
//! live in fixed slices of one buffer the caller handed in ([`Memory`]),
//! carved when the store opens and given back when it closes.
//!
//! A fixed list refuses to grow past its slice ([`Overflow`]); the store
//! sizes every slice for the worst case its configuration and geometry
//! allow (see `Config::memory_needed`), so an overflow means a store written
//! with another configuration (or a sizing bug), which the store reports as
//! `Error::OutOfMemory` rather than a panic.

use core::ops::{Deref, DerefMut};

/// A fixed list is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Overflow;

/// A list of `T`: a `Vec` on the heap, or a prefix of a fixed slice.
pub(crate) enum List<T: 'static> {
    /// Grows as needed.
    #[cfg(feature = "alloc")]
    Heap(alloc::vec::Vec<T>),
    /// `buf[..len]` is the list.
    Fixed { buf: &'static mut [T], len: usize },
}

impl<T: Copy + 'static> Default for List<T> {
    fn default() -> Self {
        List::new()
    }
}

impl<T: Copy + 'static> List<T> {
    /// An empty list: on the heap when there is one.
    pub fn new() -> Self {
        #[cfg(feature = "alloc")]
        {
            List::Heap(alloc::vec::Vec::new())
        }
        #[cfg(not(feature = "alloc"))]
        {
            List::Fixed {
                buf: &mut [],
                len: 0,
            }
        }
    }

    /// An empty list in `buf`, which it never outgrows.
    pub fn fixed(buf: &'static mut [T]) -> Self {
        List::Fixed { buf, len: 0 }
    }

    /// How many more elements fit, if the list is fixed.
    pub fn room(&self) -> Option<usize> {
        match self {
            #[cfg(feature = "alloc")]
            List::Heap(_) => None,
            List::Fixed { buf, len } => Some(buf.len() - *len),
        }
    }

    /// How many elements the list holds at most, if it is fixed.
    pub fn capacity(&self) -> Option<usize> {
        match self {
            #[cfg(feature = "alloc")]
            List::Heap(_) => None,
            List::Fixed { buf, .. } => Some(buf.len()),
        }
    }

    /// Whether `n` more elements fit.
    pub fn fits(&self, n: usize) -> bool {
        self.room().is_none_or(|r| r >= n)
    }

    pub fn push(&mut self, v: T) -> Result<(), Overflow> {
        match self {
            #[cfg(feature = "alloc")]
            List::Heap(vec) => vec.push(v),
            List::Fixed { buf, len } => {
                *buf.get_mut(*len).ok_or(Overflow)? = v;
                *len += 1;
            }
        }
        Ok(())
    }

    pub fn pop(&mut self) -> Option<T> {
        match self {
            #[cfg(feature = "alloc")]
            List::Heap(vec) => vec.pop(),
            List::Fixed { buf, len } => {
                *len = len.checked_sub(1)?;
                Some(buf[*len])
            }
        }
    }

    pub fn truncate(&mut self, n: usize) {
        match self {
            #[cfg(feature = "alloc")]
            List::Heap(vec) => vec.truncate(n),
            List::Fixed { len, .. } => *len = n.min(*len),
        }
    }

    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// Makes the list `n` long, filling new elements with `v`.
    pub fn resize(&mut self, n: usize, v: T) -> Result<(), Overflow> {
        match self {
            #[cfg(feature = "alloc")]
            List::Heap(vec) => vec.resize(n, v),
            List::Fixed { buf, len } => {
                let grown = buf.get_mut(*len..n.max(*len)).ok_or(Overflow)?;
                grown.fill(v);
                *len = n;
            }
        }
        Ok(())
    }

    pub fn extend_from_slice(&mut self, s: &[T]) -> Result<(), Overflow> {
        match self {
            #[cfg(feature = "alloc")]
            List::Heap(vec) => vec.extend_from_slice(s),
            List::Fixed { buf, len } => {
                buf.get_mut(*len..*len + s.len())
                    .ok_or(Overflow)?
                    .copy_from_slice(s);
                *len += s.len();
            }
        }
        Ok(())
    }

    /// Makes the list a copy of `s`.
    pub fn set(&mut self, s: &[T]) -> Result<(), Overflow> {
        self.clear();
        self.extend_from_slice(s)
    }

    pub fn remove(&mut self, at: usize) -> Option<T> {
        let n = self.len();
        if at >= n {
            return None;
        }
        self[at..].rotate_left(1);
        self.pop()
    }

    /// Removes `range` of the list.
    pub fn drain_range(&mut self, from: usize, to: usize) {
        let n = self.len();
        let (from, to) = (from.min(n), to.min(n).max(from.min(n)));
        self[from..].rotate_left(to - from);
        self.truncate(n - (to - from));
    }

    /// Gives the heap's memory back when the list is long empty.
    pub fn shrink(&mut self) {
        #[cfg(feature = "alloc")]
        if let List::Heap(vec) = self {
            vec.shrink_to_fit();
        }
    }
}

impl<T: 'static> Deref for List<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        match self {
            #[cfg(feature = "alloc")]
            List::Heap(vec) => vec,
            List::Fixed { buf, len } => &buf[..*len],
        }
    }
}

impl<T: 'static> DerefMut for List<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        match self {
            #[cfg(feature = "alloc")]
            List::Heap(vec) => vec,
            List::Fixed { buf, len } => &mut buf[..*len],
        }
    }
}

impl<T: 'static> AsRef<[T]> for List<T> {
    fn as_ref(&self) -> &[T] {
        self
    }
}

impl<T: 'static> AsMut<[T]> for List<T> {
    fn as_mut(&mut self) -> &mut [T] {
        self
    }
}

impl crate::memtable::Storage for List<u8> {
    fn resize_to(&mut self, len: usize) -> bool {
        let _ = len;
        match self {
            #[cfg(feature = "alloc")]
            List::Heap(vec) => vec.resize_to(len),
            // A fixed arena keeps its size.
            List::Fixed { .. } => false,
        }
    }
}

impl<T: core::fmt::Debug + 'static> core::fmt::Debug for List<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// How many pieces [`Memory`] keeps track of: a store carves fewer.
const MAX_PIECES: usize = 48;

/// Memory for a store that runs without a heap: one buffer, carved into the
/// store's lists and buffers when it opens (sized by
/// [`Config::memory_needed`](crate::Config::memory_needed)), and handed
/// back by [`Db::close`](crate::Db::close) for the next open.
///
/// ```
/// use cairn_core::{Config, Db, Memory, device::RamDevice, BlockDevice};
///
/// let dev = RamDevice::new(1024, 32, 4);
/// let cfg = Config { memtable_bytes: 512, max_key_len: 16, max_value_len: 64, ..Config::DEFAULT };
/// let need = cfg.memory_needed(&dev.geometry());
/// let buf: &'static mut [u8] = Box::leak(vec![0; need].into_boxed_slice());
/// let mut memory = Memory::new(buf);
/// let mut db = Db::format_in(dev, cfg.clone(), &mut memory).unwrap();
/// db.put(b"k", b"v").unwrap();
/// let dev = db.close(&mut memory);
/// let mut db = Db::open_in(dev, cfg, &mut memory).unwrap();
/// assert_eq!(db.get_vec(b"k").unwrap().as_deref(), Some(&b"v"[..]));
/// ```
pub struct Memory {
    /// What is left to carve, in order.
    pieces: heapless::Vec<&'static mut [u8], MAX_PIECES>,
}

impl Memory {
    /// Memory made of `buf`.
    pub fn new(buf: &'static mut [u8]) -> Self {
        let mut pieces = heapless::Vec::new();
        if !buf.is_empty() {
            let _ = pieces.push(buf);
        }
        Memory { pieces }
    }

    /// Bytes left.
    pub fn len(&self) -> usize {
        self.pieces.iter().map(|p| p.len()).sum()
    }

    /// Whether no byte is left.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Carves `n` elements of `T` off the first piece that holds them.
    fn take<T: bytemuck::Pod>(&mut self, n: usize) -> Result<&'static mut [T], Overflow> {
        let bytes = n.checked_mul(core::mem::size_of::<T>()).ok_or(Overflow)?;
        if bytes == 0 {
            return Ok(&mut []);
        }
        let fits = |p: &&'static mut [u8]| {
            let skip = p.as_ptr().align_offset(core::mem::align_of::<T>());
            skip.checked_add(bytes).is_some_and(|end| end <= p.len())
        };
        let i = self.pieces.iter().position(fits).ok_or(Overflow)?;
        let piece = core::mem::take(&mut self.pieces[i]);
        let skip = piece.as_ptr().align_offset(core::mem::align_of::<T>());
        let (_, aligned) = piece.split_at_mut(skip);
        let (mine, rest) = aligned.split_at_mut(bytes);
        if rest.is_empty() {
            self.pieces.remove(i);
        } else {
            self.pieces[i] = rest;
        }
        bytemuck::try_cast_slice_mut(mine).map_err(|_| Overflow)
    }

    /// The pieces left, in order.
    pub(crate) fn into_pieces(self) -> impl Iterator<Item = &'static mut [u8]> {
        self.pieces.into_iter()
    }

    /// Takes `piece` back.
    pub(crate) fn give(&mut self, piece: &'static mut [u8]) {
        if !piece.is_empty() {
            // More pieces than a store carves never come back.
            let _ = self.pieces.push(piece);
        }
    }
}

impl core::fmt::Debug for Memory {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Memory")
            .field("bytes", &self.len())
            .field("pieces", &self.pieces.len())
            .finish()
    }
}

impl<T: bytemuck::Pod> List<T> {
    /// Gives a fixed list's slice back to `mem`.
    #[allow(irrefutable_let_patterns)] // without `alloc`, every list is fixed
    pub fn give_back(self, mem: &mut Memory) {
        if let List::Fixed { buf, .. } = self {
            mem.give(bytemuck::cast_slice_mut(buf));
        }
    }
}

/// Where a store's lists come from: the heap, or a caller's [`Memory`].
pub(crate) enum Source<'m> {
    /// Lists grow on the heap.
    #[cfg(feature = "alloc")]
    Heap,
    /// Lists are carved from the caller's memory.
    Fixed(&'m mut Memory),
}

/// Bytes a region of `n` elements of `T` takes from a caller's buffer,
/// alignment included.
pub(crate) const fn region<T>(n: usize) -> usize {
    n * core::mem::size_of::<T>() + core::mem::align_of::<T>() - 1
}

impl Source<'_> {
    /// A list that holds `n` elements (fixed), or grows (heap).
    pub fn list<T: bytemuck::Pod>(&mut self, n: usize) -> Result<List<T>, Overflow> {
        match self {
            #[cfg(feature = "alloc")]
            Source::Heap => Ok(List::Heap(alloc::vec::Vec::new())),
            Source::Fixed(mem) => Ok(List::fixed(mem.take(n)?)),
        }
    }

    /// A list that is `n` elements long from the start, all `v`.
    pub fn filled<T: bytemuck::Pod>(&mut self, n: usize, v: T) -> Result<List<T>, Overflow> {
        let mut l = self.list(n)?;
        l.resize(n, v)?;
        Ok(l)
    }

    /// Whether lists are fixed.
    pub fn is_fixed(&self) -> bool {
        match self {
            #[cfg(feature = "alloc")]
            Source::Heap => false,
            Source::Fixed(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed<T: Copy>(n: usize, v: T) -> List<T> {
        extern crate std;
        List::fixed(std::boxed::Box::leak(std::vec![v; n].into_boxed_slice()))
    }

    #[test]
    fn fixed_list_refuses_to_outgrow_its_slice() {
        let mut l = fixed(3, 0u32);
        l.push(1).unwrap();
        l.extend_from_slice(&[2, 3]).unwrap();
        assert_eq!(l.push(4), Err(Overflow));
        assert_eq!(l.extend_from_slice(&[4]), Err(Overflow));
        assert_eq!(l.resize(4, 0), Err(Overflow));
        assert_eq!(&l[..], &[1, 2, 3]);
        assert_eq!(l.remove(0), Some(1));
        assert_eq!(&l[..], &[2, 3]);
        l.drain_range(0, 1);
        assert_eq!(&l[..], &[3]);
        assert_eq!(l.pop(), Some(3));
        assert_eq!(l.pop(), None);
    }

    #[test]
    fn carving_aligns_and_memory_comes_back() {
        extern crate std;
        let buf: &'static mut [u8] = std::boxed::Box::leak(std::vec![0u8; 64].into_boxed_slice());
        let (_, odd) = buf.split_at_mut(1);
        let mut mem = Memory::new(odd);
        let mut src = Source::Fixed(&mut mem);
        let a: List<u8> = src.list(3).unwrap();
        let b: List<u64> = src.list(2).unwrap();
        assert_eq!((a.room(), b.room()), (Some(3), Some(2)));
        assert_eq!(src.list::<u64>(100).err(), Some(Overflow));
        assert!(region::<u8>(3) + region::<u64>(2) <= 63);
        let left = mem.len();
        assert!(left <= 63 - 3 - 16);
        a.give_back(&mut mem);
        b.give_back(&mut mem);
        assert_eq!(mem.len(), left + 3 + 16);
        // The same requests fit again.
        let mut src = Source::Fixed(&mut mem);
        let _: List<u8> = src.list(3).unwrap();
        let _: List<u64> = src.list(2).unwrap();
    }
}
