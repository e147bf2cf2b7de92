//! cairn-flash: cairn on raw NOR flash.
//!
//! [`NorFlashDevice`] turns any flash that implements the blocking
//! [`embedded_storage::nor_flash::NorFlash`] trait (a microcontroller's
//! internal flash, an external SPI NOR chip, a test double) into a
//! [`cairn_core::BlockDevice`], over the whole chip or over a partition of
//! it: an address range aligned to the erase unit.
//!
//! The geometry is the flash's own:
//!
//! | `Geometry` field | value |
//! |---|---|
//! | `block_size` | `F::ERASE_SIZE` (1 KiB to 128 KiB and beyond; a power of two of at least 1 KiB) |
//! | `read_size` | `F::READ_SIZE` |
//! | `program_size` | `F::WRITE_SIZE` |
//! | `block_count` | partition length / `F::ERASE_SIZE` |
//!
//! cairn programs every word at most once between two erases, so a plain
//! [`NorFlash`] is enough; `MultiwriteNorFlash` is never needed. Shapes cairn
//! cannot use (an erase unit below 1 KiB or not a power of two, read or
//! write units above 256 bytes) are refused at compile time.
//!
//! ```
//! # use embedded_storage::nor_flash::{ErrorType, NorFlash, NorFlashErrorKind, ReadNorFlash};
//! # struct Chip([u8; 64 * 1024]);
//! # impl ErrorType for Chip { type Error = NorFlashErrorKind; }
//! # impl ReadNorFlash for Chip {
//! #     const READ_SIZE: usize = 1;
//! #     fn read(&mut self, off: u32, buf: &mut [u8]) -> Result<(), NorFlashErrorKind> {
//! #         buf.copy_from_slice(&self.0[off as usize..off as usize + buf.len()]);
//! #         Ok(())
//! #     }
//! #     fn capacity(&self) -> usize { self.0.len() }
//! # }
//! # impl NorFlash for Chip {
//! #     const WRITE_SIZE: usize = 4;
//! #     const ERASE_SIZE: usize = 4096;
//! #     fn erase(&mut self, from: u32, to: u32) -> Result<(), NorFlashErrorKind> {
//! #         self.0[from as usize..to as usize].fill(0xFF);
//! #         Ok(())
//! #     }
//! #     fn write(&mut self, off: u32, data: &[u8]) -> Result<(), NorFlashErrorKind> {
//! #         for (b, d) in self.0[off as usize..].iter_mut().zip(data) { *b &= *d; }
//! #         Ok(())
//! #     }
//! # }
//! # let chip = Chip([0xFF; 64 * 1024]);
//! use cairn_core::{BlockDevice, Config, Db, Memory};
//! use cairn_flash::NorFlashDevice;
//!
//! // The upper 48 KiB of a 64 KiB chip with 4 KiB sectors: 12 blocks.
//! let dev = NorFlashDevice::partition(chip, 16 * 1024, 48 * 1024).unwrap();
//! assert_eq!(dev.geometry().block_count, 12);
//! let cfg = Config { memtable_bytes: 2048, max_key_len: 64, ..Config::DEFAULT };
//! // No heap: the store lives in a buffer of the size its configuration
//! // needs (on a microcontroller a `static`; see docs/embedded.md).
//! let need = cfg.memory_needed(&dev.geometry());
//! let mut memory = Memory::new(Box::leak(vec![0u8; need].into_boxed_slice()));
//! let mut db = Db::open_or_format_in(dev, cfg, &mut memory).unwrap();
//! db.put(b"boot-count", b"1").unwrap();
//! ```
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

use core::fmt;

use cairn_core::{BlockDevice, Geometry};
use embedded_storage::nor_flash::NorFlash;

/// Why a [`NorFlashDevice`] operation or constructor failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum FlashError<E> {
    /// The flash itself failed; its own error.
    Flash(E),
    /// A partition's start or length is not a multiple of the erase unit,
    /// or a read or program is not aligned to the flash's read or write
    /// unit.
    Misaligned,
    /// A partition is empty or reaches past the end of the flash (or past
    /// the 4 GiB that `embedded-storage`'s `u32` addresses reach), or an
    /// access lies outside the partition.
    OutOfRange,
}

