//! A simulated file with a volatile cache, and power cuts.
//!
//! The device is a file seen as `block_count` blocks of `block_size` bytes,
//! read and programmed in single bytes (`read_size` and `program_size` are
//! 1). Erasing a block discards it: it then reads as zeros, as `0xFF` or as
//! random bytes ([`EraseFill`]).
//!
//! Persistence follows the model of FoundationDB's simulator and LazyFS:
//!
//! - Programs and erases go to a cache, which reads see at once. They reach
//!   the media only at `sync`, which makes everything before it durable.
//! - At a crash (an armed cut firing, or [`SimDevice::crash`]), every
//!   program and erase since the last completed sync, the interrupted one
//!   included, meets its own fate: each 512-byte sector (aligned to the
//!   start of the file) of each pending program is independently kept or
//!   dropped, each pending erase is kept or dropped whole, and what is kept
//!   reaches the media in random order. The cache is then lost.
//! - A cut can be armed at the k-th program, erase or sync (counted from 0
//!   when armed). A sync that is cut crashes with its writes still pending.
//! - An I/O error armed with [`SimDevice::fail_at`] makes that operation
//!   fail with [`SimError::Io`]: the cache is lost as at a crash (the way a
//!   failed `fsync` may drop dirty pages), but the power stays on.
//!
//! The NOR rule holds on files too: a byte is programmed at most once
//! between erases of its block. Bytes written before a crash stay
//! "programmed" after it whether their write survived or not (the engine
//! cannot know), and a block whose pending erase was dropped is wholly
//! "programmed" until erased again. Programming such a byte is recorded as
//! [`SimError::ProgrammedTwice`].

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use cairn_core::{BlockDevice, Geometry};
use rand::RngExt;

use crate::rng::{rng_from, SimRng};
use crate::{Access, Counters, SimDevice, SimError};

/// Sector size of the tearing model: the unit a crash keeps or drops.
pub const SECTOR: usize = 512;

/// What an erased block of a [`FileSim`] reads as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EraseFill {
    /// Zeros, like a hole punched in a file.
    Zeros,
    /// `0xFF`, like NOR flash.
    Ones,
    /// Random bytes, so nothing can be read into an erased block.
    Random,
}

/// How the last crash treated the writes pending in the cache.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrashReport {
    /// How the fates were drawn.
    pub mode: &'static str,
    /// Pending programs at the crash.
    pub programs: u32,
    /// Pending erases at the crash.
    pub erases: u32,
    /// Program sectors that reached the media.
    pub sectors_kept: u32,
    /// Program sectors that were lost.
    pub sectors_dropped: u32,
    /// Erases that reached the media.
    pub erases_kept: u32,
    /// Erases that were lost.
    pub erases_dropped: u32,
}

impl fmt::Display for CrashReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "crash ({}): {} programs, {} erases pending; sectors kept {} dropped {}; \
             erases kept {} dropped {}",
            self.mode,
            self.programs,
            self.erases,
            self.sectors_kept,
            self.sectors_dropped,
            self.erases_kept,
            self.erases_dropped
        )
    }
}

#[derive(Clone)]
enum Pending {
    Program { start: usize, data: Vec<u8> },
    Erase { block: u32, content: Vec<u8> },
}

/// One piece of pending state that may reach the media at a crash.
struct Piece {
    start: usize,
    op: usize,
    /// Range within the op's bytes.
    from: usize,
    to: usize,
}

struct State {
    block_size: u32,
    block_count: u32,
    fill: EraseFill,
    program_once: bool,
    sync_works: bool,
    durable: Vec<u8>,
    cache: Vec<u8>,
    written: Vec<bool>,
    pending: Vec<Pending>,
    erase_counts: Vec<u32>,
    counters: Counters,
    cut: Option<u64>,
    cut_is_error: bool,
    last_io_error: Option<Access>,
    powered: bool,
    rng: SimRng,
    violations: Vec<SimError>,
    last_crash: Option<CrashReport>,
}

impl State {
    fn violation(&mut self, e: SimError) -> SimError {
        self.violations.push(e.clone());
        e
    }

