//! The device contract: what cairn asks of the media it stores data on.
//!
//! A [`BlockDevice`] is an array of erase units ("blocks") of
//! [`Geometry::block_size`] bytes. cairn treats every device, a file
//! included, as NOR flash:
//!
//! - A byte is programmed at most once between two erases of its block.
//!   cairn never updates in place. This one rule makes the same engine
//!   correct on NOR flash, on files and in a browser.
//! - Reads are aligned to [`Geometry::read_size`], programs to
//!   [`Geometry::program_size`] (offset and length both).
//! - If power is lost during a program, the words being programmed hold
//!   undefined values; the rest of the block is unchanged. If power is lost
//!   during an erase, the whole block holds undefined values.
//! - On a device with a volatile cache (a file), data is durable only once
//!   [`BlockDevice::sync`] returns. Writes since the last sync may be lost,
//!   torn, or reach the media in any order.
//! - An error from `sync` is fatal for the store that saw it: it stops
//!   accepting writes (see [`crate::Error::Poisoned`]).
//!
//! cairn never relies on an erased block reading as `0xFF`: every record it
//! reads back carries a checksum seeded with the epoch of the block it lives
//! in, so a device whose erase merely discards data (a file with a punched
//! hole) is as good as one that really erases.

/// The shape of a device. Checked when a store is formatted and opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Geometry {
    /// Bytes in one erase unit. A power of two, at least 1024.
    pub block_size: u32,
    /// Number of erase units. At least 4.
    pub block_count: u32,
    /// Reads are aligned to this many bytes. A power of two, at most 256.
    pub read_size: u32,
    /// Programs are aligned to this many bytes. A power of two, at most 256.
    pub program_size: u32,
}

impl Geometry {
    /// The alignment cairn uses for every structure it lays out: the larger
    /// of the read and program units.
    pub const fn align(&self) -> u32 {
        if self.read_size > self.program_size {
            self.read_size
        } else {
            self.program_size
        }
    }

    /// Total capacity in bytes.
    pub const fn capacity(&self) -> u64 {
        self.block_size as u64 * self.block_count as u64
    }

    /// Whether cairn can use a device of this shape; `Err` names the problem.
    pub fn validate(&self) -> Result<(), &'static str> {
        let pow2 = |v: u32| v != 0 && v & (v - 1) == 0;
        if !pow2(self.block_size) || self.block_size < 1024 {
            return Err("block_size must be a power of two of at least 1024");
        }
        if !pow2(self.read_size) || self.read_size > 256 {
            return Err("read_size must be a power of two of at most 256");
        }
        if !pow2(self.program_size) || self.program_size > 256 {
            return Err("program_size must be a power of two of at most 256");
        }
        if self.block_count < 4 {
            return Err("a store needs at least 4 blocks");
        }
        if self.block_count > (1 << 28) {
            return Err("at most 2^28 blocks are supported");
        }
        Ok(())
    }
}

/// An array of erase units with NOR flash semantics; see the module docs for
/// the full contract.
///
/// # Example
///
/// ```
/// use cairn_core::device::{BlockDevice, RamDevice};
///
/// let mut dev = RamDevice::new(4096, 8, 4);
/// dev.erase(3).unwrap();
/// dev.program(3, 0, b"cairn!!!").unwrap();
/// let mut buf = [0u8; 8];
/// dev.read(3, 0, &mut buf).unwrap();
/// assert_eq!(&buf, b"cairn!!!");
/// ```
pub trait BlockDevice {
    /// The device's own error.
    type Error: core::fmt::Debug;

    /// The device's shape. Must not change while a store is open on it.
    fn geometry(&self) -> Geometry;

    /// Reads `buf.len()` bytes at `offset` within `block`.
    fn read(&mut self, block: u32, offset: u32, buf: &mut [u8]) -> Result<(), Self::Error>;

    /// Programs `data` at `offset` within `block`. The bytes must have been
    /// erased and not programmed since.
    fn program(&mut self, block: u32, offset: u32, data: &[u8]) -> Result<(), Self::Error>;

    /// Erases `block`.
    fn erase(&mut self, block: u32) -> Result<(), Self::Error>;

    /// Makes every earlier program and erase durable. A no-op on media
    /// without a volatile cache.
    fn sync(&mut self) -> Result<(), Self::Error>;
}

