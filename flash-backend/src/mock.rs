//! A NOR flash in memory for the tests: erased bytes read `0xFF`,
//! programming ANDs bits in, every word is programmed at most once between
//! two erases, every access is aligned, and every erase is counted per
//! erase unit.

use std::vec;
use std::vec::Vec;

use embedded_storage::nor_flash::{
    check_erase, check_read, check_write, ErrorType, NorFlash, NorFlashError, NorFlashErrorKind,
    ReadNorFlash,
};

/// What the mock refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MockError {
    /// Not aligned to the read, write or erase unit.
    NotAligned,
    /// Outside the flash.
    OutOfBounds,
    /// A word was programmed twice without an erase in between.
    ProgrammedTwice,
}

impl NorFlashError for MockError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            MockError::NotAligned => NorFlashErrorKind::NotAligned,
            MockError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            MockError::ProgrammedTwice => NorFlashErrorKind::Other,
        }
    }
}

impl From<NorFlashErrorKind> for MockError {
    fn from(k: NorFlashErrorKind) -> Self {
        match k {
            NorFlashErrorKind::NotAligned => MockError::NotAligned,
            _ => MockError::OutOfBounds,
        }
    }
}

/// `ERASE`-byte erase units, `WRITE`-byte program words, `READ`-byte reads.
pub struct MockFlash<const ERASE: usize, const WRITE: usize = 4, const READ: usize = 1> {
    data: Vec<u8>,
    /// One flag per word: programmed since its erase unit was last erased.
    written: Vec<bool>,
    /// Erases per erase unit.
    erases: Vec<u64>,
}

impl<const ERASE: usize, const WRITE: usize, const READ: usize> MockFlash<ERASE, WRITE, READ> {
    /// A factory-fresh flash of `units` erase units, all erased.
    pub fn new(units: usize) -> Self {
        MockFlash {
            data: vec![0xFF; units * ERASE],
            written: vec![false; units * ERASE / WRITE],
            erases: vec![0; units],
        }
    }

    /// The raw contents.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// How often each erase unit was erased.
    pub fn erase_counts(&self) -> &[u64] {
        &self.erases
    }

    /// Whether any word of erase unit `unit` has been programmed since it
    /// was last erased.
    pub fn unit_programmed(&self, unit: usize) -> bool {
        let words = ERASE / WRITE;
        self.written[unit * words..(unit + 1) * words]
            .iter()
            .any(|w| *w)
    }
}

impl<const ERASE: usize, const WRITE: usize, const READ: usize> ErrorType
    for MockFlash<ERASE, WRITE, READ>
{
    type Error = MockError;
}

impl<const ERASE: usize, const WRITE: usize, const READ: usize> ReadNorFlash
    for MockFlash<ERASE, WRITE, READ>
{
    const READ_SIZE: usize = READ;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), MockError> {
        check_read(self, offset, bytes.len())?;
        let at = offset as usize;
        bytes.copy_from_slice(&self.data[at..at + bytes.len()]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.data.len()
    }
}

impl<const ERASE: usize, const WRITE: usize, const READ: usize> NorFlash
    for MockFlash<ERASE, WRITE, READ>
{
    const WRITE_SIZE: usize = WRITE;
    const ERASE_SIZE: usize = ERASE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), MockError> {
        check_erase(self, from, to)?;
        let (from, to) = (from as usize, to as usize);
        self.data[from..to].fill(0xFF);
        self.written[from / WRITE..to / WRITE].fill(false);
        for unit in from / ERASE..to / ERASE {
            self.erases[unit] += 1;
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), MockError> {
        check_write(self, offset, bytes.len())?;
        let at = offset as usize;
        let words = at / WRITE..(at + bytes.len()) / WRITE;
        if self.written[words.clone()].iter().any(|w| *w) {
            return Err(MockError::ProgrammedTwice);
        }
        self.written[words].fill(true);
        for (cell, b) in self.data[at..at + bytes.len()].iter_mut().zip(bytes) {
            *cell &= *b;
        }
        Ok(())
    }
}
