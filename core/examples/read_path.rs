//! The CPU cost of cairn's read path, without a disk: a store of 200,000
//! keys (16 bytes) with 100-byte values in a `RamDevice` with a block
//! cache, then 200,000 random lookups and 50,000 seeks that read 10
//! entries each. Prints the best of `REPS` rounds (default 7).
//!
//! ```text
//! cargo run --release -p cairn-core --features std --example read_path
//! ```
//!
//! Instruction counts, steadier than time on a shared machine:
//!
//! ```text
//! REPS=1 valgrind --tool=callgrind --toggle-collect='*Db*get*' \
//!     target/release/examples/read_path
//! ```

use std::ops::Bound;
use std::time::Instant;

use cairn_core::{Config, Db, RamDevice};

const KEYS: u64 = 200_000;

/// Key `i` of a fixed pseudo-random order, as 16 decimal digits.
fn key(i: u64) -> [u8; 16] {
    let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % KEYS;
    let mut k = [0u8; 16];
    let mut n = x;
    for b in k.iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
    k
}

fn main() {
    let cfg = Config {
        sync_writes: false,
        memtable_bytes: 1 << 20,
        cache_bytes: 64 << 20,
        max_key_len: 64,
        ..Config::default()
    };
    let mut db = Db::format(RamDevice::new(256 * 1024, 512, 4), cfg).unwrap();
    let value = [7u8; 100];
    for i in 0..KEYS {
        db.put(&key(i), &value).unwrap();
    }
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let mut buf = [0u8; 128];
    let (mut get, mut seek) = (f64::MAX, f64::MAX);
    for _ in 0..reps {
        let t = Instant::now();
        for i in 0..KEYS {
            db.get(&key(i * 7 + 3), &mut buf).unwrap();
        }
        get = get.min(t.elapsed().as_secs_f64() / KEYS as f64);
        let t = Instant::now();
        for i in 0..KEYS / 4 {
            let k = key(i * 13 + 5);
            let mut n = 0;
            db.scan(Bound::Included(&k[..]), Bound::Unbounded, |_, _| {
                n += 1;
                n < 10
            })
            .unwrap();
        }
        seek = seek.min(t.elapsed().as_secs_f64() / (KEYS / 4) as f64);
    }
    println!(
        "get: {:.0} ns, seek and read 10: {:.0} ns (best of {reps})",
        get * 1e9,
        seek * 1e9
    );
}
