//! [`FileDevice`]: a cairn block device over one file.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use cairn_core::{BlockDevice, Geometry};

/// Default erase-unit size of a [`FileDevice`]: 256 KiB.
pub const DEFAULT_BLOCK_SIZE: u32 = 256 * 1024;

/// Default capacity of a [`FileDevice`]: 8 GiB. The file grows only as
/// blocks are written, so this is a ceiling, not an allocation.
pub const DEFAULT_CAPACITY: u64 = 8 << 30;

/// At [`sync`](BlockDevice::sync), an unprogrammed range of an erased
/// block at least this long is discarded by punching a hole; a shorter one
/// is overwritten with zeros. A hole punch costs a file-system transaction
/// (about half a millisecond on ext4, several under load); writing this
/// many zeros costs less.
const PUNCH_MIN: u64 = 128 * 1024;

/// The message of the [`io::ErrorKind::WouldBlock`] error returned when
/// the file is already locked.
#[cfg_attr(not(unix), allow(dead_code))]
pub(crate) const LOCKED_MESSAGE: &str = "store is locked by another process or handle";

/// A [`BlockDevice`] over one file.
///
/// Block `b` occupies bytes `b * block_size .. (b + 1) * block_size` of the
/// file. Reads and programs are byte-granular (`read_size` and
/// `program_size` are 1: cairn pads its own records).
///
/// - **Lazy growth.** The file is never preallocated: it grows as blocks are
///   programmed, and a read past its end returns zeros without touching the
///   file. A store with a capacity of 8 GiB that holds 1 MiB occupies about
///   1 MiB on disk.
/// - **Erase discards.** An erased block reads as zeros, not `0xFF`: cairn
///   never relies on the erased value, because every record it reads back
///   carries a checksum seeded with its block's epoch. The erase reaches the
///   file at the next [`sync`](BlockDevice::sync) (or when the device is
///   dropped), and only where the block has not been programmed since: a
///   table, programmed in full right after its erase, costs a few zeros
///   written over the gap before its footer. Large unprogrammed ranges are
///   discarded by punching a hole (Linux
///   `fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)`), giving the
///   space back to the file system; where holes are not supported, zeros are
///   written instead. Until then, reads see zeros.
/// - **Durability.** [`sync`](BlockDevice::sync) is `fdatasync`
///   ([`File::sync_data`]). Writes since the last sync may be lost or torn by
///   a crash, exactly as the device contract allows.
/// - **Exclusive access.** Opening takes an advisory exclusive lock (`flock`)
///   on the file, held until the device is dropped. A second open, from
///   another process or from this one, fails with
///   [`io::ErrorKind::WouldBlock`] ("store is locked by another process or
///   handle"). On platforms other than Unix no lock is taken.
/// - **Geometry.** Nothing but the blocks themselves is stored in the file.
///   cairn records the block size and block count in every block header and
///   ignores blocks whose geometry differs, so a store must be reopened with
///   the block size and capacity it was created with; keep the defaults, or
///   pass the same values every time. A file longer than the configured
///   capacity is refused outright.
///
/// Offsets and lengths are checked against the geometry: a block number past
/// the end, or a range that overruns its block, is an
/// [`io::ErrorKind::InvalidInput`] error.
///
/// # Example
///
/// ```
/// use cairn_core::BlockDevice;
/// use cairn_std::FileDevice;
///
/// let dir = tempfile::tempdir().unwrap();
/// let mut dev = FileDevice::open(dir.path().join("dev"), 4096, 1 << 20).unwrap();
/// assert_eq!(dev.geometry().block_count, 256);
/// dev.program(3, 10, b"cairn").unwrap();
/// let mut buf = [0u8; 5];
/// dev.read(3, 10, &mut buf).unwrap();
/// assert_eq!(&buf, b"cairn");
/// // Only what was written occupies the file.
/// assert_eq!(dev.file_len(), 3 * 4096 + 15);
/// ```
#[derive(Debug)]
pub struct FileDevice {
    file: File,
    geometry: Geometry,
    /// The file's length as this device last left it. Everything at or past
    /// it reads as zeros.
    len: u64,
    /// Whether erase may still try to punch holes: cleared after the file
    /// system says it cannot.
    punch_holes: bool,
    /// Blocks erased since the last sync whose erase has not reached the
    /// file yet, each with the byte ranges programmed since (sorted,
    /// disjoint, merged). Reads see zeros elsewhere in the block.
    erased: HashMap<u32, Vec<(u32, u32)>>,
}

