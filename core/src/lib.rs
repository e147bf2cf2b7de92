//! cairn-core: the storage engine of cairn.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod device;
pub mod error;

pub use device::{BlockDevice, Geometry};
pub use error::{Corruption, Error};
