//! A simulated NOR flash with power cuts.
//!
//! The physics, and nothing kinder:
//!
//! - Erasing a block sets its bytes to `0xFF`; programming ANDs the new bits
//!   into the old ones.
//! - A program word (`program_size` bytes) is programmed at most once
//!   between two erases of its block. Programming a word that is not erased
//!   (programmed since its block's last erase, or left undefined by an
//!   interrupted operation) fails with [`SimError::ProgrammedTwice`] and is
//!   recorded as a violation.
//! - Reads are aligned to `read_size`, programs to `program_size` (offset
//!   and length); anything else fails with [`SimError::Misaligned`] and is
//!   recorded.
//! - A power cut armed with [`SimDevice::cut_at`] fires at the k-th
//!   mutating operation (program or erase) counted from 0 from the moment it
//!   was armed. The interrupted operation does not complete:
//!   - an interrupted program leaves each of its words undefined: either all
//!     of them programmed, none of them, or (most often) each word
//!     independently programmed, untouched, random, or partially programmed
//!     (some of the bits that should fall to 0 did). The words count as not
//!     erased afterwards, whatever they read;
//!   - an interrupted erase leaves the whole block undefined: random bytes,
//!     all `0xFF`, or the old contents with random bits raised, and every
//!     word of the block counts as not erased.
//! - After a power loss every operation fails with [`SimError::PowerLost`]
//!   until [`SimDevice::reboot`].
//! - An I/O error armed with [`SimDevice::fail_at`] leaves the failed
//!   program or erase as a cut would, returns [`SimError::Io`], and keeps
//!   the power on.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use cairn_core::{BlockDevice, Geometry};
use rand::RngExt;

use crate::rng::{rng_from, SimRng};
use crate::{Access, Counters, SimDevice, SimError};

/// The state of one program word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Word {
    /// Erased since it was last programmed: may be programmed.
    Erased,
    /// Programmed since its block's last erase.
    Programmed,
    /// Left undefined by an interrupted program or erase.
    Undefined,
}

/// What a power cut did to the operation it interrupted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CutEffect {
    /// A program was interrupted.
    Program {
        /// Block programmed.
        block: u32,
        /// Offset of the program.
        offset: u32,
        /// Length of the program.
        len: u32,
        /// Words that ended fully programmed.
        done: u32,
        /// Words left as they were.
        untouched: u32,
        /// Words holding random bytes.
        random: u32,
        /// Words with only some of their bits programmed.
        partial: u32,
    },
    /// An erase was interrupted.
    Erase {
        /// Block erased.
        block: u32,
        /// How the block was left.
        left: &'static str,
    },
}

impl fmt::Display for CutEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CutEffect::Program {
                block,
                offset,
                len,
                done,
                untouched,
                random,
                partial,
            } => write!(
                f,
                "program of block {block} offset {offset} len {len} cut: {done} words done, \
                 {untouched} untouched, {random} random, {partial} partial"
            ),
            CutEffect::Erase { block, left } => {
                write!(f, "erase of block {block} cut: block left {left}")
            }
        }
    }
}

struct State {
    geometry: Geometry,
    data: Vec<u8>,
    words: Vec<Word>,
    erase_counts: Vec<u32>,
    counters: Counters,
    /// Mutating operations still to pass before the armed cut fires.
    cut: Option<u64>,
    /// The armed cut is an I/O error, not a power loss.
    cut_is_error: bool,
    last_io_error: Option<Access>,
    powered: bool,
    rng: SimRng,
    violations: Vec<SimError>,
    last_cut: Option<CutEffect>,
    /// Set by [`NorSim::with_lagging_programs`]: where the last completed
    /// program went and what the bytes held before it.
    lag: Option<Option<(usize, Vec<u8>)>>,
}