impl<E: fmt::Debug> fmt::Display for FlashError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlashError::Flash(e) => write!(f, "flash error: {e:?}"),
            FlashError::Misaligned => write!(f, "address or length not aligned to the flash"),
            FlashError::OutOfRange => write!(f, "address range outside the flash or partition"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for FlashError<E> {}

/// A flash that could not be made into a [`NorFlashDevice`], handed back
/// with the reason.
pub struct Rejected<F: NorFlash> {
    /// The flash, unchanged.
    pub flash: F,
    /// Why it was refused.
    pub error: FlashError<F::Error>,
}

impl<F: NorFlash> fmt::Debug for Rejected<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejected")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<F: NorFlash> fmt::Display for Rejected<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flash rejected: {}", self.error)
    }
}

/// A [`BlockDevice`] over a NOR flash, or over an aligned address range of
/// one. Block `b` of the device is the erase unit at flash address
/// `start + b * F::ERASE_SIZE`; nothing outside `[start, start + len)` is
/// ever read, programmed or erased.
///
/// Pass `&mut flash` instead of `flash` to keep the flash (`NorFlash` is
/// implemented for mutable references), for instance to put two
/// partitions on one chip in turn.
///
/// A flash whose shape cairn cannot use does not compile; here, 512-byte
/// erase units:
///
/// ```compile_fail
/// # use embedded_storage::nor_flash::{ErrorType, NorFlash, NorFlashErrorKind, ReadNorFlash};
/// struct Small;
/// # impl ErrorType for Small { type Error = NorFlashErrorKind; }
/// # impl ReadNorFlash for Small {
/// #     const READ_SIZE: usize = 1;
/// #     fn read(&mut self, _: u32, _: &mut [u8]) -> Result<(), NorFlashErrorKind> { Ok(()) }
/// #     fn capacity(&self) -> usize { 64 * 512 }
/// # }
/// impl NorFlash for Small {
///     const WRITE_SIZE: usize = 4;
///     const ERASE_SIZE: usize = 512;
///     // ...
/// #     fn erase(&mut self, _: u32, _: u32) -> Result<(), NorFlashErrorKind> { Ok(()) }
/// #     fn write(&mut self, _: u32, _: &[u8]) -> Result<(), NorFlashErrorKind> { Ok(()) }
/// }
/// let dev = cairn_flash::NorFlashDevice::new(Small);
/// ```
pub struct NorFlashDevice<F> {
    flash: F,
    start: u32,
    block_count: u32,
}

impl<F: NorFlash> NorFlashDevice<F> {
    /// Refuses, at compile time, flash shapes cairn cannot use.
    const SHAPE_OK: () = {
        assert!(
            F::ERASE_SIZE.is_power_of_two() && F::ERASE_SIZE >= 1024,
            "cairn needs an erase unit that is a power of two of at least 1 KiB"
        );
        assert!(
            F::ERASE_SIZE <= 1 << 31,
            "cairn needs an erase unit of at most 2 GiB"
        );
        assert!(
            F::READ_SIZE.is_power_of_two() && F::READ_SIZE <= 256,
            "cairn needs a read unit that is a power of two of at most 256 bytes"
        );
        assert!(
            F::WRITE_SIZE.is_power_of_two() && F::WRITE_SIZE <= 256,
            "cairn needs a write unit that is a power of two of at most 256 bytes"
        );
    };

    /// The whole flash. If the flash is 4 GiB large, its last erase unit is
    /// left out: `embedded-storage` addresses are `u32`.
    pub fn new(flash: F) -> Result<Self, Rejected<F>> {
        let erase = F::ERASE_SIZE as u64;
        let usable = (flash.capacity() as u64).min(u32::MAX as u64);
        let len = usable / erase * erase;
        // `len` < 2^32 by construction.
        Self::partition(flash, 0, len as u32)
    }

