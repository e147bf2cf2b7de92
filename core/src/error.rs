//! Errors: values, generic over the device's own error.

use core::fmt;

/// What was found wrong on the media. Carries the block it was found in
/// (`u32::MAX` when no single block is to blame) and a static description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Corruption {
    /// The block the damage was found in, or `u32::MAX`.
    pub block: u32,
    /// What is wrong.
    pub what: &'static str,
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.block == u32::MAX {
            write!(f, "{}", self.what)
        } else {
            write!(f, "{} (block {})", self.what, self.block)
        }
    }
}

/// Everything an operation on a store can fail with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error<E> {
    /// The device failed; the device's own error.
    Device(E),
    /// The media holds something cairn did not write, or bits have rotted.
    /// Never caused by a power cut.
    Corrupted(Corruption),
    /// No free space is left for this write. The store stays readable and
    /// deletes still succeed.
    Full,
    /// The key or value is longer than the configured maximum, or a batch
    /// does not fit in one log block.
    TooLarge,
    /// Keys are 1 or more bytes long.
    EmptyKey,
    /// The device holds no cairn store.
    NotFormatted,
    /// The device holds a cairn store of another on-media format version,
    /// which this build cannot read. Nothing was changed.
    UnsupportedVersion {
        /// The format version found on the device.
        found: u16,
    },
    /// The configuration or the device's geometry cannot be used.
    InvalidConfig(&'static str),
    /// An earlier `sync` failed, so nothing written since can be trusted to
    /// be durable: this handle refuses further writes. Reopen the store.
    Poisoned,
    /// A list the store keeps in the memory handed to it at open is full:
    /// the memory is too small for the store's configuration and geometry
    /// (see `Db::memory_needed`). Nothing was changed.
    OutOfMemory,
    /// The caller's buffer is too small; the value is `needed` bytes.
    BufferTooSmall {
        /// Length of the value.
        needed: usize,
    },
}

impl<E> From<crate::list::Overflow> for Error<E> {
    fn from(_: crate::list::Overflow) -> Self {
        Error::OutOfMemory
    }
}

impl<E> Error<E> {
    #[cfg_attr(not(feature = "alloc"), allow(dead_code))]
    pub(crate) fn corrupted(block: u32, what: &'static str) -> Self {
        Error::Corrupted(Corruption { block, what })
    }
}

impl<E: fmt::Debug> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Device(e) => write!(f, "device error: {e:?}"),
            Error::Corrupted(c) => write!(f, "store is corrupted: {c}"),
            Error::Full => write!(f, "store is full"),
            Error::TooLarge => write!(f, "key, value or batch too large"),
            Error::EmptyKey => write!(f, "keys must not be empty"),
            Error::NotFormatted => write!(f, "device holds no cairn store"),
            Error::UnsupportedVersion { found } => write!(
                f,
                "device holds a cairn store of format version {found}; this build reads version {}",
                crate::format::FORMAT_VERSION
            ),
            Error::InvalidConfig(why) => write!(f, "invalid configuration: {why}"),
            Error::Poisoned => write!(f, "a sync failed earlier; reopen the store"),
            Error::OutOfMemory => {
                write!(f, "the store's memory is too small for its configuration")
            }
            Error::BufferTooSmall { needed } => {
                write!(f, "buffer too small: value is {needed} bytes")
            }
        }
    }
}

#[cfg(feature = "std")]
impl<E: fmt::Debug> std::error::Error for Error<E> {}