impl FileDevice {
    /// Opens the file at `path` as a device of `capacity / block_size` blocks
    /// of `block_size` bytes, creating an empty file if there is none. The
    /// file is locked until the device is dropped.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] if the geometry is unusable (the block
    /// size is not a power of two of at least 1024, or the capacity holds
    /// fewer than 4 or more than 2^28 blocks) or the file is longer than the
    /// capacity; [`io::ErrorKind::WouldBlock`] if the file is locked; any
    /// error from opening the file.
    pub fn open(path: impl AsRef<Path>, block_size: u32, capacity: u64) -> io::Result<Self> {
        let path = path.as_ref();
        // Check the geometry before creating anything.
        geometry_for(block_size, capacity)?;
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
        {
            Ok(file) => {
                // Make the new name durable, or a crash could lose the
                // whole file along with everything synced into it.
                sync_parent_dir(path)?;
                file
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                OpenOptions::new().read(true).write(true).open(path)?
            }
            Err(e) => return Err(e),
        };
        Self::from_file(file, block_size, capacity)
    }

    /// Uses an already opened file (readable and writable) as a device of
    /// `capacity / block_size` blocks of `block_size` bytes, and locks it.
    ///
    /// # Errors
    ///
    /// As for [`FileDevice::open`].
    pub fn from_file(file: File, block_size: u32, capacity: u64) -> io::Result<Self> {
        let geometry = geometry_for(block_size, capacity)?;
        sys::lock(&file)?;
        let len = file.metadata()?.len();
        if len > geometry.capacity() {
            return Err(invalid(format!(
                "the file holds {len} bytes, more than the configured capacity of {} bytes \
                 ({} blocks of {} bytes); open it with the options it was created with",
                geometry.capacity(),
                geometry.block_count,
                geometry.block_size
            )));
        }
        Ok(FileDevice {
            file,
            geometry,
            len,
            punch_holes: cfg!(any(target_os = "linux", target_os = "android")),
            erased: HashMap::new(),
        })
    }

    /// A second handle to the file, so a caller can make writes durable
    /// (`sync_data`) without holding the device, for group commit.
    ///
    /// # Errors
    ///
    /// Any error from duplicating the handle.
    pub fn try_clone_file(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    /// The length of the file in bytes: the end of the last byte programmed
    /// (erases never shrink it).
    pub fn file_len(&self) -> u64 {
        self.len
    }

    /// Whether erases still punch holes, rather than write zeros.
    #[cfg(all(test, target_os = "linux"))]
    pub(crate) fn punches_holes(&self) -> bool {
        self.punch_holes
    }

    /// The file position of `len` bytes at `offset` within `block`, after
    /// checking that they lie inside the block.
    fn locate(&self, block: u32, offset: u32, len: usize) -> io::Result<u64> {
        let g = &self.geometry;
        if block >= g.block_count {
            return Err(invalid(format!(
                "block {block} is past the end of the device ({} blocks)",
                g.block_count
            )));
        }
        if offset as u64 + len as u64 > g.block_size as u64 {
            return Err(invalid(format!(
                "{len} bytes at offset {offset} overrun a block of {} bytes",
                g.block_size
            )));
        }
        Ok(block as u64 * g.block_size as u64 + offset as u64)
    }

    /// Discards `len` bytes at `pos`, all of them inside the file: punches a
    /// hole over a long range where the file system can, writes zeros
    /// otherwise.
    fn discard(&mut self, pos: u64, len: u64) -> io::Result<()> {
        if self.punch_holes && len >= PUNCH_MIN {
            if sys::punch_hole(&self.file, pos, len)? {
                return Ok(());
            }
            self.punch_holes = false;
        }
        self.write_zeros(pos, len)
    }

    /// Makes every pending erase reach the file: discards what each erased
    /// block held outside the ranges programmed since.
    fn apply_erases(&mut self) -> io::Result<()> {
        let bs = self.geometry.block_size;
        let mut blocks: Vec<u32> = self.erased.keys().copied().collect();
        blocks.sort_unstable();
        for b in blocks {
            let start = b as u64 * bs as u64;
            let mut gaps = Vec::new();
            let mut at = 0;
            for &(from, to) in &self.erased[&b] {
                if from > at {
                    gaps.push((at, from));
                }
                at = to;
            }
            if at < bs {
                gaps.push((at, bs));
            }
            for (from, to) in gaps {
                // Past the end of the file everything reads as zeros.
                let end = (start + to as u64).min(self.len);
                let pos = start + from as u64;
                if pos < end {
                    self.discard(pos, end - pos)?;
                }
            }
            self.erased.remove(&b);
        }
        Ok(())
    }

    /// Writes zeros over `len` bytes at `pos`, all of them inside the file.
    fn write_zeros(&mut self, mut pos: u64, len: u64) -> io::Result<()> {
        static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
        let end = pos + len;
        while pos < end {
            let n = (end - pos).min(ZEROS.len() as u64) as usize;
            sys::write_all_at(&self.file, &ZEROS[..n], pos)?;
            pos += n as u64;
        }
        Ok(())
    }
}

impl BlockDevice for FileDevice {
    type Error = io::Error;

