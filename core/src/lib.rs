//! cairn-core: the storage engine of cairn, an embedded key-value store
//! that runs on raw NOR flash, on a file, and in a browser, and never loses
//! an acknowledged write when the power is cut.
//!
//! The engine is a log-structured merge tree laid over a [`BlockDevice`]:
//! writes go to a write-ahead log and a sorted in-memory table; full
//! memtables are flushed into sorted tables, one erase block each, which
//! compaction merges level by level. A manifest, committed copy-on-write
//! into rotating metadata blocks, names the live tables.
//!
//! ```
//! use cairn_core::{Config, Db, device::RamDevice};
//! use core::ops::Bound;
//!
//! let mut db = Db::format(RamDevice::new(4096, 64, 4), Config::default()).unwrap();
//! db.put(b"apple", b"red").unwrap();
//! db.put(b"banana", b"yellow").unwrap();
//! db.put(b"cherry", b"dark red").unwrap();
//! let fruit: Vec<_> = db
//!     .range(Bound::Included(&b"b"[..]), Bound::Unbounded)
//!     .map(|r| r.unwrap().0)
//!     .collect();
//! assert_eq!(fruit, [b"banana".to_vec(), b"cherry".to_vec()]);
//! ```
//!
//! Without a heap, a store lives in a buffer handed to it, of
//! [`Config::memory_needed`] bytes: see [`Db::format_in`] and [`Memory`].
//!
//! Features: `alloc` (stores whose lists grow on the heap: `Db::format`,
//! `Db::open`, `Batch`, `Range`), `std` (implies `alloc`), `defmt`
//! (error types for firmware logging), `log`. With none, the core needs no
//! allocator.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod device;
pub mod error;
pub mod format;
mod io;
mod list;

mod cache;
mod db;
mod levels;
mod logging;
mod manifest;
mod memtable;
mod sizes;
mod table;

pub use db::{Allocation, CheckReport, Config, Db, Stats};
#[cfg(feature = "alloc")]
pub use db::{Batch, Range};
#[cfg(feature = "alloc")]
pub use device::RamDevice;
pub use device::{BlockDevice, Geometry};
pub use error::{Corruption, Error};
pub use list::Memory;
pub use manifest::LEVELS;
