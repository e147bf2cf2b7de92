//! cairn on std: a [`FileDevice`] that stores a cairn store in one file, and
//! [`Db`], a handle on such a store that threads share.
//!
//! ```
//! # fn main() -> Result<(), cairn_std::Error> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("app.cairn");
//! let db = cairn_std::Db::open(&path)?;
//! db.put("greeting", "hello")?;
//! assert_eq!(db.get("greeting")?.as_deref(), Some(&b"hello"[..]));
//! # Ok(())
//! # }
//! ```
//!
//! [`Db::open`] uses [`Options::default`]; [`Db::open_with`] takes
//! [`Options`] to change the file's geometry or tune the engine. To drive the
//! engine directly, open a [`FileDevice`] and hand it to
//! [`cairn_core::Db`].
//!
//! Linux is the primary platform: there, an erased block that stays mostly
//! unwritten until the next sync becomes a hole in the file, and the file is
//! locked with `flock` against a second opener. Other Unix systems lock the
//! same way and erase by writing zeros; on other platforms the file is not
//! locked.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod db;
mod device;
mod error;
mod options;

/// The engine, re-exported: its error variants and types appear in this
/// crate's API.
pub use cairn_core;
pub use cairn_core::{Allocation, Batch, CheckReport, Config, Stats};
pub use db::{Db, Range};
pub use device::{FileDevice, DEFAULT_BLOCK_SIZE, DEFAULT_CAPACITY};
pub use error::{Error, StoreError};
pub use options::{Options, DEFAULT_CACHE_BYTES, DEFAULT_MEMTABLE_BYTES};
