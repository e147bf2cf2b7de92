//! A full device, damaged media and foreign images: clear errors, never a
//! panic, and nothing acknowledged lost.

use std::ops::Bound;

use cairn_core::device::RamError;
use cairn_core::{BlockDevice, Config, Db, Error, Memory, RamDevice};
use proptest::prelude::*;

fn small() -> Config {
    Config {
        memtable_bytes: 2048,
        max_key_len: 64,
        ..Config::default()
    }
}

#[test]
fn full_device_stays_readable_and_deletes_succeed() {
    let mut db = Db::format(RamDevice::new(4096, 24, 4), small()).unwrap();
    let mut written = Vec::new();
    let mut full = false;
    for i in 0..100_000u32 {
        let k = format!("key{i:08}");
        match db.put(k.as_bytes(), &[i as u8; 100]) {
            Ok(()) => written.push(k),
            Err(Error::Full) => {
                full = true;
                break;
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert!(full, "a 96 KiB device must fill up");
    // Every acknowledged write is readable.
    for k in &written {
        assert!(db.get_vec(k.as_bytes()).unwrap().is_some(), "{k} lost");
    }
    // Puts keep failing cleanly, deletes succeed.
    assert_eq!(db.put(b"one-more", b"x"), Err(Error::Full));
    for k in written.iter().take(written.len() / 2) {
        db.delete(k.as_bytes()).unwrap();
    }
    db.compact().unwrap();
    // Space came back: new writes succeed.
    db.put(b"after-delete", b"fits again").unwrap();
    let dev = db.into_device();
    let mut db = Db::open(dev, small()).unwrap();
    assert_eq!(db.get_vec(b"after-delete").unwrap().unwrap(), b"fits again");
    for (i, k) in written.iter().enumerate() {
        let present = db.get_vec(k.as_bytes()).unwrap().is_some();
        assert_eq!(present, i >= written.len() / 2, "{k}");
    }
    assert!(db.check().unwrap().is_ok());
}

#[test]
fn oversized_keys_and_values_are_refused() {
    let mut db = Db::format(RamDevice::new(4096, 16, 4), small()).unwrap();
    assert_eq!(db.put(b"", b"v"), Err(Error::EmptyKey));
    assert_eq!(db.put(&[b'k'; 65], b"v"), Err(Error::TooLarge));
    let max = db.max_value_len();
    assert_eq!(db.put(b"k", &vec![0; max + 1]), Err(Error::TooLarge));
    db.put(b"k", &vec![7; max]).unwrap();
    assert_eq!(db.get_vec(b"k").unwrap().unwrap().len(), max);
    let mut small_buf = [0u8; 4];
    assert_eq!(
        db.get(b"k", &mut small_buf),
        Err(Error::BufferTooSmall { needed: max })
    );
}

#[test]
fn large_values_span_data_blocks_on_std_geometry() {
    let cfg = Config {
        memtable_bytes: 256 << 10,
        ..Config::default()
    };
    let mut db = Db::format(RamDevice::new(256 << 10, 16, 1), cfg.clone()).unwrap();
    assert!(db.max_value_len() >= 65536);
    let big: Vec<u8> = (0..65536u32).map(|i| (i * 31) as u8).collect();
    for i in 0..6u8 {
        db.put(&[b'v', i], &big).unwrap();
    }
    db.flush().unwrap();
    let mut db = Db::open(db.into_device(), cfg).unwrap();
    for i in 0..6u8 {
        assert_eq!(db.get_vec(&[b'v', i]).unwrap().unwrap(), big);
    }
    assert!(db.check().unwrap().is_ok());
}

fn populated() -> RamDevice {
    let mut db = Db::format(RamDevice::new(4096, 32, 4), small()).unwrap();
    for i in 0..400u32 {
        db.put(format!("k{i:05}").as_bytes(), &[i as u8; 30])
            .unwrap();
    }
    db.into_device()
}

/// Copies `image` into a fresh device, bypassing NOR rules.
fn device_from(image: &[u8]) -> RamDevice {
    let mut dev = RamDevice::new(4096, 32, 4);
    for b in 0..32u32 {
        dev.erase(b).unwrap();
        let chunk = &image[b as usize * 4096..(b as usize + 1) * 4096];
        dev.program(b, 0, chunk).unwrap();
    }
    dev
}

/// Opens the store on `dev` on the heap, or in fixed memory.
fn open(dev: RamDevice, fixed: bool) -> Result<Db<RamDevice>, Error<RamError>> {
    if fixed {
        let need = small().memory_needed(&dev.geometry());
        let mut memory = Memory::new(Box::leak(vec![0u8; need].into_boxed_slice()));
        Db::open_in(dev, small(), &mut memory)
    } else {
        Db::open(dev, small())
    }
}

#[test]
fn flipped_bits_in_tables_are_reported_not_panicked() {
    for fixed in [false, true] {
        flipped_bits_are_reported(fixed);
    }
}

fn flipped_bits_are_reported(fixed: bool) {
    let image = populated().image().to_vec();
    let mut found_damage = 0;
    for pos in (0..image.len()).step_by(97) {
        let mut img = image.clone();
        img[pos] ^= 0x04;
        let dev = device_from(&img);
        match open(dev, fixed) {
            Ok(mut db) => {
                let report = db.check().unwrap();
                let mut all_ok = true;
                let r = db.scan(Bound::Unbounded, Bound::Unbounded, |_, _| true);
                if let Err(e) = r {
                    assert!(matches!(e, Error::Corrupted(_)), "{e:?}");
                    all_ok = false;
                }
                if !report.is_ok() || !all_ok {
                    found_damage += 1;
                }
            }
            Err(Error::Corrupted(_)) | Err(Error::NotFormatted) => found_damage += 1,
            Err(e) => panic!("flip at {pos} (fixed memory: {fixed}): unexpected {e:?}"),
        }
    }
    assert!(found_damage > 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Garbage images mount to `Ok`, `NotFormatted` or `Corrupted`, never a
    /// panic, and whatever mounts can be read and checked.
    #[test]
    fn garbage_images_never_panic(seed in any::<u64>(), density in 0u8..4, fixed in any::<bool>()) {
        let base = populated().image().to_vec();
        let mut img = base.clone();
        let mut x = seed | 1;
        let flips = [16usize, 256, 4096, 65536][density as usize];
        for _ in 0..flips {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            let p = (x as usize) % img.len();
            img[p] = (x >> 32) as u8;
        }
        match open(device_from(&img), fixed) {
            Ok(mut db) => {
                let _ = db.check().unwrap();
                let _ = db.scan(Bound::Unbounded, Bound::Unbounded, |_, _| true);
                let _ = db.get_vec(b"k00001");
            }
            Err(Error::Corrupted(_)) | Err(Error::NotFormatted) => {}
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
    }
}
