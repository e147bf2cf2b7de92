//! Tables' indexes and bloom filters stay on the device: a lookup reads
//! them when the block cache does not hold them, and checks them as it
//! reads, so damage found there is an error, never a key reported absent.

use cairn_core::format::{BlockHeader, BlockKind, Footer, FOOTER_LEN};
use cairn_core::{BlockDevice, Config, Db, Error, RamDevice};

const BLOCK: usize = 4096;
const BLOCKS: u32 = 64;

fn config(cache_bytes: usize) -> Config {
    Config {
        memtable_bytes: 4096,
        max_key_len: 64,
        cache_bytes,
        ..Config::default()
    }
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

fn value(i: u32) -> Vec<u8> {
    format!("value of {i}").repeat(3).into_bytes()
}

const KEYS: u32 = 1500;

fn populated(cache_bytes: usize) -> Db<RamDevice> {
    let mut db = Db::format(RamDevice::new(BLOCK as u32, BLOCKS, 4), config(cache_bytes)).unwrap();
    for i in 0..KEYS {
        db.put(&key(i * 7 % KEYS), &value(i * 7 % KEYS)).unwrap();
    }
    db.sync().unwrap();
    assert!(db.stats().tables_per_level.iter().sum::<u32>() >= 4);
    db
}

/// Looks every key up; returns the index and bloom filter reads it took.
fn read_all(db: &mut Db<RamDevice>) -> u64 {
    let before = db.stats().table_meta_reads;
    for i in 0..KEYS {
        assert_eq!(db.get_vec(&key(i)).unwrap(), Some(value(i)));
    }
    db.stats().table_meta_reads - before
}

#[test]
fn without_a_cache_each_lookup_reads_the_tables_it_probes() {
    let mut db = populated(0);
    let first = read_all(&mut db);
    let second = read_all(&mut db);
    // Keys still in the memtable read no table; the rest read at least one.
    assert!(first >= (KEYS / 2) as u64, "{first}");
    assert_eq!(first, second, "nothing kept between lookups");
}

#[test]
fn a_cache_keeps_indexes_and_bloom_filters_between_lookups() {
    let mut db = populated(1 << 20);
    let first = read_all(&mut db);
    let tables: u32 = db.stats().tables_per_level.iter().sum();
    // At most a bloom filter and an index per table.
    assert!(
        first > 0 && first <= 2 * tables as u64,
        "{first} reads, {tables} tables"
    );
    assert_eq!(read_all(&mut db), 0, "all served from the cache");
}

/// Where table `block`'s bloom filter lies in `image`, if it is a table.
fn bloom_of(image: &[u8], block: usize) -> Option<(usize, usize)> {
    let b = &image[block * BLOCK..(block + 1) * BLOCK];
    let h = BlockHeader::parse(b)?;
    if h.kind != BlockKind::Table {
        return None;
    }
    let f = Footer::parse(&b[BLOCK - FOOTER_LEN..], h.epoch, BLOCK as u32)?;
    Some((f.bloom_off as usize, f.bloom_len as usize))
}

#[test]
fn a_damaged_bloom_filter_is_an_error_not_a_missing_key() {
    let image = populated(0).into_device().image().to_vec();
    let mut damaged = 0;
    for block in 0..BLOCKS as usize {
        let Some((off, len)) = bloom_of(&image, block) else {
            continue;
        };
        let mut img = image.clone();
        // A bit in the middle of the filter's bit array.
        img[block * BLOCK + off + len / 2] ^= 0x10;
        let mut dev = RamDevice::new(BLOCK as u32, BLOCKS, 4);
        for b in 0..BLOCKS {
            dev.erase(b).unwrap();
            let at = b as usize * BLOCK;
            dev.program(b, 0, &img[at..at + BLOCK]).unwrap();
        }
        // Opening reads headers, footers and indexes, not bloom filters.
        let mut db = Db::open(dev, config(0)).unwrap();
        let mut errors = 0;
        for i in 0..KEYS {
            match db.get_vec(&key(i)) {
                Ok(v) => assert_eq!(v, Some(value(i)), "key {i} with block {block} damaged"),
                Err(Error::Corrupted(c)) => {
                    assert_eq!(c.block, block as u32);
                    errors += 1;
                }
                Err(e) => panic!("{e:?}"),
            }
        }
        // A live table is probed for its own keys; a block with no errors
        // holds a table no longer in use.
        let report = db.check().unwrap();
        assert_eq!(
            report.is_ok(),
            errors == 0,
            "check and lookups agree on block {block}"
        );
        if errors > 0 {
            damaged += 1;
        }
    }
    assert!(damaged >= 1, "some damaged table was probed");
}