    fn check_range(
        &mut self,
        access: Access,
        block: u32,
        offset: u32,
        len: usize,
    ) -> Result<usize, SimError> {
        if block >= self.block_count || offset as u64 + len as u64 > self.block_size as u64 {
            return Err(self.violation(SimError::OutOfRange {
                access,
                block,
                offset,
                len: len as u32,
            }));
        }
        Ok(block as usize * self.block_size as usize + offset as usize)
    }

    /// Counts a mutating operation. If the armed cut fires on it, the
    /// cache is lost (as at a crash) and the error the operation fails with
    /// is returned: a power loss, or an I/O error that keeps the power on.
    fn mutate(&mut self, access: Access) -> Option<SimError> {
        self.counters.mutations += 1;
        match self.cut {
            Some(0) => {
                self.cut = None;
                self.lose_cache();
                if self.cut_is_error {
                    self.counters.io_errors += 1;
                    self.last_io_error = Some(access);
                    Some(SimError::Io)
                } else {
                    self.powered = false;
                    self.counters.power_losses += 1;
                    Some(SimError::PowerLost)
                }
            }
            Some(n) => {
                self.cut = Some(n - 1);
                None
            }
            None => None,
        }
    }

    /// Makes every pending write durable, in order.
    fn flush_pending(&mut self) {
        for p in self.pending.drain(..) {
            match p {
                Pending::Program { start, data } => {
                    self.durable[start..start + data.len()].copy_from_slice(&data);
                }
                Pending::Erase { block, content } => {
                    let start = block as usize * self.block_size as usize;
                    self.durable[start..start + content.len()].copy_from_slice(&content);
                }
            }
        }
    }

    /// The pending writes meet their fates and the cache is gone.
    fn lose_cache(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        // The fate of each piece: 0 drop all, 1 keep all in order, 2 keep
        // all in random order, otherwise keep each with a random
        // probability, in random order.
        let mode = self.rng.random_range(0..8u32);
        let (mode_name, keep_p, shuffle) = match mode {
            0 => ("all lost", 0.0, false),
            1 => ("all kept in order", 1.0, false),
            2 => ("all kept, reordered", 1.0, true),
            _ => (
                "each sector kept or lost",
                self.rng.random_range(0.1..0.9),
                true,
            ),
        };
        let mut report = CrashReport {
            mode: mode_name,
            ..CrashReport::default()
        };
        let mut pieces = Vec::new();
        let bs = self.block_size as usize;
        let mut dropped_erases = Vec::new();
        for (i, p) in pending.iter().enumerate() {
            match p {
                Pending::Program { start, data } => {
                    report.programs += 1;
                    let end = start + data.len();
                    let mut at = *start;
                    while at < end {
                        let next = ((at / SECTOR) + 1) * SECTOR;
                        let to = next.min(end);
                        if self.rng.random_bool(keep_p) {
                            report.sectors_kept += 1;
                            pieces.push(Piece {
                                start: at,
                                op: i,
                                from: at - start,
                                to: to - start,
                            });
                        } else {
                            report.sectors_dropped += 1;
                        }
                        at = to;
                    }
                }
                Pending::Erase { block, .. } => {
                    report.erases += 1;
                    if self.rng.random_bool(keep_p) {
                        report.erases_kept += 1;
                        pieces.push(Piece {
                            start: *block as usize * bs,
                            op: i,
                            from: 0,
                            to: bs,
                        });
                    } else {
                        report.erases_dropped += 1;
                        dropped_erases.push(*block);
                    }
                }
            }
        }
        if shuffle {
            // Fisher-Yates.
            for i in (1..pieces.len()).rev() {
                let j = self.rng.random_range(0..=i);
                pieces.swap(i, j);
            }
        }
        for piece in &pieces {
            let bytes = match &pending[piece.op] {
                Pending::Program { data, .. } => &data[piece.from..piece.to],
                Pending::Erase { content, .. } => &content[piece.from..piece.to],
            };
            self.durable[piece.start..piece.start + bytes.len()].copy_from_slice(bytes);
        }
        self.cache.copy_from_slice(&self.durable);
        for block in dropped_erases {
            let start = block as usize * bs;
            self.written[start..start + bs].fill(true);
        }
        self.last_crash = Some(report);
    }

    fn erased_content(&mut self) -> Vec<u8> {
        let bs = self.block_size as usize;
        match self.fill {
            EraseFill::Zeros => vec![0; bs],
            EraseFill::Ones => vec![0xFF; bs],
            EraseFill::Random => {
                let mut v = vec![0; bs];
                self.rng.fill(&mut v[..]);
                v
            }
        }
    }
}