impl State {
    /// A broken device loses the program before the interrupted operation.
    fn lose_lagging_program(&mut self) {
        if let Some(Some((start, old))) = self.lag.take() {
            self.data[start..start + old.len()].copy_from_slice(&old);
        }
        if self.lag.is_some() {
            self.lag = Some(None);
        }
    }

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
        let g = self.geometry;
        if block >= g.block_count || offset as u64 + len as u64 > g.block_size as u64 {
            return Err(self.violation(SimError::OutOfRange {
                access,
                block,
                offset,
                len: len as u32,
            }));
        }
        Ok(block as usize * g.block_size as usize + offset as usize)
    }

    fn check_aligned(
        &mut self,
        access: Access,
        unit: u32,
        block: u32,
        offset: u32,
        len: usize,
    ) -> Result<(), SimError> {
        if offset % unit != 0 || len as u64 % unit as u64 != 0 {
            return Err(self.violation(SimError::Misaligned {
                access,
                block,
                offset,
                len: len as u32,
            }));
        }
        Ok(())
    }

    /// Counts a mutating operation; `Some` if the armed cut fires on it,
    /// with the error the operation fails with.
    fn mutate(&mut self, access: Access) -> Option<SimError> {
        self.counters.mutations += 1;
        match self.cut {
            Some(0) => {
                self.cut = None;
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

    fn tear_program(&mut self, block: u32, offset: u32, start: usize, data: &[u8]) {
        let ps = self.geometry.program_size as usize;
        let first_word = start / ps;
        // 0: every word done, 1: nothing done, 2..: each word on its own.
        let pattern = self.rng.random_range(0..6u32);
        let (mut done, mut untouched, mut random, mut partial) = (0, 0, 0, 0);
        for (w, chunk) in data.chunks(ps).enumerate() {
            let at = start + w * ps;
            let fate = match pattern {
                0 => 0,
                1 => 1,
                _ => self.rng.random_range(0..4u32),
            };
            let word = &mut self.data[at..at + ps];
            match fate {
                0 => {
                    done += 1;
                    for (b, d) in word.iter_mut().zip(chunk) {
                        *b &= *d;
                    }
                }
                1 => untouched += 1,
                2 => {
                    random += 1;
                    self.rng.fill(word);
                }
                _ => {
                    partial += 1;
                    for (b, d) in word.iter_mut().zip(chunk) {
                        let noise: u8 = self.rng.random();
                        *b &= *d | noise;
                    }
                }
            }
            self.words[first_word + w] = Word::Undefined;
        }
        self.last_cut = Some(CutEffect::Program {
            block,
            offset,
            len: data.len() as u32,
            done,
            untouched,
            random,
            partial,
        });
    }

    fn tear_erase(&mut self, block: u32) {
        let bs = self.geometry.block_size as usize;
        let ps = self.geometry.program_size as usize;
        let start = block as usize * bs;
        let bytes = &mut self.data[start..start + bs];
        let left = match self.rng.random_range(0..4u32) {
            0 | 1 => {
                self.rng.fill(bytes);
                "random"
            }
            2 => {
                bytes.fill(0xFF);
                "reading as erased"
            }
            _ => {
                for b in bytes.iter_mut() {
                    let noise: u8 = self.rng.random();
                    *b |= noise;
                }
                "half erased"
            }
        };
        self.words[start / ps..(start + bs) / ps].fill(Word::Undefined);
        self.last_cut = Some(CutEffect::Erase { block, left });
    }
}

/// A simulated NOR flash; see the [module documentation](self).
///
/// A cheap handle: clones share the same media, so a harness can keep one
/// while a store owns another, and inspect or reboot the device after the
/// store is gone.
///
/// ```
/// use cairn_core::BlockDevice;
/// use cairn_sim::{NorSim, SimDevice, SimError};
///
/// let mut dev = NorSim::new(4096, 8, 1, 4, 7);
/// let keep = dev.clone();
/// dev.erase(0).unwrap();
/// dev.program(0, 0, &[0x0F; 4]).unwrap();
/// assert!(matches!(
///     dev.program(0, 0, &[0xF0; 4]),
///     Err(SimError::ProgrammedTwice { block: 0, offset: 0 })
/// ));
/// assert_eq!(keep.violations().len(), 1);
/// ```
#[derive(Clone)]
pub struct NorSim {
    state: Rc<RefCell<State>>,
}

impl fmt::Debug for NorSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.borrow();
        f.debug_struct("NorSim")
            .field("geometry", &s.geometry)
            .field("counters", &s.counters)
            .field("powered", &s.powered)
            .field("cut", &s.cut)
            .finish()
    }
}

