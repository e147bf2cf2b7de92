//! A NOR flash emulated in memory, strict about the rules a real chip
//! imposes (and that the `embedded-storage` traits spell out):
//!
//! - an erase sets every byte of an erase unit to `0xFF`;
//! - programming can only clear bits: the new byte is `old & new`;
//! - a word is programmed at most once between two erases of its unit;
//! - reads, programs and erases are aligned to their units and inside the
//!   chip.
//!
//! It also counts the erases of every unit, to show how wear is spread.

use embedded_storage::nor_flash::{
    check_erase, check_read, check_write, ErrorType, NorFlash, NorFlashError, NorFlashErrorKind,
    ReadNorFlash,
};

/// What the emulated flash refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NorError {
    /// An address or length not aligned to the read, write or erase unit.
    NotAligned,
    /// An address range outside the chip.
    OutOfBounds,
    /// A word programmed a second time without an erase in between.
    ProgrammedTwice,
}

impl NorFlashError for NorError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            NorError::NotAligned => NorFlashErrorKind::NotAligned,
            NorError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            NorError::ProgrammedTwice => NorFlashErrorKind::Other,
        }
    }
}

impl From<NorFlashErrorKind> for NorError {
    fn from(kind: NorFlashErrorKind) -> Self {
        match kind {
            NorFlashErrorKind::NotAligned => NorError::NotAligned,
            _ => NorError::OutOfBounds,
        }
    }
}

/// The memory an emulated flash lives in: the cells, one bit per `WRITE`
/// byte word (set once the word is programmed), and an erase counter per
/// unit. Sized by the caller; see `board.rs`.
pub struct NorMemory {
    /// The flash cells.
    pub cells: &'static mut [u8],
    /// One bit per word: programmed since its unit was last erased.
    pub programmed: &'static mut [u32],
    /// Erases per erase unit.
    pub erases: &'static mut [u32],
}

/// An emulated NOR flash with `ERASE`-byte erase units, programmed in
/// `WRITE`-byte words and read in `READ`-byte units.
pub struct EmulatedNor<const ERASE: usize, const WRITE: usize, const READ: usize> {
    mem: NorMemory,
}

impl<const ERASE: usize, const WRITE: usize, const READ: usize> EmulatedNor<ERASE, WRITE, READ> {
    /// A factory-fresh chip: every unit erased, no erase counted. Panics if
    /// the memory handed in does not match the geometry.
    pub fn new_erased(mem: NorMemory) -> Self {
        let len = mem.cells.len();
        assert!(
            len.is_multiple_of(ERASE) && len > 0,
            "flash size is not whole units"
        );
        assert!(mem.programmed.len() * 32 * WRITE >= len, "bitmap too small");
        assert!(mem.erases.len() >= len / ERASE, "too few erase counters");
        mem.cells.fill(0xFF);
        mem.programmed.fill(0);
        mem.erases.fill(0);
        EmulatedNor { mem }
    }

    /// The least and the most erases any unit has seen.
    pub fn erase_range(&self) -> (u32, u32) {
        let units = &self.mem.erases[..self.mem.cells.len() / ERASE];
        let min = units.iter().copied().min().unwrap_or(0);
        let max = units.iter().copied().max().unwrap_or(0);
        (min, max)
    }

    fn word_programmed(&self, word: usize) -> bool {
        self.mem.programmed[word / 32] & (1 << (word % 32)) != 0
    }

    fn set_programmed(&mut self, word: usize, on: bool) {
        let bit = 1 << (word % 32);
        if on {
            self.mem.programmed[word / 32] |= bit;
        } else {
            self.mem.programmed[word / 32] &= !bit;
        }
    }
}

impl<const ERASE: usize, const WRITE: usize, const READ: usize> ErrorType
    for EmulatedNor<ERASE, WRITE, READ>
{
    type Error = NorError;
}

impl<const ERASE: usize, const WRITE: usize, const READ: usize> ReadNorFlash
    for EmulatedNor<ERASE, WRITE, READ>
{
    const READ_SIZE: usize = READ;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), NorError> {
        check_read(self, offset, bytes.len())?;
        let at = offset as usize;
        bytes.copy_from_slice(&self.mem.cells[at..at + bytes.len()]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.mem.cells.len()
    }
}

impl<const ERASE: usize, const WRITE: usize, const READ: usize> NorFlash
    for EmulatedNor<ERASE, WRITE, READ>
{
    const WRITE_SIZE: usize = WRITE;
    const ERASE_SIZE: usize = ERASE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), NorError> {
        check_erase(self, from, to)?;
        let (from, to) = (from as usize, to as usize);
        self.mem.cells[from..to].fill(0xFF);
        for word in from / WRITE..to / WRITE {
            self.set_programmed(word, false);
        }
        for unit in from / ERASE..to / ERASE {
            self.mem.erases[unit] += 1;
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), NorError> {
        check_write(self, offset, bytes.len())?;
        let at = offset as usize;
        let words = at / WRITE..(at + bytes.len()) / WRITE;
        if words.clone().any(|w| self.word_programmed(w)) {
            return Err(NorError::ProgrammedTwice);
        }
        for word in words {
            self.set_programmed(word, true);
        }
        for (cell, b) in self.mem.cells[at..at + bytes.len()].iter_mut().zip(bytes) {
            *cell &= *b;
        }
        Ok(())
    }
}

/// The baseline firmware's use of the flash: erase, program, read back,
/// and make sure the chip refuses to program a word twice. Returns the
/// number of checks passed.
#[cfg(not(feature = "store"))]
pub fn self_test<F: NorFlash>(flash: &mut F) -> Result<u32, &'static str> {
    let mut checks = 0;
    let unit = F::ERASE_SIZE as u32;
    let mut word = [0u8; 64];
    let word = &mut word[..F::WRITE_SIZE.max(F::READ_SIZE)];
    for u in 0..(flash.capacity() as u32 / unit) {
        flash
            .erase(u * unit, (u + 1) * unit)
            .map_err(|_| "erase failed")?;
        for (i, b) in word.iter_mut().enumerate() {
            *b = (u as u8).wrapping_add(i as u8);
        }
        flash.write(u * unit, word).map_err(|_| "program failed")?;
        if flash.write(u * unit, word).is_ok() {
            return Err("a word was programmed twice");
        }
        let mut back = [0u8; 64];
        let back = &mut back[..word.len()];
        flash.read(u * unit, back).map_err(|_| "read failed")?;
        if back != word {
            return Err("read back differs");
        }
        checks += 1;
    }
    Ok(checks)
}