impl<T: BlockDevice + ?Sized> BlockDevice for &mut T {
    type Error = T::Error;
    fn geometry(&self) -> Geometry {
        (**self).geometry()
    }
    fn read(&mut self, block: u32, offset: u32, buf: &mut [u8]) -> Result<(), Self::Error> {
        (**self).read(block, offset, buf)
    }
    fn program(&mut self, block: u32, offset: u32, data: &[u8]) -> Result<(), Self::Error> {
        (**self).program(block, offset, data)
    }
    fn erase(&mut self, block: u32) -> Result<(), Self::Error> {
        (**self).erase(block)
    }
    fn sync(&mut self) -> Result<(), Self::Error> {
        (**self).sync()
    }
}

/// Why a `RamDevice` refused an operation. Each one is a bug in the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RamError {
    /// Block number past the end of the device.
    OutOfRange,
    /// Offset or length not aligned to the read or program unit.
    Misaligned,
    /// A byte was programmed twice without an erase in between.
    ProgrammedTwice,
}

#[cfg(feature = "alloc")]
pub use ram::RamDevice;

#[cfg(feature = "alloc")]
mod ram {
    use super::{BlockDevice, Geometry, RamError};
    use alloc::vec;
    use alloc::vec::Vec;

    /// A device in RAM that enforces the NOR rules: erased bytes read `0xFF`,
    /// each byte is programmed at most once between erases, and every access
    /// is aligned. For tests and examples; `cairn-sim` adds power cuts.
    #[derive(Clone, Debug)]
    pub struct RamDevice {
        geometry: Geometry,
        data: Vec<u8>,
        /// One flag per byte: programmed since the last erase.
        written: Vec<bool>,
    }

    impl RamDevice {
        /// A blank device of `block_count` blocks of `block_size` bytes, read
        /// in bytes and programmed in units of `program_size` bytes.
        pub fn new(block_size: u32, block_count: u32, program_size: u32) -> Self {
            let len = block_size as usize * block_count as usize;
            RamDevice {
                geometry: Geometry {
                    block_size,
                    block_count,
                    read_size: 1,
                    program_size,
                },
                data: vec![0xFF; len],
                written: vec![false; len],
            }
        }

        /// The raw bytes of the device, for inspection.
        pub fn image(&self) -> &[u8] {
            &self.data
        }

        fn range(&self, block: u32, offset: u32, len: usize) -> Result<usize, RamError> {
            let g = &self.geometry;
            if block >= g.block_count || offset as usize + len > g.block_size as usize {
                return Err(RamError::OutOfRange);
            }
            Ok(block as usize * g.block_size as usize + offset as usize)
        }
    }

    impl BlockDevice for RamDevice {
        type Error = RamError;
        fn geometry(&self) -> Geometry {
            self.geometry
        }
        fn read(&mut self, block: u32, offset: u32, buf: &mut [u8]) -> Result<(), RamError> {
            let rs = self.geometry.read_size;
            if offset % rs != 0 || buf.len() as u32 % rs != 0 {
                return Err(RamError::Misaligned);
            }
            let start = self.range(block, offset, buf.len())?;
            buf.copy_from_slice(&self.data[start..start + buf.len()]);
            Ok(())
        }
        fn program(&mut self, block: u32, offset: u32, data: &[u8]) -> Result<(), RamError> {
            let ps = self.geometry.program_size;
            if offset % ps != 0 || data.len() as u32 % ps != 0 {
                return Err(RamError::Misaligned);
            }
            let start = self.range(block, offset, data.len())?;
            let end = start + data.len();
            if self.written[start..end].iter().any(|w| *w) {
                return Err(RamError::ProgrammedTwice);
            }
            for (i, b) in data.iter().enumerate() {
                self.data[start + i] &= *b;
                self.written[start + i] = true;
            }
            Ok(())
        }
        fn erase(&mut self, block: u32) -> Result<(), RamError> {
            let start = self.range(block, 0, 0)?;
            let end = start + self.geometry.block_size as usize;
            self.data[start..end].fill(0xFF);
            self.written[start..end].fill(false);
            Ok(())
        }
        fn sync(&mut self) -> Result<(), RamError> {
            Ok(())
        }
    }
}