impl NorSim {
    /// A device of `block_count` blocks of `block_size` bytes, read in
    /// units of `read_size` and programmed in units of `program_size`, fully
    /// erased. `seed` drives every random choice a power cut makes.
    ///
    /// # Panics
    ///
    /// If the sizes are zero or `block_size` is not a multiple of both
    /// units.
    pub fn new(
        block_size: u32,
        block_count: u32,
        read_size: u32,
        program_size: u32,
        seed: u64,
    ) -> Self {
        Self::with_geometry(
            Geometry {
                block_size,
                block_count,
                read_size,
                program_size,
            },
            seed,
        )
    }

    /// A fully erased device of the given geometry; see [`NorSim::new`].
    pub fn with_geometry(geometry: Geometry, seed: u64) -> Self {
        let g = geometry;
        assert!(g.block_size > 0 && g.block_count > 0, "empty geometry");
        assert!(
            g.read_size > 0 && g.program_size > 0,
            "read and program units must be non-zero"
        );
        assert!(
            g.block_size % g.read_size == 0 && g.block_size % g.program_size == 0,
            "block_size must be a multiple of the read and program units"
        );
        let len = g.block_size as usize * g.block_count as usize;
        NorSim {
            state: Rc::new(RefCell::new(State {
                geometry: g,
                data: vec![0xFF; len],
                words: vec![Word::Erased; len / g.program_size as usize],
                erase_counts: vec![0; g.block_count as usize],
                counters: Counters::default(),
                cut: None,
                cut_is_error: false,
                last_io_error: None,
                powered: true,
                rng: rng_from(seed),
                violations: Vec::new(),
                last_cut: None,
                lag: None,
            })),
        }
    }

    /// Makes the device lie: a power cut also loses the last program that
    /// completed before it, as if programs were acknowledged before their
    /// bits were stable. A broken device, for checking that a harness
    /// notices lost acknowledged writes.
    pub fn with_lagging_programs(self) -> Self {
        self.state.borrow_mut().lag = Some(None);
        self
    }

    /// Erases performed on each block, interrupted ones included.
    pub fn erase_counts(&self) -> Vec<u32> {
        self.state.borrow().erase_counts.clone()
    }

    /// A copy of the whole media.
    pub fn image(&self) -> Vec<u8> {
        self.state.borrow().data.clone()
    }

    /// A copy of one block, read without alignment rules or counting.
    pub fn block_bytes(&self, block: u32) -> Vec<u8> {
        let s = self.state.borrow();
        let bs = s.geometry.block_size as usize;
        s.data[block as usize * bs..(block as usize + 1) * bs].to_vec()
    }

    /// What the last power cut did to the operation it interrupted.
    pub fn last_cut(&self) -> Option<CutEffect> {
        self.state.borrow().last_cut.clone()
    }

    /// Forgets the violations recorded so far.
    pub fn clear_violations(&self) {
        self.state.borrow_mut().violations.clear();
    }
}

impl BlockDevice for NorSim {
    type Error = SimError;

    fn geometry(&self) -> Geometry {
        self.state.borrow().geometry
    }

    fn read(&mut self, block: u32, offset: u32, buf: &mut [u8]) -> Result<(), SimError> {
        let s = &mut *self.state.borrow_mut();
        if !s.powered {
            return Err(SimError::PowerLost);
        }
        let rs = s.geometry.read_size;
        s.check_aligned(Access::Read, rs, block, offset, buf.len())?;
        let start = s.check_range(Access::Read, block, offset, buf.len())?;
        buf.copy_from_slice(&s.data[start..start + buf.len()]);
        s.counters.reads += 1;
        s.counters.bytes_read += buf.len() as u64;
        Ok(())
    }

