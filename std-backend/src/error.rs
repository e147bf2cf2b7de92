//! The error of [`crate::Db`].

use std::fmt;
use std::io;
use std::path::PathBuf;

/// The error of the engine running over a [`crate::FileDevice`].
pub type StoreError = cairn_core::Error<io::Error>;

/// Everything a [`crate::Db`] operation can fail with.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Another handle, in this process or another, has the store open.
    Locked {
        /// The store's file.
        path: PathBuf,
    },
    /// Opening or creating the store's file failed (it does not exist and
    /// [`crate::Options::create_if_missing`] is off, a permission is
    /// missing, the options do not fit the file, ...).
    Io {
        /// The file the error concerns.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// The file is not empty but holds no cairn store of the configured
    /// geometry: it is some other file, or a store created with a different
    /// block size or capacity (see [`crate::Options`]). The file is left as
    /// it was.
    NotAStore {
        /// The file.
        path: PathBuf,
    },
    /// The engine failed: the store is corrupted or full, a key or value is
    /// too large, a write to the file failed, and so on.
    Store(StoreError),
    /// A thread panicked while it was using the store, so its state in memory
    /// can no longer be trusted. Drop every handle and open the store again.
    Panicked,
}

impl Error {
    /// The engine's error, if this is one.
    pub fn store_error(&self) -> Option<&StoreError> {
        match self {
            Error::Store(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Locked { path } => write!(
                f,
                "{}: store is locked by another process or handle",
                path.display()
            ),
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::NotAStore { path } => write!(
                f,
                "{}: not a cairn store, or one created with a different block size or capacity",
                path.display()
            ),
            Error::Store(cairn_core::Error::Device(e)) => write!(f, "I/O error: {e}"),
            Error::Store(e) => write!(f, "{e}"),
            Error::Panicked => write!(
                f,
                "a thread panicked while using the store; drop every handle and reopen it"
            ),
        }
    }
}

/// The messages are complete on their own; [`source`](std::error::Error::source)
/// gives the underlying [`io::Error`] where there is one.
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Store(cairn_core::Error::Device(e)) => Some(e),
            _ => None,
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(e)
    }
}