    fn geometry(&self) -> Geometry {
        self.geometry
    }

    fn read(&mut self, block: u32, offset: u32, buf: &mut [u8]) -> io::Result<()> {
        let pos = self.locate(block, offset, buf.len())?;
        // Bytes at or past the end of the file were never programmed.
        let in_file = self.len.saturating_sub(pos).min(buf.len() as u64) as usize;
        let (head, tail) = buf.split_at_mut(in_file);
        if !head.is_empty() {
            sys::read_exact_at(&self.file, head, pos)?;
        }
        tail.fill(0);
        // An erase not yet applied: zeros outside what was programmed since.
        if let Some(written) = self.erased.get(&block) {
            let mut at = offset;
            let end = offset + buf.len() as u32;
            for &(from, to) in written.iter().chain([(end, end)].iter()) {
                let (from, to) = (from.clamp(offset, end), to.clamp(offset, end));
                if from > at {
                    buf[(at - offset) as usize..(from - offset) as usize].fill(0);
                }
                at = at.max(to);
            }
        }
        Ok(())
    }

    fn program(&mut self, block: u32, offset: u32, data: &[u8]) -> io::Result<()> {
        let pos = self.locate(block, offset, data.len())?;
        if data.is_empty() {
            return Ok(());
        }
        if let Some(written) = self.erased.get_mut(&block) {
            add_range(written, offset, offset + data.len() as u32);
        }
        match sys::write_all_at(&self.file, data, pos) {
            Ok(()) => {
                self.len = self.len.max(pos + data.len() as u64);
                Ok(())
            }
            Err(e) => {
                // A failed write may still have extended the file.
                if let Ok(meta) = self.file.metadata() {
                    self.len = meta.len();
                }
                Err(e)
            }
        }
    }

