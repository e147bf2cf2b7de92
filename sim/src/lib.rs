//! cairn-sim: the power-loss simulator of cairn.
//!
//! cairn promises that after a crash at any instant, reopening a store gives
//! exactly the state after some prefix of the operations issued to it, that
//! this prefix contains every operation that returned `Ok`, that no batch is
//! half applied, and that opening never fails because of a crash. This crate
//! checks that promise by machine:
//!
//! - [`NorSim`]: a simulated NOR flash. Erase sets bytes to `0xFF`,
//!   programming ANDs bits, a word programmed twice between erases and every
//!   misaligned access is recorded as a violation. A power cut can be armed
//!   at the k-th program or erase; the interrupted program leaves its words
//!   undefined, an interrupted erase leaves its whole block undefined.
//! - [`FileSim`]: a simulated file with a volatile cache. At a crash, every
//!   write since the last `sync` is independently kept, dropped or torn at
//!   512-byte sector granularity, and what is kept reaches the media in any
//!   order.
//! - [`Oracle`]: a model of the operations issued and acknowledged, which
//!   decides whether a recovered state is allowed.
//! - [`sweep`]: cut the power at every mutating device operation of a
//!   workload, recover, and check the recovered store against the oracle.
//! - [`simulate`]: long seeded random runs with many crashes and reboots,
//!   replayable from their seed.
//!
//! Both devices are cheap handles around shared state (`Rc<RefCell<..>>`):
//! the harness keeps one clone while a [`cairn_core::Db`] owns another, so
//! the media survives the store that was using it, as flash survives the
//! firmware that crashed.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod file;
pub mod nor;
pub mod oracle;
pub mod simulate;
pub mod sweep;
pub mod workload;

mod rng;

use core::fmt;

pub use file::{EraseFill, FileSim};
pub use nor::NorSim;
pub use oracle::{Model, Op, Oracle};

/// The kind of device access, for error reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `BlockDevice::read`.
    Read,
    /// `BlockDevice::program`.
    Program,
    /// `BlockDevice::erase`.
    Erase,
    /// `BlockDevice::sync`.
    Sync,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::Read => "read",
            Access::Program => "program",
            Access::Erase => "erase",
            Access::Sync => "sync",
        })
    }
}

/// Why a simulated device refused an operation.
///
/// Every variant but [`SimError::PowerLost`] and [`SimError::Io`] is a
/// breach of the device contract by the engine, and is also recorded in the
/// device's list of violations (see [`SimDevice::violations`]), so a
/// harness notices it even when the engine swallowed the error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimError {
    /// The power was cut; every operation fails until the device is
    /// rebooted.
    PowerLost,
    /// An injected I/O error: the operation failed and left what a power
    /// cut would have left, but the power is still on and later operations
    /// work.
    Io,
    /// A word (on a file device, a byte) was programmed although it was not
    /// erased: it had been programmed since the last erase of its block, or
    /// an interrupted program or erase had left it undefined.
    ProgrammedTwice {
        /// Block of the offending word.
        block: u32,
        /// Byte offset of the offending word within its block.
        offset: u32,
    },
    /// An access not aligned to the device's read or program unit.
    Misaligned {
        /// What was attempted.
        access: Access,
        /// Block addressed.
        block: u32,
        /// Byte offset within the block.
        offset: u32,
        /// Length of the access in bytes.
        len: u32,
    },
    /// An access past the end of a block or of the device.
    OutOfRange {
        /// What was attempted.
        access: Access,
        /// Block addressed.
        block: u32,
        /// Byte offset within the block.
        offset: u32,
        /// Length of the access in bytes.
        len: u32,
    },
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::PowerLost => write!(f, "power lost"),
            SimError::Io => write!(f, "I/O error"),
            SimError::ProgrammedTwice { block, offset } => write!(
                f,
                "programmed a word that was not erased: block {block} offset {offset}"
            ),
            SimError::Misaligned {
                access,
                block,
                offset,
                len,
            } => write!(
                f,
                "misaligned {access}: block {block} offset {offset} len {len}"
            ),
            SimError::OutOfRange {
                access,
                block,
                offset,
                len,
            } => write!(
                f,
                "{access} out of range: block {block} offset {offset} len {len}"
            ),
        }
    }
}

impl std::error::Error for SimError {}

/// Operation and byte counts of a simulated device, since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Successful reads.
    pub reads: u64,
    /// Programs started (an interrupted program counts).
    pub programs: u64,
    /// Erases started (an interrupted erase counts).
    pub erases: u64,
    /// Syncs started (an interrupted sync counts).
    pub syncs: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Bytes handed to programs.
    pub bytes_programmed: u64,
    /// Mutating operations started: the ones a power cut can interrupt
    /// (programs and erases; on a file device syncs too).
    pub mutations: u64,
    /// Power losses: armed cuts that fired plus explicit crashes.
    pub power_losses: u64,
    /// Injected I/O errors that fired.
    pub io_errors: u64,
}

/// What the crash harness needs of a simulated device, beyond the
/// [`cairn_core::BlockDevice`] contract.
///
/// Implementors are cheap handles to shared state: a clone refers to the
/// same media. Power cuts are counted in mutating operations (see
/// [`Counters::mutations`]).
pub trait SimDevice: cairn_core::BlockDevice<Error = SimError> + Clone {
    /// Short name of the device kind (`"nor"`, `"file"`).
    fn kind(&self) -> &'static str;
    /// Arms a power cut at the `k`-th mutating operation from now, counting
    /// from 0: `cut_at(0)` interrupts the very next program or erase (or, on
    /// a file device, sync). Replaces any cut armed before.
    fn cut_at(&self, k: u64);
    /// Arms an I/O error instead of a power cut: the `k`-th mutating
    /// operation from now fails with [`SimError::Io`], leaving the media as
    /// a cut there would, but the power stays on. Replaces any armed cut.
    fn fail_at(&self, k: u64);
    /// The operation the last injected I/O error failed, if any fired.
    fn last_io_error(&self) -> Option<Access>;
    /// Removes an armed cut or I/O error that has not fired.
    fn disarm(&self);
    /// Whether an armed cut is still waiting to fire.
    fn cut_pending(&self) -> bool;
    /// Loses power now, between operations: no operation is interrupted,
    /// but a volatile cache is lost as at any crash. Every operation fails
    /// with [`SimError::PowerLost`] until [`SimDevice::reboot`].
    fn crash(&self);
    /// Restores power after a cut or crash. The media keeps whatever the
    /// power loss left on it.
    fn reboot(&self);
    /// Whether the device has power.
    fn powered(&self) -> bool;
    /// Operation counts so far.
    fn counters(&self) -> Counters;
    /// Every breach of the device contract seen so far.
    fn violations(&self) -> Vec<SimError>;
    /// A deep copy with independent state: same media, counters, armed cut
    /// and power state, and a random generator reseeded from `seed`.
    fn snapshot(&self, seed: u64) -> Self;
}