/// A simulated file with a volatile cache; see the
/// [module documentation](self).
///
/// A cheap handle: clones share the same file.
///
/// ```
/// use cairn_core::BlockDevice;
/// use cairn_sim::{FileSim, SimDevice};
///
/// let mut dev = FileSim::new(4096, 8, 3);
/// dev.program(0, 0, b"durable").unwrap();
/// dev.sync().unwrap();
/// dev.program(0, 7, b" maybe").unwrap();
/// dev.crash();
/// dev.reboot();
/// let mut buf = [0u8; 7];
/// dev.read(0, 0, &mut buf).unwrap();
/// assert_eq!(&buf, b"durable");
/// ```
#[derive(Clone)]
pub struct FileSim {
    state: Rc<RefCell<State>>,
}

impl fmt::Debug for FileSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.borrow();
        f.debug_struct("FileSim")
            .field("block_size", &s.block_size)
            .field("block_count", &s.block_count)
            .field("pending", &s.pending.len())
            .field("counters", &s.counters)
            .field("powered", &s.powered)
            .field("cut", &s.cut)
            .finish()
    }
}

impl FileSim {
    /// A file of `block_count` blocks of `block_size` bytes, all zeros (a
    /// new sparse file), whose erased blocks read as zeros. `seed` drives
    /// every random choice a crash makes.
    ///
    /// # Panics
    ///
    /// If either size is zero.
    pub fn new(block_size: u32, block_count: u32, seed: u64) -> Self {
        assert!(block_size > 0 && block_count > 0, "empty geometry");
        let len = block_size as usize * block_count as usize;
        FileSim {
            state: Rc::new(RefCell::new(State {
                block_size,
                block_count,
                fill: EraseFill::Zeros,
                program_once: true,
                sync_works: true,
                cut_is_error: false,
                last_io_error: None,
                durable: vec![0; len],
                cache: vec![0; len],
                written: vec![false; len],
                pending: Vec::new(),
                erase_counts: vec![0; block_count as usize],
                counters: Counters::default(),
                cut: None,
                powered: true,
                rng: rng_from(seed),
                violations: Vec::new(),
                last_crash: None,
            })),
        }
    }

    /// Sets what erased blocks read as (from now on).
    pub fn with_erase_fill(self, fill: EraseFill) -> Self {
        self.state.borrow_mut().fill = fill;
        self
    }

    /// Turns the program-once check on or off (it is on by default).
    pub fn with_program_once(self, on: bool) -> Self {
        self.state.borrow_mut().program_once = on;
        self
    }

    /// Makes `sync` lie: it returns `Ok` but makes nothing durable. A
    /// broken device, for checking that a harness notices lost writes.
    pub fn with_lying_sync(self) -> Self {
        self.state.borrow_mut().sync_works = false;
        self
    }

    /// Programs and erases in the cache, not yet synced.
    pub fn pending_writes(&self) -> usize {
        self.state.borrow().pending.len()
    }

    /// A copy of what the media holds (the durable image, without the
    /// cache).
    pub fn durable_image(&self) -> Vec<u8> {
        self.state.borrow().durable.clone()
    }

    /// A copy of what reads see now (the cache).
    pub fn cached_image(&self) -> Vec<u8> {
        self.state.borrow().cache.clone()
    }

    /// Erases of each block, interrupted ones included.
    pub fn erase_counts(&self) -> Vec<u32> {
        self.state.borrow().erase_counts.clone()
    }

    /// How the last crash treated the pending writes.
    pub fn last_crash(&self) -> Option<CrashReport> {
        self.state.borrow().last_crash.clone()
    }

    /// Forgets the violations recorded so far.
    pub fn clear_violations(&self) {
        self.state.borrow_mut().violations.clear();
    }
}

impl BlockDevice for FileSim {
    type Error = SimError;

    fn geometry(&self) -> Geometry {
        let s = self.state.borrow();
        Geometry {
            block_size: s.block_size,
            block_count: s.block_count,
            read_size: 1,
            program_size: 1,
        }
    }