    fn program(&mut self, block: u32, offset: u32, data: &[u8]) -> Result<(), SimError> {
        let s = &mut *self.state.borrow_mut();
        if !s.powered {
            return Err(SimError::PowerLost);
        }
        let ps = s.geometry.program_size;
        s.check_aligned(Access::Program, ps, block, offset, data.len())?;
        let start = s.check_range(Access::Program, block, offset, data.len())?;
        let first = start / ps as usize;
        let words = data.len() / ps as usize;
        if let Some(w) = s.words[first..first + words]
            .iter()
            .position(|w| *w != Word::Erased)
        {
            return Err(s.violation(SimError::ProgrammedTwice {
                block,
                offset: offset + w as u32 * ps,
            }));
        }
        s.counters.programs += 1;
        s.counters.bytes_programmed += data.len() as u64;
        if let Some(e) = s.mutate(Access::Program) {
            s.lose_lagging_program();
            s.tear_program(block, offset, start, data);
            return Err(e);
        }
        if let Some(lag) = &mut s.lag {
            *lag = Some((start, s.data[start..start + data.len()].to_vec()));
        }
        for (b, d) in s.data[start..start + data.len()].iter_mut().zip(data) {
            *b &= *d;
        }
        s.words[first..first + words].fill(Word::Programmed);
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
        if let Some(e) = s.mutate(Access::Erase) {
            s.lose_lagging_program();
            s.tear_erase(block);
            return Err(e);
        }
        let bs = s.geometry.block_size as usize;
        let ps = s.geometry.program_size as usize;
        s.data[start..start + bs].fill(0xFF);
        s.words[start / ps..(start + bs) / ps].fill(Word::Erased);
        Ok(())
    }

    fn sync(&mut self) -> Result<(), SimError> {
        let s = &mut *self.state.borrow_mut();
        if !s.powered {
            return Err(SimError::PowerLost);
        }
        s.counters.syncs += 1;
        Ok(())
    }
}

