//! The core's one logging path: `log` on std, `defmt` on firmware, nothing
//! otherwise. Messages take only integer arguments so that both back ends
//! format them.

macro_rules! debug {
    ($($arg:tt)*) => {{
        #[cfg(feature = "log")]
        { ::log::debug!($($arg)*); }
        #[cfg(all(feature = "defmt", not(feature = "log")))]
        { ::defmt::debug!($($arg)*); }
        #[cfg(not(any(feature = "log", feature = "defmt")))]
        { let _ = || ($($arg)*); }
    }};
}

macro_rules! log_warn {
    ($($arg:tt)*) => {{
        #[cfg(feature = "log")]
        { ::log::warn!($($arg)*); }
        #[cfg(all(feature = "defmt", not(feature = "log")))]
        { ::defmt::warn!($($arg)*); }
        #[cfg(not(any(feature = "log", feature = "defmt")))]
        { let _ = || ($($arg)*); }
    }};
}

pub(crate) use {debug, log_warn};