    fn read(&mut self, block: u32, offset: u32, buf: &mut [u8]) -> Result<(), SimError> {
        let s = &mut *self.state.borrow_mut();
        if !s.powered {
            return Err(SimError::PowerLost);
        }
        let start = s.check_range(Access::Read, block, offset, buf.len())?;
        buf.copy_from_slice(&s.cache[start..start + buf.len()]);
        s.counters.reads += 1;
        s.counters.bytes_read += buf.len() as u64;
        Ok(())
    }

    fn program(&mut self, block: u32, offset: u32, data: &[u8]) -> Result<(), SimError> {
        let s = &mut *self.state.borrow_mut();
        if !s.powered {
            return Err(SimError::PowerLost);
        }
        let start = s.check_range(Access::Program, block, offset, data.len())?;
        if s.program_once {
            if let Some(i) = s.written[start..start + data.len()].iter().position(|w| *w) {
                return Err(s.violation(SimError::ProgrammedTwice {
                    block,
                    offset: offset + i as u32,
                }));
            }
        }
        s.counters.programs += 1;
        s.counters.bytes_programmed += data.len() as u64;
        s.cache[start..start + data.len()].copy_from_slice(data);
        s.written[start..start + data.len()].fill(true);
        s.pending.push(Pending::Program {
            start,
            data: data.to_vec(),
        });
        if let Some(e) = s.mutate(Access::Program) {
            return Err(e);
        }
        Ok(())
    }

    fn erase(&mut self, block: u32) -> Result<(), SimError> {
        let s = &mut *self.state.borrow_mut();
        if !s.powered {
            return Err(SimError::PowerLost);
        }
        let start = s.check_range(Access::Erase, block, 0, 0)?;
        s.counters.erases += 1;
        s.erase_counts[block as usize] += 1;
        let content = s.erased_content();
        let bs = s.block_size as usize;
        s.cache[start..start + bs].copy_from_slice(&content);
        s.written[start..start + bs].fill(false);
        s.pending.push(Pending::Erase { block, content });
        if let Some(e) = s.mutate(Access::Erase) {
            return Err(e);
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), SimError> {
        let s = &mut *self.state.borrow_mut();
        if !s.powered {
            return Err(SimError::PowerLost);
        }
        s.counters.syncs += 1;
        if let Some(e) = s.mutate(Access::Sync) {
            return Err(e);
        }
        if s.sync_works {
            s.flush_pending();
        }
        Ok(())
    }
}

impl SimDevice for FileSim {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn cut_at(&self, k: u64) {
        let s = &mut *self.state.borrow_mut();
        s.cut = Some(k);
        s.cut_is_error = false;
    }

    fn fail_at(&self, k: u64) {
        let s = &mut *self.state.borrow_mut();
        s.cut = Some(k);
        s.cut_is_error = true;
    }

    fn last_io_error(&self) -> Option<Access> {
        self.state.borrow().last_io_error
    }

    fn disarm(&self) {
        self.state.borrow_mut().cut = None;
    }

    fn cut_pending(&self) -> bool {
        self.state.borrow().cut.is_some()
    }

    fn crash(&self) {
        let s = &mut *self.state.borrow_mut();
        if s.powered {
            s.lose_cache();
            s.powered = false;
            s.counters.power_losses += 1;
        }
    }

    fn reboot(&self) {
        self.state.borrow_mut().powered = true;
    }

    fn powered(&self) -> bool {
        self.state.borrow().powered
    }

    fn counters(&self) -> Counters {
        self.state.borrow().counters
    }

    fn violations(&self) -> Vec<SimError> {
        self.state.borrow().violations.clone()
    }