    fn erase(&mut self, block: u32) -> io::Result<()> {
        let start = self.locate(block, 0, 0)?;
        if start >= self.len {
            // Never written: it already reads as erased.
            self.erased.remove(&block);
            return Ok(());
        }
        // Applied at the next sync, over what is not programmed by then.
        self.erased.insert(block, Vec::new());
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        self.apply_erases()?;
        self.file.sync_data()
    }
}

/// A device closed without a sync still leaves its erases in the file (not
/// durable, as any write since the last sync).
impl Drop for FileDevice {
    fn drop(&mut self) {
        let _ = self.apply_erases();
    }
}

/// Adds `[from, to)` to sorted, disjoint ranges, merging neighbours.
fn add_range(ranges: &mut Vec<(u32, u32)>, from: u32, to: u32) {
    if from >= to {
        return;
    }
    // Programs mostly append: the common case is a new last range.
    if let Some(last) = ranges.last_mut() {
        if last.1 == from {
            last.1 = to;
            return;
        }
        if last.1 < from {
            ranges.push((from, to));
            return;
        }
    } else {
        ranges.push((from, to));
        return;
    }
    ranges.push((from, to));
    ranges.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for &(f, t) in ranges.iter() {
        match merged.last_mut() {
            Some(m) if f <= m.1 => m.1 = m.1.max(t),
            _ => merged.push((f, t)),
        }
    }
    *ranges = merged;
}

/// The geometry of a file device, or why it cannot be used.
pub(crate) fn geometry_for(block_size: u32, capacity: u64) -> io::Result<Geometry> {
    let blocks = capacity / block_size.max(1) as u64;
    let block_count = u32::try_from(blocks).map_err(|_| {
        invalid(format!(
            "a capacity of {capacity} bytes holds too many blocks"
        ))
    })?;
    let geometry = Geometry {
        block_size,
        block_count,
        read_size: 1,
        program_size: 1,
    };
    geometry.validate().map_err(|why| {
        invalid(format!(
            "unusable geometry ({block_size}-byte blocks, capacity {capacity} bytes): {why}"
        ))
    })?;
    Ok(geometry)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// Makes the directory entry of a newly created or renamed file durable.
pub(crate) fn sync_parent_dir(path: &Path) -> io::Result<()> {
    sys::sync_dir(path.parent().unwrap_or(Path::new("")))
}

#[cfg(unix)]
mod sys {
    use std::fs::File;
    use std::io;
    use std::os::unix::fs::FileExt;
    use std::path::Path;

    use rustix::fs::{flock, FlockOperation};
    use rustix::io::Errno;

    pub fn read_exact_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<()> {
        file.read_exact_at(buf, pos)
    }

    pub fn write_all_at(file: &File, data: &[u8], pos: u64) -> io::Result<()> {
        file.write_all_at(data, pos)
    }

    pub fn lock(file: &File) -> io::Result<()> {
        loop {
            match flock(file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(()),
                Err(e) if e == Errno::INTR => continue,
                Err(e) if e == Errno::WOULDBLOCK => {
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        super::LOCKED_MESSAGE,
                    ))
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Deallocates `len` bytes at `pos`, keeping the file's length.
    /// `Ok(false)` if the file system cannot.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn punch_hole(file: &File, pos: u64, len: u64) -> io::Result<bool> {
        use rustix::fs::{fallocate, FallocateFlags};
        let mode = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
        loop {
            match fallocate(file, mode, pos, len) {
                Ok(()) => return Ok(true),
                Err(e) if e == Errno::INTR => continue,
                Err(e) if e == Errno::OPNOTSUPP || e == Errno::NOSYS => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub fn punch_hole(_file: &File, _pos: u64, _len: u64) -> io::Result<bool> {
        Ok(false)
    }

    pub fn sync_dir(dir: &Path) -> io::Result<()> {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        File::open(dir)?.sync_all()
    }
}

/// Portable fallbacks: positioned I/O by seeking, no lock, no holes.
#[cfg(not(unix))]
mod sys {
    use std::fs::File;
    use std::io::{self, Read, Seek, SeekFrom, Write};
    use std::path::Path;

    pub fn read_exact_at(mut file: &File, buf: &mut [u8], pos: u64) -> io::Result<()> {
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(buf)
    }

    pub fn write_all_at(mut file: &File, data: &[u8], pos: u64) -> io::Result<()> {
        file.seek(SeekFrom::Start(pos))?;
        file.write_all(data)
    }

    pub fn lock(_file: &File) -> io::Result<()> {
        Ok(())
    }

    pub fn punch_hole(_file: &File, _pos: u64, _len: u64) -> io::Result<bool> {
        Ok(false)
    }

    pub fn sync_dir(_dir: &Path) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u32 = 1024;

    fn small(dir: &tempfile::TempDir) -> FileDevice {
        FileDevice::open(dir.path().join("dev"), 4 * KIB, 64 * 4 * KIB as u64).unwrap()
    }

    #[test]
    fn default_geometry() {
        let dir = tempfile::tempdir().unwrap();
        let dev =
            FileDevice::open(dir.path().join("dev"), DEFAULT_BLOCK_SIZE, DEFAULT_CAPACITY).unwrap();
        assert_eq!(
            dev.geometry(),
            Geometry {
                block_size: 256 * KIB,
                block_count: 32 * 1024,
                read_size: 1,
                program_size: 1,
            }
        );
        assert_eq!(dev.file_len(), 0, "nothing is preallocated");
        assert_eq!(std::fs::metadata(dir.path().join("dev")).unwrap().len(), 0);
    }

    #[test]
    fn capacity_rounds_down_to_whole_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let dev = FileDevice::open(dir.path().join("dev"), 4 * KIB, 10 * 4096 + 4095).unwrap();
        assert_eq!(dev.geometry().block_count, 10);
    }

    #[test]
    fn unusable_geometry_is_refused_before_creating_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev");
        for (block_size, capacity) in [
            (1000, 1 << 20),  // not a power of two
            (512, 1 << 20),   // too small
            (0, 1 << 20),     // zero
            (4096, 3 * 4096), // fewer than 4 blocks
            (1024, 1 << 40),  // more than 2^28 blocks
            (1024, u64::MAX), // block count overflows u32
        ] {
            let err = FileDevice::open(&path, block_size, capacity).unwrap_err();
            assert_eq!(
                err.kind(),
                io::ErrorKind::InvalidInput,
                "{block_size}/{capacity}: {err}"
            );
        }
        assert!(!path.exists());
    }

    #[test]
    fn out_of_range_accesses_are_invalid_input() {
        let dir = tempfile::tempdir().unwrap();
        let mut dev = small(&dir);
        let bs = 4 * KIB;
        let mut buf = [0u8; 8];
        let check = |r: io::Result<()>| {
            let err = r.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        };
        check(dev.read(64, 0, &mut buf));
        check(dev.read(u32::MAX, 0, &mut buf));
        check(dev.read(0, bs - 7, &mut buf));
        check(dev.read(0, u32::MAX, &mut buf));
        check(dev.program(64, 0, b"x"));
        check(dev.program(3, bs, b"x"));
        check(dev.program(3, bs - 1, b"xy"));
        check(dev.erase(64));
        // Nothing was written by the refused programs.
        assert_eq!(dev.file_len(), 0);
        // The last byte of the last block is fine.
        dev.program(63, bs - 1, b"z").unwrap();
        let mut one = [0u8; 1];
        dev.read(63, bs - 1, &mut one).unwrap();
        assert_eq!(&one, b"z");
        // Empty accesses at the very end of a block are fine too.
        dev.read(0, bs, &mut []).unwrap();
        dev.program(0, bs, &[]).unwrap();
    }

    #[test]
    fn file_grows_lazily_and_reads_past_the_end_are_zero() {
        let dir = tempfile::tempdir().unwrap();
        let mut dev = small(&dir);
        let bs = 4 * KIB as u64;
        dev.program(5, 100, b"hello").unwrap();
        assert_eq!(dev.file_len(), 5 * bs + 105);
        assert_eq!(
            std::fs::metadata(dir.path().join("dev")).unwrap().len(),
            5 * bs + 105
        );
        // Writing lower in the file does not change its length.
        dev.program(1, 0, b"abc").unwrap();
        assert_eq!(dev.file_len(), 5 * bs + 105);

        // Entirely past the end.
        let mut buf = [0xAAu8; 64];
        dev.read(40, 0, &mut buf).unwrap();
        assert_eq!(buf, [0u8; 64]);
        // Straddling the end: data, then zeros.
        let mut buf = [0xAAu8; 10];
        dev.read(5, 100, &mut buf).unwrap();
        assert_eq!(&buf, b"hello\0\0\0\0\0");
        // A gap that was skipped over reads as zeros.
        let mut buf = [0xAAu8; 16];
        dev.read(3, 0, &mut buf).unwrap();
        assert_eq!(buf, [0u8; 16]);
        let mut buf = [0u8; 3];
        dev.read(1, 0, &mut buf).unwrap();
        assert_eq!(&buf, b"abc");
    }

    #[test]
    fn erase_discards_a_block_and_keeps_the_length() {
        let dir = tempfile::tempdir().unwrap();
        let mut dev = small(&dir);
        let bs = 4 * KIB;
        let full = vec![0x5Au8; bs as usize];
        for b in 0..4 {
            dev.program(b, 0, &full).unwrap();
        }
        dev.sync().unwrap();
        let len = dev.file_len();
        dev.erase(1).unwrap();
        assert_eq!(dev.file_len(), len);
        assert_eq!(
            std::fs::metadata(dir.path().join("dev")).unwrap().len(),
            len
        );
        let mut buf = vec![0xAAu8; bs as usize];
        dev.read(1, 0, &mut buf).unwrap();
        assert!(
            buf.iter().all(|b| *b == 0),
            "an erased block reads as zeros"
        );
        // The neighbours are untouched.
        for b in [0, 2, 3] {
            dev.read(b, 0, &mut buf).unwrap();
            assert_eq!(buf, full, "block {b}");
        }
        // The erased block can be programmed again.
        dev.program(1, 7, b"again").unwrap();
        let mut buf = [0u8; 5];
        dev.read(1, 7, &mut buf).unwrap();
        assert_eq!(&buf, b"again");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn erase_gives_space_back_where_holes_are_supported() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev");
        // Whole blocks of the default size: long enough to be punched.
        let mut dev = FileDevice::open(&path, 256 * KIB, 64 * 256 * KIB as u64).unwrap();
        let full = vec![0x5Au8; 256 * KIB as usize];
        for b in 0..8 {
            dev.program(b, 0, &full).unwrap();
        }
        dev.sync().unwrap();
        let before = std::fs::metadata(&path).unwrap().blocks();
        for b in 0..8 {
            dev.erase(b).unwrap();
        }
        dev.sync().unwrap();
        let after = std::fs::metadata(&path).unwrap().blocks();
        if dev.punches_holes() {
            assert!(
                after < before,
                "punching holes should free space: {before} -> {after} sectors"
            );
        } else {
            eprintln!("note: this file system cannot punch holes; erase wrote zeros");
        }
        assert_eq!(dev.file_len(), 8 * 256 * KIB as u64);
    }

    #[test]
    fn reads_see_an_erase_before_it_reaches_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut dev = small(&dir);
        let bs = 4 * KIB as usize;
        dev.program(2, 0, &vec![7u8; bs]).unwrap();
        dev.sync().unwrap();
        dev.erase(2).unwrap();
        dev.program(2, 0, b"head").unwrap();
        dev.program(2, 100, b"middle").unwrap();
        dev.program(2, 4, b"more").unwrap();
        let mut buf = vec![0xAAu8; bs];
        dev.read(2, 0, &mut buf).unwrap();
        assert_eq!(&buf[..8], b"headmore");
        assert!(buf[8..100].iter().all(|b| *b == 0));
        assert_eq!(&buf[100..106], b"middle");
        assert!(buf[106..].iter().all(|b| *b == 0));
        // A read inside one range, and one inside a gap.
        let mut part = [0xAAu8; 3];
        dev.read(2, 101, &mut part).unwrap();
        assert_eq!(&part, b"idd");
        dev.read(2, 50, &mut part).unwrap();
        assert_eq!(part, [0; 3]);
        // Erasing again forgets what was programmed.
        dev.erase(2).unwrap();
        dev.read(2, 0, &mut buf).unwrap();
        assert!(buf.iter().all(|b| *b == 0));
    }

    #[test]
    fn an_erase_reaches_the_file_at_sync_and_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev");
        let bs = 4 * KIB as usize;
        let mut image = vec![0u8; 3 * bs];
        {
            let mut dev = FileDevice::open(&path, 4 * KIB, 1 << 20).unwrap();
            for b in 0..3 {
                dev.program(b, 0, &vec![9u8; bs]).unwrap();
            }
            dev.sync().unwrap();
            // Synced: block 0, programmed at both ends after its erase.
            dev.erase(0).unwrap();
            dev.program(0, 0, b"front").unwrap();
            dev.program(0, bs as u32 - 4, b"back").unwrap();
            dev.sync().unwrap();
            image[..5].copy_from_slice(b"front");
            image[bs - 4..bs].copy_from_slice(b"back");
            // Not synced: block 1, erased, and dropped with the device.
            dev.erase(1).unwrap();
            dev.program(1, 0, b"one").unwrap();
            image[bs..bs + 3].copy_from_slice(b"one");
            image[2 * bs..].fill(9);
        }
        assert_eq!(std::fs::read(&path).unwrap(), image);
    }

    #[test]
    fn erase_past_the_end_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut dev = small(&dir);
        dev.program(2, 0, b"tail").unwrap();
        let len = dev.file_len();
        dev.erase(10).unwrap();
        dev.erase(63).unwrap();
        assert_eq!(dev.file_len(), len);
        assert_eq!(
            std::fs::metadata(dir.path().join("dev")).unwrap().len(),
            len
        );
        // A block the file ends inside is erased up to the end only.
        dev.erase(2).unwrap();
        assert_eq!(dev.file_len(), len);
        let mut buf = [0xAAu8; 4];
        dev.read(2, 0, &mut buf).unwrap();
        assert_eq!(buf, [0u8; 4]);
    }

    #[test]
    fn zero_fallback_erases_like_a_hole() {
        let dir = tempfile::tempdir().unwrap();
        let mut dev = small(&dir);
        dev.punch_holes = false;
        let bs = 4 * KIB;
        dev.program(0, 0, &vec![1u8; bs as usize]).unwrap();
        dev.program(1, 0, &vec![2u8; bs as usize / 2]).unwrap();
        let len = dev.file_len();
        dev.erase(0).unwrap();
        dev.erase(1).unwrap();
        assert_eq!(dev.file_len(), len);
        let mut buf = vec![0xAAu8; bs as usize];
        dev.read(0, 0, &mut buf).unwrap();
        assert!(buf.iter().all(|b| *b == 0));
        dev.read(1, 0, &mut buf).unwrap();
        assert!(buf.iter().all(|b| *b == 0));
    }

    #[test]
    fn reopen_reads_back_what_was_synced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev");
        {
            let mut dev = FileDevice::open(&path, 4 * KIB, 1 << 20).unwrap();
            dev.program(7, 9, b"persisted").unwrap();
            dev.sync().unwrap();
        }
        let mut dev = FileDevice::open(&path, 4 * KIB, 1 << 20).unwrap();
        assert_eq!(dev.file_len(), 7 * 4096 + 18);
        let mut buf = [0u8; 9];
        dev.read(7, 9, &mut buf).unwrap();
        assert_eq!(&buf, b"persisted");
    }

