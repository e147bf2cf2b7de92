//! The CPU cost of cairn's read path, without a disk: a store of 200,000
//! keys (16 bytes) with 100-byte values in a `RamDevice` with a block
//! cache, then 200,000 random lookups and 50,000 seeks that read 10
//! entries each. Prints the best of `REPS` rounds (default 7). `KEYS`
//! changes the number of keys (and lookups), `MEMTABLE_MIB` the memtable
//! (default 1 MiB; cairn-std's default is 16), `CACHE_MIB` the block cache
//! (default 64) and `DATA_BLOCK` the data block size (default 4096).
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

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Key `i` of a fixed pseudo-random order of `keys` keys, as 16 decimal
/// digits.
fn key(i: u64, keys: u64) -> [u8; 16] {
    let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % keys;
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
        memtable_bytes: (env("MEMTABLE_MIB", 1) << 20) as usize,
        cache_bytes: (env("CACHE_MIB", 64) << 20) as usize,
        data_block_bytes: env("DATA_BLOCK", 4096) as u32,
        max_key_len: 64,
        ..Config::default()
    };
    let keys = env("KEYS", 200_000);
    let blocks = (keys / 400 + 64).max(512) as u32;
    let mut db = Db::format(RamDevice::new(256 * 1024, blocks, 4), cfg).unwrap();
    let value = [7u8; 100];
    for i in 0..keys {
        db.put(&key(i, keys), &value).unwrap();
    }
    let reps = env("REPS", 7);
    let mut buf = [0u8; 128];
    let (mut get, mut seek) = (f64::MAX, f64::MAX);
    for _ in 0..reps {
        let t = Instant::now();
        for i in 0..keys {
            db.get(&key(i * 7 + 3, keys), &mut buf).unwrap();
        }
        get = get.min(t.elapsed().as_secs_f64() / keys as f64);
        let t = Instant::now();
        for i in 0..keys / 4 {
            let k = key(i * 13 + 5, keys);
            let mut n = 0;
            db.scan(Bound::Included(&k[..]), Bound::Unbounded, |_, _| {
                n += 1;
                n < 10
            })
            .unwrap();
        }
        seek = seek.min(t.elapsed().as_secs_f64() / (keys / 4) as f64);
    }
    println!(
        "get: {:.0} ns, seek and read 10: {:.0} ns (best of {reps})",
        get * 1e9,
        seek * 1e9
    );
}
