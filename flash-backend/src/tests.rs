use std::format;
use std::println;
use std::string::String;
use std::vec::Vec;

use cairn_core::{Allocation, BlockDevice, Config, Db, Error};
use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};

use crate::mock::{MockError, MockFlash};
use crate::{FlashError, NorFlashDevice};

/// A configuration that fits erase units from 1 KiB up.
fn config(erase: usize) -> Config {
    Config {
        memtable_bytes: (erase / 2).clamp(512, 64 * 1024),
        data_block_bytes: 256,
        max_key_len: 32,
        max_value_len: 128,
        allocation: Allocation::RoundRobin,
        ..Config::default()
    }
}

fn key(i: usize) -> String {
    format!("key:{i:06}")
}

fn value(i: usize, round: usize) -> Vec<u8> {
    let mut v = format!("value {i} of round {round} ").into_bytes();
    v.resize(40, b'.');
    v
}

#[test]
fn mock_obeys_nor_rules() {
    let mut f = MockFlash::<1024, 4>::new(4);
    assert_eq!(f.capacity(), 4096);
    f.write(8, &[0x0F, 0xF0, 0xFF, 0x00]).unwrap();
    assert_eq!(
        f.write(8, &[0; 4]).unwrap_err(),
        MockError::ProgrammedTwice,
        "a word is programmed once between erases"
    );
    assert_eq!(f.write(2, &[0; 4]).unwrap_err(), MockError::NotAligned);
    assert_eq!(f.write(4096, &[0; 4]).unwrap_err(), MockError::OutOfBounds);
    assert_eq!(f.erase(0, 512).unwrap_err(), MockError::NotAligned);
    let mut buf = [0u8; 4];
    f.read(8, &mut buf).unwrap();
    assert_eq!(buf, [0x0F, 0xF0, 0xFF, 0x00]);
    f.erase(0, 1024).unwrap();
    f.read(8, &mut buf).unwrap();
    assert_eq!(buf, [0xFF; 4]);
    f.write(8, &[0xAA; 4]).unwrap();
    assert_eq!(f.erase_counts(), &[1, 0, 0, 0]);
}

#[test]
fn geometry_follows_the_flash() {
    let dev = NorFlashDevice::new(MockFlash::<4096, 8, 4>::new(16)).unwrap();
    let g = dev.geometry();
    assert_eq!(g.block_size, 4096);
    assert_eq!(g.block_count, 16);
    assert_eq!(g.read_size, 4);
    assert_eq!(g.program_size, 8);
    assert_eq!((dev.start(), dev.len()), (0, 16 * 4096));

    let dev =
        NorFlashDevice::partition(MockFlash::<4096, 8, 4>::new(16), 4 * 4096, 8 * 4096).unwrap();
    assert_eq!(dev.geometry().block_count, 8);
    assert_eq!(dev.block_address(0), Some(4 * 4096));
    assert_eq!(dev.block_address(7), Some(11 * 4096));
    assert_eq!(dev.block_address(8), None);
}

#[test]
fn partitions_are_checked() {
    type F = MockFlash<4096>;
    let cases = [
        (100, 4096, FlashError::Misaligned),
        (4096, 100, FlashError::Misaligned),
        (4096, 0, FlashError::OutOfRange),
        (12 * 4096, 8 * 4096, FlashError::OutOfRange),
        (0, 17 * 4096, FlashError::OutOfRange),
        (u32::MAX - 4095, 4096, FlashError::OutOfRange),
    ];
    for (start, len, want) in cases {
        let rejected = match NorFlashDevice::partition(F::new(16), start, len) {
            Ok(_) => panic!("partition {start}+{len} accepted"),
            Err(r) => r,
        };
        assert_eq!(rejected.error, want, "partition {start}+{len}");
        // The flash comes back.
        assert_eq!(rejected.flash.capacity(), 16 * 4096);
    }
    assert!(NorFlashDevice::partition(F::new(16), 12 * 4096, 4 * 4096).is_ok());
}