    #[test]
    fn a_file_longer_than_the_capacity_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev");
        {
            let mut dev = FileDevice::open(&path, 4 * KIB, 1 << 20).unwrap();
            dev.program(200, 0, b"far out").unwrap();
        }
        let err = FileDevice::open(&path, 4 * KIB, 100 * 4096).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("capacity"), "{err}");
        // It opens with the capacity it was written with.
        FileDevice::open(&path, 4 * KIB, 1 << 20).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_second_open_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev");
        let first = FileDevice::open(&path, 4 * KIB, 1 << 20).unwrap();
        let err = FileDevice::open(&path, 4 * KIB, 1 << 20).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert_eq!(err.to_string(), LOCKED_MESSAGE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let err = FileDevice::from_file(file, 4 * KIB, 1 << 20).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        drop(first);
        FileDevice::open(&path, 4 * KIB, 1 << 20).unwrap();
    }

    /// Another process sees the lock too (util-linux `flock -n` exits
    /// non-zero on a locked file).
    #[cfg(target_os = "linux")]
    #[test]
    fn another_process_sees_the_lock() {
        use std::process::Command;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev");
        let try_lock = || {
            Command::new("flock")
                .arg("-n")
                .arg(&path)
                .arg("true")
                .status()
        };
        let dev = FileDevice::open(&path, 4 * KIB, 1 << 20).unwrap();
        let Ok(status) = try_lock() else {
            eprintln!("note: no flock(1) here; skipping the cross-process check");
            return;
        };
        assert!(!status.success(), "flock(1) got a lock the device holds");
        drop(dev);
        assert!(
            try_lock().unwrap().success(),
            "the lock outlived the device"
        );
    }
}