    fn snapshot(&self, seed: u64) -> Self {
        let s = self.state.borrow();
        FileSim {
            state: Rc::new(RefCell::new(State {
                block_size: s.block_size,
                block_count: s.block_count,
                fill: s.fill,
                program_once: s.program_once,
                sync_works: s.sync_works,
                durable: s.durable.clone(),
                cache: s.cache.clone(),
                written: s.written.clone(),
                pending: s.pending.clone(),
                erase_counts: s.erase_counts.clone(),
                counters: s.counters,
                cut: s.cut,
                cut_is_error: s.cut_is_error,
                last_io_error: s.last_io_error,
                powered: s.powered,
                rng: rng_from(seed),
                violations: s.violations.clone(),
                last_crash: s.last_crash.clone(),
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(d: &mut FileSim, block: u32, offset: u32, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        d.read(block, offset, &mut buf).unwrap();
        buf
    }

    #[test]
    fn reads_see_the_cache_and_sync_makes_it_durable() {
        let mut d = FileSim::new(4096, 4, 1);
        d.program(1, 10, b"hello").unwrap();
        assert_eq!(read(&mut d, 1, 10, 5), b"hello");
        assert_eq!(d.pending_writes(), 1);
        assert_eq!(d.durable_image()[4096 + 10], 0);
        d.sync().unwrap();
        assert_eq!(d.pending_writes(), 0);
        assert_eq!(&d.durable_image()[4096 + 10..4096 + 15], b"hello");
        assert_eq!(d.geometry().program_size, 1);
        assert_eq!(d.geometry().read_size, 1);
    }

    #[test]
    fn synced_data_survives_every_crash() {
        for seed in 0..32 {
            let mut d = FileSim::new(4096, 4, seed);
            d.program(0, 0, &[7; 3000]).unwrap();
            d.sync().unwrap();
            d.program(0, 3000, &[8; 1000]).unwrap();
            d.erase(2).unwrap();
            d.crash();
            d.reboot();
            assert_eq!(read(&mut d, 0, 0, 3000), vec![7; 3000]);
        }
    }

    #[test]
    fn unsynced_writes_are_kept_dropped_or_torn_by_sector() {
        let (mut all_kept, mut all_lost, mut torn) = (0, 0, 0);
        for seed in 0..200 {
            let mut d = FileSim::new(4096, 4, seed);
            // 4 sectors: 1024..1536, 1536..2048, 2048..2560, 2560..3072.
            d.program(0, 1024, &[0xAB; 2048]).unwrap();
            d.crash();
            d.reboot();
            let got = read(&mut d, 0, 1024, 2048);
            let sectors: Vec<bool> = got
                .chunks(SECTOR)
                .map(|s| {
                    // Each sector is all old or all new: never split.
                    assert!(s.iter().all(|b| *b == 0xAB) || s.iter().all(|b| *b == 0));
                    s[0] == 0xAB
                })
                .collect();
            match sectors.iter().filter(|k| **k).count() {
                0 => all_lost += 1,
                4 => all_kept += 1,
                _ => torn += 1,
            }
        }
        assert!(
            all_kept > 0 && all_lost > 0 && torn > 20,
            "{all_kept} {all_lost} {torn}"
        );
    }

    #[test]
    fn sectors_are_aligned_to_the_file_not_the_write() {
        // A write straddling a sector boundary of the file is two pieces.
        let mut split = false;
        for seed in 0..100 {
            let mut d = FileSim::new(1024, 4, seed);
            d.program(0, 500, &[1; 24]).unwrap();
            d.crash();
            d.reboot();
            let got = read(&mut d, 0, 500, 24);
            assert!(got[..12].iter().all(|b| *b == got[0]));
            assert!(got[12..].iter().all(|b| *b == got[12]));
            if got[0] != got[12] {
                split = true;
            }
        }
        assert!(split);
    }

    #[test]
    fn pending_writes_reach_media_in_any_order() {
        // Two writes to the same bytes: after a crash either may win, or
        // neither.
        let mut outcomes = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let mut d = FileSim::new(1024, 4, seed).with_program_once(false);
            d.program(0, 0, &[1; 16]).unwrap();
            d.program(0, 0, &[2; 16]).unwrap();
            d.crash();
            d.reboot();
            outcomes.insert(read(&mut d, 0, 0, 16)[0]);
        }
        assert_eq!(outcomes.into_iter().collect::<Vec<_>>(), vec![0, 1, 2]);
    }

    #[test]
    fn pending_erases_may_or_may_not_apply() {
        let (mut applied, mut lost) = (false, false);
        for seed in 0..64 {
            let mut d = FileSim::new(1024, 4, seed).with_erase_fill(EraseFill::Ones);
            d.program(3, 0, &[0x42; 1024]).unwrap();
            d.sync().unwrap();
            d.erase(3).unwrap();
            assert_eq!(read(&mut d, 3, 0, 4), vec![0xFF; 4]);
            d.crash();
            d.reboot();
            let got = read(&mut d, 3, 0, 1024);
            if got == vec![0xFF; 1024] {
                applied = true;
                d.program(3, 0, &[0; 4]).unwrap();
            } else {
                assert_eq!(got, vec![0x42; 1024]);
                lost = true;
                // The erase did not happen, so the block is not erased.
                assert!(matches!(
                    d.program(3, 0, &[0; 4]),
                    Err(SimError::ProgrammedTwice { .. })
                ));
            }
        }
        assert!(applied && lost);
    }

    #[test]
    fn cut_counts_programs_erases_and_syncs() {
        let mut d = FileSim::new(1024, 4, 0);
        d.cut_at(3);
        d.program(0, 0, &[1; 8]).unwrap(); // 0
        d.sync().unwrap(); // 1
        d.erase(1).unwrap(); // 2
        assert_eq!(d.sync(), Err(SimError::PowerLost)); // 3: cut during sync
        assert!(!d.powered());
        assert_eq!(d.program(0, 8, &[1; 8]), Err(SimError::PowerLost));
        let mut b = [0u8; 1];
        assert_eq!(d.read(0, 0, &mut b), Err(SimError::PowerLost));
        d.reboot();
        // The write synced before the cut is durable.
        assert_eq!(read(&mut d, 0, 0, 8), vec![1; 8]);
        assert_eq!(d.last_crash().unwrap().erases, 1);
        assert_eq!(d.counters().mutations, 4);
        assert_eq!(d.counters().power_losses, 1);
    }

    #[test]
    fn a_failed_sync_loses_the_cache_but_keeps_the_power() {
        let mut lost = false;
        for seed in 0..16 {
            let mut d = FileSim::new(1024, 4, seed);
            d.program(0, 0, &[1; 8]).unwrap();
            d.sync().unwrap();
            d.program(0, 8, &[2; 8]).unwrap();
            d.fail_at(0);
            assert_eq!(d.sync(), Err(SimError::Io));
            assert!(d.powered());
            assert_eq!(d.last_io_error(), Some(Access::Sync));
            assert_eq!(d.pending_writes(), 0);
            // What reads see now is what the media kept.
            let got = read(&mut d, 0, 0, 16);
            assert_eq!(&got[..8], &[1; 8]);
            if got[8..] == [0; 8] {
                lost = true;
            } else {
                assert_eq!(&got[8..], &[2; 8]);
            }
            assert_eq!(d.cached_image(), d.durable_image());
        }
        assert!(lost);
    }

    #[test]
    fn program_once_is_enforced_on_files_too() {
        let mut d = FileSim::new(1024, 4, 0);
        d.program(0, 0, &[1; 8]).unwrap();
        assert_eq!(
            d.program(0, 4, &[1; 8]),
            Err(SimError::ProgrammedTwice {
                block: 0,
                offset: 4
            })
        );
        assert_eq!(d.violations().len(), 1);
        d.erase(0).unwrap();
        d.program(0, 4, &[1; 8]).unwrap();
        // A write lost in a crash still counts as programmed: the engine
        // cannot know it was lost.
        d.crash();
        d.reboot();
        assert!(d.program(0, 4, &[1; 1]).is_err());
        assert!(matches!(
            d.read(4, 0, &mut [0u8; 1]),
            Err(SimError::OutOfRange { .. })
        ));
        assert_eq!(d.violations().len(), 3);
    }

    #[test]
    fn random_erase_fill_and_replay() {
        let mut d = FileSim::new(1024, 4, 1).with_erase_fill(EraseFill::Random);
        d.erase(1).unwrap();
        d.sync().unwrap();
        let block = &d.durable_image()[1024..2048];
        assert!(block.iter().filter(|b| **b == 0).count() < 64);
        // Crashes replay exactly from the seed.
        let run = |seed| {
            let mut d = FileSim::new(1024, 4, seed).with_erase_fill(EraseFill::Random);
            d.program(0, 0, &[9; 1024]).unwrap();
            d.erase(1).unwrap();
            d.program(2, 100, &[3; 700]).unwrap();
            d.crash();
            d.reboot();
            (d.durable_image(), d.last_crash())
        };
        assert_eq!(run(4), run(4));
        assert!((0..8).any(|s| run(s).0 != run(4).0));
    }
}