impl SimDevice for NorSim {
    fn kind(&self) -> &'static str {
        "nor"
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
        NorSim {
            state: Rc::new(RefCell::new(State {
                geometry: s.geometry,
                data: s.data.clone(),
                words: s.words.clone(),
                erase_counts: s.erase_counts.clone(),
                counters: s.counters,
                cut: s.cut,
                cut_is_error: s.cut_is_error,
                last_io_error: s.last_io_error,
                powered: s.powered,
                rng: rng_from(seed),
                violations: s.violations.clone(),
                last_cut: s.last_cut.clone(),
                lag: s.lag.clone(),
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> NorSim {
        NorSim::new(1024, 4, 4, 8, 1)
    }

    fn read(d: &mut NorSim, block: u32, offset: u32, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        d.read(block, offset, &mut buf).unwrap();
        buf
    }

    #[test]
    fn fresh_and_erased_blocks_read_ff() {
        let mut d = dev();
        assert_eq!(read(&mut d, 2, 0, 1024), vec![0xFF; 1024]);
        d.program(2, 8, &[0; 8]).unwrap();
        d.erase(2).unwrap();
        assert_eq!(read(&mut d, 2, 0, 1024), vec![0xFF; 1024]);
        assert_eq!(d.erase_counts(), vec![0, 0, 1, 0]);
    }

    #[test]
    fn programming_ands_bits_and_only_erase_raises_them() {
        let mut d = dev();
        d.program(0, 0, &[0xF0; 8]).unwrap();
        assert_eq!(read(&mut d, 0, 0, 8), vec![0xF0; 8]);
        // A program of the next word does not disturb this one.
        d.program(0, 8, &[0x3C; 8]).unwrap();
        assert_eq!(read(&mut d, 0, 0, 16), [[0xF0; 8], [0x3C; 8]].concat());
        d.erase(0).unwrap();
        d.program(0, 0, &[0x0F; 8]).unwrap();
        assert_eq!(read(&mut d, 0, 0, 8), vec![0x0F; 8]);
    }

    #[test]
    fn program_twice_is_refused_and_recorded() {
        let mut d = dev();
        let watcher = d.clone();
        d.program(1, 16, &[0xAA; 16]).unwrap();
        let err = d.program(1, 24, &[0x00; 8]).unwrap_err();
        assert_eq!(
            err,
            SimError::ProgrammedTwice {
                block: 1,
                offset: 24
            }
        );
        // The refused program changed nothing.
        assert_eq!(read(&mut d, 1, 16, 16), vec![0xAA; 16]);
        assert_eq!(watcher.violations(), vec![err]);
        // Programming the same bits again is just as wrong: program-once is
        // about words, not values.
        assert!(d.program(1, 16, &[0xAA; 8]).is_err());
        assert_eq!(watcher.violations().len(), 2);
        d.erase(1).unwrap();
        d.program(1, 16, &[0xAA; 8]).unwrap();
        assert_eq!(watcher.violations().len(), 2);
    }

    #[test]
    fn misaligned_and_out_of_range_accesses_are_recorded() {
        let mut d = dev();
        let mut buf = [0u8; 4];
        assert!(matches!(
            d.read(0, 2, &mut buf),
            Err(SimError::Misaligned {
                access: Access::Read,
                ..
            })
        ));
        assert!(matches!(
            d.read(0, 0, &mut buf[..3]),
            Err(SimError::Misaligned { .. })
        ));
        assert!(matches!(
            d.program(0, 4, &[0; 8]),
            Err(SimError::Misaligned {
                access: Access::Program,
                ..
            })
        ));
        assert!(matches!(
            d.program(0, 0, &[0; 12]),
            Err(SimError::Misaligned { .. })
        ));
        assert!(matches!(
            d.program(0, 1024 - 8, &[0; 16]),
            Err(SimError::OutOfRange { .. })
        ));
        assert!(matches!(
            d.erase(4),
            Err(SimError::OutOfRange {
                access: Access::Erase,
                ..
            })
        ));
        assert_eq!(d.violations().len(), 6);
        assert_eq!(d.counters().mutations, 0);
    }

    #[test]
    fn counts_operations_and_bytes() {
        let mut d = dev();
        d.erase(0).unwrap();
        d.program(0, 0, &[1; 16]).unwrap();
        d.program(0, 16, &[1; 8]).unwrap();
        let mut buf = [0u8; 12];
        d.read(0, 0, &mut buf).unwrap();
        d.sync().unwrap();
        let c = d.counters();
        assert_eq!(
            (c.erases, c.programs, c.reads, c.syncs, c.mutations),
            (1, 2, 1, 1, 3)
        );
        assert_eq!((c.bytes_programmed, c.bytes_read), (24, 12));
    }

    #[test]
    fn cut_fires_at_the_kth_mutation_and_holds_until_reboot() {
        let mut d = dev();
        d.cut_at(2);
        d.program(0, 0, &[0; 8]).unwrap(); // mutation 0
        let mut buf = [0u8; 8];
        d.read(0, 0, &mut buf).unwrap(); // reads do not count
        d.erase(1).unwrap(); // mutation 1
        assert!(d.cut_pending());
        assert_eq!(d.program(0, 8, &[0; 8]), Err(SimError::PowerLost)); // mutation 2
        assert!(!d.powered() && !d.cut_pending());
        assert_eq!(d.read(0, 0, &mut buf), Err(SimError::PowerLost));
        assert_eq!(d.erase(2), Err(SimError::PowerLost));
        assert_eq!(d.sync(), Err(SimError::PowerLost));
        d.reboot();
        d.read(0, 0, &mut buf).unwrap();
        assert_eq!(buf, [0; 8]);
        assert_eq!(d.counters().power_losses, 1);
        // The interrupted words are undefined: programming them again
        // without an erase is a violation.
        assert!(matches!(
            d.program(0, 8, &[0; 8]),
            Err(SimError::ProgrammedTwice { .. })
        ));
        d.erase(0).unwrap();
        d.program(0, 8, &[0; 8]).unwrap();
    }

    #[test]
    fn torn_programs_are_not_just_clean_prefixes() {
        // A 256-byte program of zeros over erased flash, cut, many times
        // with different seeds: the words must come out in every state.
        let (mut done, mut untouched, mut other, mut non_prefix) = (0, 0, 0, 0);
        for seed in 0..64 {
            let mut d = NorSim::new(1024, 4, 1, 8, seed);
            d.cut_at(0);
            assert_eq!(d.program(3, 64, &[0u8; 256]), Err(SimError::PowerLost));
            d.reboot();
            let bytes = read(&mut d, 3, 64, 256);
            let mut states = Vec::new();
            for w in bytes.chunks(8) {
                let s = if w.iter().all(|b| *b == 0) {
                    done += 1;
                    0
                } else if w.iter().all(|b| *b == 0xFF) {
                    untouched += 1;
                    1
                } else {
                    other += 1;
                    2
                };
                states.push(s);
            }
            // A clean prefix would be some 0s followed only by 1s.
            let first_not_done = states.iter().position(|s| *s != 0).unwrap_or(states.len());
            if states[first_not_done..].iter().any(|s| *s != 1) {
                non_prefix += 1;
            }
            // Nothing outside the program was touched.
            assert_eq!(read(&mut d, 3, 0, 64), vec![0xFF; 64]);
            assert_eq!(read(&mut d, 3, 320, 1024 - 320), vec![0xFF; 1024 - 320]);
        }
        assert!(
            done > 0 && untouched > 0 && other > 0,
            "{done} {untouched} {other}"
        );
        assert!(
            non_prefix > 10,
            "only {non_prefix} torn programs were not prefixes"
        );
    }

    #[test]
    fn torn_programs_replay_from_the_seed() {
        let run = |seed| {
            let mut d = NorSim::new(1024, 4, 1, 4, seed);
            d.cut_at(1);
            d.program(0, 0, &[0x55; 64]).unwrap();
            assert!(d.program(0, 64, &[0x00; 128]).is_err());
            (d.image(), d.last_cut())
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9).0, run(10).0);
    }

    #[test]
    fn torn_erase_leaves_whole_block_undefined() {
        let mut random_seen = false;
        for seed in 0..16 {
            let mut d = NorSim::new(1024, 4, 1, 4, seed);
            d.program(1, 0, &[0u8; 1024]).unwrap();
            d.program(2, 0, &[0x5A; 4]).unwrap();
            d.cut_at(0);
            assert_eq!(d.erase(1), Err(SimError::PowerLost));
            d.reboot();
            let b = read(&mut d, 1, 0, 1024);
            if b.iter().any(|x| *x != 0 && *x != 0xFF) {
                random_seen = true;
            }
            // Neighbours are untouched.
            assert_eq!(read(&mut d, 2, 0, 4), vec![0x5A; 4]);
            assert_eq!(read(&mut d, 0, 0, 1024), vec![0xFF; 1024]);
            // Every word of the torn block must be erased before use.
            assert!(d.program(1, 1020, &[0; 4]).is_err());
            d.erase(1).unwrap();
            d.program(1, 1020, &[0; 4]).unwrap();
            assert_eq!(d.erase_counts()[1], 2);
        }
        assert!(random_seen);
    }

    #[test]
    fn io_error_tears_the_program_but_keeps_the_power() {
        let mut d = dev();
        d.fail_at(1);
        d.program(0, 0, &[0; 8]).unwrap();
        assert_eq!(d.program(0, 8, &[0; 64]), Err(SimError::Io));
        assert!(d.powered() && !d.cut_pending());
        assert_eq!(d.last_io_error(), Some(Access::Program));
        assert_eq!(d.counters().io_errors, 1);
        assert_eq!(d.counters().power_losses, 0);
        // Later operations work, but the failed words are undefined.
        d.program(0, 128, &[0; 8]).unwrap();
        assert!(matches!(
            d.program(0, 8, &[0; 8]),
            Err(SimError::ProgrammedTwice { .. })
        ));
        d.fail_at(0);
        assert_eq!(d.erase(1), Err(SimError::Io));
        assert_eq!(d.last_io_error(), Some(Access::Erase));
        d.erase(1).unwrap();
    }

    #[test]
    fn explicit_crash_and_snapshot() {
        let mut d = dev();
        d.program(0, 0, &[0x11; 8]).unwrap();
        let mut copy = d.snapshot(5);
        d.crash();
        assert_eq!(d.program(0, 8, &[0; 8]), Err(SimError::PowerLost));
        // The snapshot is independent and still powered.
        copy.program(0, 8, &[0x22; 8]).unwrap();
        d.reboot();
        assert_eq!(read(&mut d, 0, 0, 16), [[0x11; 8], [0xFF; 8]].concat());
        assert_eq!(read(&mut copy, 0, 0, 16), [[0x11; 8], [0x22; 8]].concat());
        // A crash between operations tears nothing.
        assert_eq!(d.last_cut(), None);
    }
}