#[test]
fn accesses_outside_the_partition_are_refused() {
    let mut flash = MockFlash::<1024, 4, 4>::new(8);
    let mut dev = NorFlashDevice::partition(&mut flash, 2048, 4096).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(dev.read(4, 0, &mut buf), Err(FlashError::OutOfRange));
    assert_eq!(dev.read(3, 1020, &mut buf), Err(FlashError::OutOfRange));
    assert_eq!(dev.read(0, 2, &mut buf), Err(FlashError::Misaligned));
    assert_eq!(dev.read(0, 0, &mut buf[..3]), Err(FlashError::Misaligned));
    assert_eq!(dev.program(0, 6, &[0; 4]), Err(FlashError::Misaligned));
    assert_eq!(dev.program(4, 0, &[0; 4]), Err(FlashError::OutOfRange));
    assert_eq!(dev.erase(4), Err(FlashError::OutOfRange));
    // The flash's own errors come through.
    dev.program(3, 1016, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    assert_eq!(
        dev.program(3, 1020, &[0; 4]),
        Err(FlashError::Flash(MockError::ProgrammedTwice))
    );
    dev.read(3, 1016, &mut buf).unwrap();
    assert_eq!(buf, [1, 2, 3, 4, 5, 6, 7, 8]);
    dev.sync().unwrap();
    dev.erase(3).unwrap();
    let flash = dev.into_inner();
    // Block 3 of the partition is erase unit 5 of the flash.
    assert_eq!(flash.erase_counts(), &[0, 0, 0, 0, 0, 1, 0, 0]);
    assert!(flash.bytes().iter().all(|b| *b == 0xFF));
}

/// Formats a store on `dev`, writes, overwrites and deletes, remounts and
/// reads everything back; returns the device.
fn exercise<D: BlockDevice>(dev: D, erase: usize, keys: usize, rounds: usize) -> D
where
    D::Error: core::fmt::Debug,
{
    let cfg = config(erase);
    let mut db = Db::format(dev, cfg.clone()).unwrap();
    for round in 0..rounds {
        for i in 0..keys {
            db.put(key(i).as_bytes(), &value(i, round)).unwrap();
        }
        // Every seventh key is deleted in every round but the last.
        if round + 1 < rounds {
            for i in (round % 7..keys).step_by(7) {
                db.delete(key(i).as_bytes()).unwrap();
            }
        }
    }
    for i in (0..keys).step_by(3) {
        db.delete(key(i).as_bytes()).unwrap();
    }
    let stats = db.stats();
    assert!(stats.flushes > 0, "the workload should flush: {stats:?}");

    // Power off, power on.
    let dev = db.into_device();
    let mut db = Db::open(dev, cfg).unwrap();
    let mut buf = [0u8; 128];
    for i in 0..keys {
        let got = db.get(key(i).as_bytes(), &mut buf).unwrap();
        if i % 3 == 0 {
            assert_eq!(got, None, "{} was deleted", key(i));
        } else {
            let n = got.unwrap_or_else(|| panic!("{} lost", key(i)));
            assert_eq!(&buf[..n], value(i, rounds - 1).as_slice(), "{}", key(i));
        }
    }
    let mut seen = 0;
    db.scan(
        core::ops::Bound::Unbounded,
        core::ops::Bound::Unbounded,
        |k, _| {
            assert_ne!(k, key(0).as_bytes());
            seen += 1;
            true
        },
    )
    .unwrap();
    assert_eq!(seen, keys - keys.div_ceil(3));
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    db.into_device()
}

/// Enough keys that the live data fills about a sixteenth of the flash.
fn roundtrip<const ERASE: usize>(units: usize) {
    let keys = (units * ERASE / 16 / 56).max(16);
    let dev = NorFlashDevice::new(MockFlash::<ERASE>::new(units)).unwrap();
    let flash = exercise(dev, ERASE, keys, 4).into_inner();
    let erases: u64 = flash.erase_counts().iter().sum();
    assert!(erases > 0);
}

#[test]
fn store_on_1k_erase_units() {
    roundtrip::<1024>(32);
}

#[test]
fn store_on_4k_erase_units() {
    roundtrip::<4096>(16);
}

#[test]
fn store_on_64k_erase_units() {
    roundtrip::<{ 64 * 1024 }>(16);
}

#[test]
fn store_on_128k_erase_units() {
    roundtrip::<{ 128 * 1024 }>(16);
}

#[test]
fn store_with_wide_read_and_write_units() {
    // Read in 4-byte words, program in 16-byte lines (as some MCU flash
    // controllers with ECC do).
    let dev = NorFlashDevice::new(MockFlash::<2048, 16, 4>::new(24)).unwrap();
    exercise(dev, 2048, 60, 4);
}

#[test]
fn partition_leaves_the_rest_of_the_flash_alone() {
    // 16 units of 4 KiB; the store lives in units 3..13.
    let mut flash = MockFlash::<4096>::new(16);
    // Something of the firmware's own below and above the partition.
    flash.write(0, b"boot").unwrap();
    flash.write(15 * 4096, b"conf").unwrap();
    let dev = NorFlashDevice::partition(&mut flash, 3 * 4096, 10 * 4096).unwrap();
    exercise(dev, 4096, 40, 4);
    for unit in (0..3).chain(13..16) {
        assert_eq!(flash.erase_counts()[unit], 0, "unit {unit} erased");
    }
    for unit in [1, 2, 13, 14] {
        assert!(!flash.unit_programmed(unit), "unit {unit} programmed");
    }
    assert_eq!(&flash.bytes()[..4], b"boot");
    assert_eq!(&flash.bytes()[15 * 4096..15 * 4096 + 4], b"conf");
    assert!(flash.erase_counts()[3..13].iter().any(|n| *n > 0));
}

#[test]
fn two_partitions_hold_two_stores() {
    let mut flash = MockFlash::<4096>::new(24);
    let cfg = config(4096);
    let a = NorFlashDevice::partition(&mut flash, 0, 12 * 4096).unwrap();
    let mut db = Db::format(a, cfg.clone()).unwrap();
    db.put(b"who", b"partition a").unwrap();
    drop(db);
    let b = NorFlashDevice::partition(&mut flash, 12 * 4096, 12 * 4096).unwrap();
    let mut db = Db::format(b, cfg.clone()).unwrap();
    db.put(b"who", b"partition b").unwrap();
    drop(db);

    let a = NorFlashDevice::partition(&mut flash, 0, 12 * 4096).unwrap();
    let mut db = Db::open(a, cfg.clone()).unwrap();
    assert_eq!(db.get_vec(b"who").unwrap().unwrap(), b"partition a");
    drop(db);
    let b = NorFlashDevice::partition(&mut flash, 12 * 4096, 12 * 4096).unwrap();
    let mut db = Db::open(b, cfg).unwrap();
    assert_eq!(db.get_vec(b"who").unwrap().unwrap(), b"partition b");
}

#[test]
fn an_unformatted_flash_is_not_a_store() {
    let dev = NorFlashDevice::new(MockFlash::<4096>::new(16)).unwrap();
    assert!(matches!(
        Db::open(dev, config(4096)),
        Err(Error::NotFormatted)
    ));
}

/// Wear levelling, measured: updates totalling 100 times the flash's
/// capacity, then the ratio of the most- to the least-erased unit.
///
/// `cargo test --release -p cairn-flash wear -- --nocapture` prints it.
#[test]
fn wear_levelling() {
    const ERASE: usize = 4096;
    const UNITS: usize = 32;
    const KEYS: usize = 200;
    let capacity = (ERASE * UNITS) as u64;
    let cfg = Config {
        memtable_bytes: 2048,
        data_block_bytes: 512,
        max_key_len: 32,
        allocation: Allocation::RoundRobin,
        ..Config::default()
    };
    let dev = NorFlashDevice::new(MockFlash::<ERASE>::new(UNITS)).unwrap();
    let mut db = Db::format(dev, cfg.clone()).unwrap();
    let mut written = 0u64;
    let mut n = 0usize;
    let mut latest = [0usize; KEYS];
    // A skewed workload: half of the updates go to a tenth of the keys.
    while written < 100 * capacity {
        let i = if n % 2 == 0 {
            (n / 2) % (KEYS / 10)
        } else {
            (n / 2 * 7) % KEYS
        };
        let k = key(i);
        let mut v = format!("{n} ").into_bytes();
        v.resize(100, b'w');
        db.put(k.as_bytes(), &v).unwrap();
        latest[i] = n;
        written += (k.len() + v.len()) as u64;
        n += 1;
    }
    let stats = db.stats();
    let dev = db.into_device();
    let mut db = Db::open(dev, cfg).unwrap();
    let mut buf = [0u8; 100];
    for (i, &last) in latest.iter().enumerate() {
        let len = db.get(key(i).as_bytes(), &mut buf).unwrap().unwrap();
        let mut want = format!("{last} ").into_bytes();
        want.resize(100, b'w');
        assert_eq!(&buf[..len], want.as_slice(), "{}", key(i));
    }
    assert!(db.check().unwrap().is_ok());

    let counts = db.into_device().into_inner().erase_counts().to_vec();
    let max = *counts.iter().max().unwrap();
    let min = *counts.iter().min().unwrap();
    let total: u64 = counts.iter().sum();
    println!(
        "wear: {UNITS} x {ERASE} B flash, {n} updates, {} user bytes ({}x capacity), \
         write amplification {:.2}",
        written,
        written / capacity,
        stats.write_amplification()
    );
    println!(
        "wear: erases per unit min {min}, max {max}, mean {:.1}; max/min = {}",
        total as f64 / UNITS as f64,
        if min == 0 {
            String::from("inf (a unit was never erased)")
        } else {
            format!("{:.3}", max as f64 / min as f64)
        }
    );
    println!("wear: erase counts {counts:?}");
}
