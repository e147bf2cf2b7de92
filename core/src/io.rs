//! A device wrapped with operation counters; every engine access goes
//! through it.

use crate::device::{BlockDevice, Geometry};
use crate::error::Error;

/// Counters of device operations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoCounters {
    /// Read calls.
    pub reads: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Program calls.
    pub programs: u64,
    /// Bytes programmed.
    pub bytes_programmed: u64,
    /// Block erases.
    pub erases: u64,
    /// Syncs.
    pub syncs: u64,
}

pub(crate) struct Io<D: BlockDevice> {
    /// Always `Some` while the store is alive; `Db::into_device` takes it
    /// out, after which only `Drop` runs.
    pub dev: Option<D>,
    pub geo: Geometry,
    pub counters: IoCounters,
    /// Something other than log records was programmed or erased since
    /// the last successful sync: a table, or a log or metadata block's
    /// header. While this is false, everything a commit could name is
    /// durable (log records are tracked by the commit itself).
    pub dirty: bool,
}

impl<D: BlockDevice> Io<D> {
    pub fn new(dev: D) -> Self {
        let geo = dev.geometry();
        Io {
            dev: Some(dev),
            geo,
            counters: IoCounters::default(),
            dirty: false,
        }
    }

    pub fn read(&mut self, block: u32, off: u32, buf: &mut [u8]) -> Result<(), Error<D::Error>> {
        self.check(block, off, buf.len())?;
        self.counters.reads += 1;
        self.counters.bytes_read += buf.len() as u64;
        self.device()?.read(block, off, buf).map_err(Error::Device)
    }

    pub fn program(&mut self, block: u32, off: u32, data: &[u8]) -> Result<(), Error<D::Error>> {
        self.check(block, off, data.len())?;
        debug_assert_eq!(off % self.geo.program_size, 0);
        debug_assert_eq!(data.len() as u32 % self.geo.program_size, 0);
        self.counters.programs += 1;
        self.counters.bytes_programmed += data.len() as u64;
        self.dirty = true;
        self.device()?
            .program(block, off, data)
            .map_err(Error::Device)
    }

    /// Programs log records, or a manifest record: structures whose
    /// durability the commit protocol tracks itself, so they leave
    /// [`Io::dirty`] as it was.
    pub fn program_record(
        &mut self,
        block: u32,
        off: u32,
        data: &[u8],
    ) -> Result<(), Error<D::Error>> {
        let dirty = self.dirty;
        let r = self.program(block, off, data);
        self.dirty = dirty;
        r
    }

    pub fn erase(&mut self, block: u32) -> Result<(), Error<D::Error>> {
        self.check(block, 0, 0)?;
        self.counters.erases += 1;
        self.dirty = true;
        self.device()?.erase(block).map_err(Error::Device)
    }

    pub fn sync(&mut self) -> Result<(), Error<D::Error>> {
        self.counters.syncs += 1;
        self.device()?.sync().map_err(Error::Device)?;
        self.dirty = false;
        Ok(())
    }

    fn device(&mut self) -> Result<&mut D, Error<D::Error>> {
        self.dev.as_mut().ok_or(Error::Poisoned)
    }

    /// Every address the engine computes from media is checked here once
    /// more, so a bad offset read from a corrupt image is `Corrupted`.
    fn check(&self, block: u32, off: u32, len: usize) -> Result<(), Error<D::Error>> {
        let end = off as u64 + len as u64;
        if block >= self.geo.block_count || end > self.geo.block_size as u64 {
            return Err(Error::corrupted(block, "address outside the device"));
        }
        Ok(())
    }
}
