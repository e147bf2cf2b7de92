//! Regression: a store written by another on-media format version looked
//! like a blank device (its headers failed the version check), so
//! `open_or_format` answered by formatting over it and every key was lost.
//! Now opening it is refused with `UnsupportedVersion` and nothing is
//! written.

use cairn_core::device::{BlockDevice, Geometry};
use cairn_core::format::{checksum, FORMAT_VERSION};
use cairn_core::{Config, Db, Error, RamDevice};

/// A device over a plain image, to stand for a store written elsewhere.
struct Image {
    geo: Geometry,
    data: Vec<u8>,
    writes: usize,
}

impl BlockDevice for Image {
    type Error = ();
    fn geometry(&self) -> Geometry {
        self.geo
    }
    fn read(&mut self, block: u32, offset: u32, buf: &mut [u8]) -> Result<(), ()> {
        let at = (block * self.geo.block_size + offset) as usize;
        buf.copy_from_slice(&self.data[at..at + buf.len()]);
        Ok(())
    }
    fn program(&mut self, _: u32, _: u32, _: &[u8]) -> Result<(), ()> {
        self.writes += 1;
        Ok(())
    }
    fn erase(&mut self, _: u32) -> Result<(), ()> {
        self.writes += 1;
        Ok(())
    }
    fn sync(&mut self) -> Result<(), ()> {
        Ok(())
    }
}

#[test]
fn a_store_of_another_format_version_is_refused_not_formatted_over() {
    let mut dev = RamDevice::new(4096, 16, 4);
    {
        let mut db = Db::format(&mut dev, Config::default()).unwrap();
        db.put(b"precious", b"data").unwrap();
        db.flush().unwrap();
    }
    let geo = dev.geometry();
    let mut data = dev.image().to_vec();
    // Rewrite every valid header as if another format version wrote it.
    let other = FORMAT_VERSION + 1;
    let mut relabelled = 0;
    for b in 0..geo.block_count as usize {
        let h = &mut data[b * geo.block_size as usize..][..32];
        if h[0..4] == *b"CAIR" {
            h[4..6].copy_from_slice(&other.to_le_bytes());
            let crc = checksum(0, &h[0..28]);
            h[28..32].copy_from_slice(&crc.to_le_bytes());
            relabelled += 1;
        }
    }
    assert!(relabelled >= 2, "the store has headers to relabel");
    let mut image = Image {
        geo,
        data,
        writes: 0,
    };
    for open_or_format in [false, true] {
        let r = if open_or_format {
            Db::open_or_format(&mut image, Config::default()).map(|_| ())
        } else {
            Db::open(&mut image, Config::default()).map(|_| ())
        };
        match r {
            Err(Error::UnsupportedVersion { found }) => assert_eq!(found, other),
            other => panic!("expected UnsupportedVersion, got {other:?}"),
        }
    }
    assert_eq!(image.writes, 0, "nothing written to the other store");
}