    /// The partition `[start, start + len)` of the flash. Both must be
    /// multiples of `F::ERASE_SIZE` ([`FlashError::Misaligned`]), and the
    /// range must be non-empty and inside the flash
    /// ([`FlashError::OutOfRange`]).
    pub fn partition(flash: F, start: u32, len: u32) -> Result<Self, Rejected<F>> {
        let () = Self::SHAPE_OK;
        let erase = F::ERASE_SIZE as u64;
        let (start64, len64) = (start as u64, len as u64);
        let error = if start64 % erase != 0 || len64 % erase != 0 {
            Some(FlashError::Misaligned)
        } else if len == 0
            || start64 + len64 > flash.capacity() as u64
            || start64 + len64 > u32::MAX as u64
        {
            Some(FlashError::OutOfRange)
        } else {
            None
        };
        match error {
            Some(error) => Err(Rejected { flash, error }),
            None => Ok(NorFlashDevice {
                flash,
                start,
                block_count: (len64 / erase) as u32,
            }),
        }
    }

    /// Flash address of the partition's first byte.
    pub fn start(&self) -> u32 {
        self.start
    }

    /// Length of the partition in bytes.
    pub fn len(&self) -> u32 {
        self.block_count * F::ERASE_SIZE as u32
    }

    /// Whether the partition is empty; never true, a partition is at least
    /// one erase unit long.
    pub fn is_empty(&self) -> bool {
        self.block_count == 0
    }

    /// Flash address of the first byte of `block`, if the partition has
    /// that block.
    pub fn block_address(&self, block: u32) -> Option<u32> {
        (block < self.block_count).then(|| self.start + block * F::ERASE_SIZE as u32)
    }

    /// The flash.
    pub fn flash(&self) -> &F {
        &self.flash
    }

    /// The flash, mutably. Writing inside the partition behind a store's
    /// back voids its guarantees; outside it is harmless.
    pub fn flash_mut(&mut self) -> &mut F {
        &mut self.flash
    }

    /// Hands the flash back.
    pub fn into_inner(self) -> F {
        self.flash
    }

    /// The flash address of `len` bytes at `offset` in `block`, checked to
    /// lie inside that block and aligned to `unit`.
    fn address(
        &self,
        block: u32,
        offset: u32,
        len: usize,
        unit: usize,
    ) -> Result<u32, FlashError<F::Error>> {
        let erase = F::ERASE_SIZE as u64;
        if block >= self.block_count || offset as u64 + len as u64 > erase {
            return Err(FlashError::OutOfRange);
        }
        if offset as usize % unit != 0 || len % unit != 0 {
            return Err(FlashError::Misaligned);
        }
        // Inside the partition, which ends at or below u32::MAX.
        Ok((self.start as u64 + block as u64 * erase + offset as u64) as u32)
    }
}

impl<F: NorFlash> BlockDevice for NorFlashDevice<F> {
    type Error = FlashError<F::Error>;

    fn geometry(&self) -> Geometry {
        Geometry {
            block_size: F::ERASE_SIZE as u32,
            block_count: self.block_count,
            read_size: F::READ_SIZE as u32,
            program_size: F::WRITE_SIZE as u32,
        }
    }

    fn read(&mut self, block: u32, offset: u32, buf: &mut [u8]) -> Result<(), Self::Error> {
        let addr = self.address(block, offset, buf.len(), F::READ_SIZE)?;
        self.flash.read(addr, buf).map_err(FlashError::Flash)
    }

    fn program(&mut self, block: u32, offset: u32, data: &[u8]) -> Result<(), Self::Error> {
        let addr = self.address(block, offset, data.len(), F::WRITE_SIZE)?;
        self.flash.write(addr, data).map_err(FlashError::Flash)
    }

    fn erase(&mut self, block: u32) -> Result<(), Self::Error> {
        let from = self.address(block, 0, 0, 1)?;
        // The partition ends at or below u32::MAX, so `to` fits.
        let to = from + F::ERASE_SIZE as u32;
        self.flash.erase(from, to).map_err(FlashError::Flash)
    }

    /// A no-op: NOR flash has no volatile write cache. A program or erase
    /// is on the media once the `NorFlash` call returns (drivers that
    /// buffer must flush before returning, as the trait's power-loss
    /// contract demands).
    fn sync(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}
