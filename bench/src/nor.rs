//! A NOR flash model in RAM, the one device every flash store is measured
//! on.
//!
//! The rules are those of real NOR flash: an erase sets a whole block to
//! `0xFF`; a program can only clear bits (the new contents are the old ones
//! AND the data); programs are whole words, aligned; and, unless the model
//! is told the chip allows it (`multiwrite`), a word is programmed at most
//! once between two erases of its block. Every read, program and erase is
//! counted.
//!
//! The model implements the device interface of each store measured on it:
//! `cairn_core::BlockDevice`, `embedded_storage`'s (blocking) and
//! `embedded_storage_async`'s NOR traits (sequential-storage), and
//! `ekv::flash::Flash`.

use core::fmt;

/// Bytes in one erase block.
pub const BLOCK_SIZE: usize = 4096;
/// Bytes in one program unit (a word).
pub const WORD: usize = 4;
/// Reads are aligned to this many bytes.
pub const READ_SIZE: usize = 4;

/// What the model refused. Each one is a bug in the store that asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NorError {
    /// Past the end of the device.
    OutOfBounds,
    /// Offset or length not a multiple of the word or read size.
    NotAligned,
    /// A word programmed a second time without an erase in between.
    ProgrammedTwice,
}

impl fmt::Display for NorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            NorError::OutOfBounds => "out of bounds",
            NorError::NotAligned => "not aligned",
            NorError::ProgrammedTwice => "word programmed twice",
        };
        f.write_str(s)
    }
}

impl std::error::Error for NorError {}

/// What has been done to the device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub reads: u64,
    pub bytes_read: u64,
    pub programs: u64,
    pub bytes_programmed: u64,
    pub erases: u64,
    /// Words programmed again without an erase (only in multiwrite mode).
    pub rewrites: u64,
}

/// A NOR flash of `blocks` blocks of [`BLOCK_SIZE`] bytes.
#[derive(Clone)]
pub struct Nor {
    data: Vec<u8>,
    /// One flag per word: programmed since its block was last erased.
    programmed: Vec<bool>,
    multiwrite: bool,
    erase_counts: Vec<u32>,
    pub counters: Counters,
}

impl fmt::Debug for Nor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nor")
            .field("blocks", &self.blocks())
            .field("multiwrite", &self.multiwrite)
            .field("counters", &self.counters)
            .finish()
    }
}

impl Nor {
    /// A device fresh from the factory: every byte erased.
    pub fn new(blocks: usize) -> Self {
        Nor {
            data: vec![0xFF; blocks * BLOCK_SIZE],
            programmed: vec![false; blocks * BLOCK_SIZE / WORD],
            multiwrite: false,
            erase_counts: vec![0; blocks],
            counters: Counters::default(),
        }
    }

    /// A device on which a programmed word may be programmed again (it can
    /// still only clear bits), as many NOR chips allow. Such programs are
    /// counted in [`Counters::rewrites`].
    pub fn with_multiwrite(blocks: usize) -> Self {
        Nor {
            multiwrite: true,
            ..Nor::new(blocks)
        }
    }

    pub fn blocks(&self) -> usize {
        self.erase_counts.len()
    }

    pub fn capacity(&self) -> usize {
        self.data.len()
    }

    /// The most times any one block has been erased.
    pub fn max_erase_count(&self) -> u32 {
        self.erase_counts.iter().copied().max().unwrap_or(0)
    }

    pub fn reset_counters(&mut self) {
        self.counters = Counters::default();
    }

    fn check(&self, offset: usize, len: usize, align: usize) -> Result<(), NorError> {
        if !offset.is_multiple_of(align) || !len.is_multiple_of(align) {
            return Err(NorError::NotAligned);
        }
        if offset
            .checked_add(len)
            .is_none_or(|end| end > self.data.len())
        {
            return Err(NorError::OutOfBounds);
        }
        Ok(())
    }

    /// Reads `buf.len()` bytes at byte address `offset`.
    pub fn read_at(&mut self, offset: usize, buf: &mut [u8]) -> Result<(), NorError> {
        self.check(offset, buf.len(), READ_SIZE)?;
        buf.copy_from_slice(&self.data[offset..offset + buf.len()]);
        self.counters.reads += 1;
        self.counters.bytes_read += buf.len() as u64;
        Ok(())
    }

    /// Programs `data` at byte address `offset`: whole, aligned words.
    pub fn program_at(&mut self, offset: usize, data: &[u8]) -> Result<(), NorError> {
        self.check(offset, data.len(), WORD)?;
        let words = offset / WORD..(offset + data.len()) / WORD;
        let again = self.programmed[words.clone()]
            .iter()
            .filter(|p| **p)
            .count();
        if again > 0 && !self.multiwrite {
            return Err(NorError::ProgrammedTwice);
        }
        for (cell, byte) in self.data[offset..offset + data.len()].iter_mut().zip(data) {
            *cell &= *byte;
        }
        self.programmed[words].fill(true);
        self.counters.programs += 1;
        self.counters.bytes_programmed += data.len() as u64;
        self.counters.rewrites += again as u64;
        Ok(())
    }

    /// Programs `data` at any byte address: the words it touches are
    /// programmed whole, with `0xFF` (which leaves a bit as it is) around
    /// the data. A word shared with earlier data is programmed again, so
    /// this needs a multiwrite device unless the data is aligned.
    pub fn program_unaligned(&mut self, offset: usize, data: &[u8]) -> Result<(), NorError> {
        let start = offset / WORD * WORD;
        let end = (offset + data.len()).div_ceil(WORD) * WORD;
        let mut words = vec![0xFF; end - start];
        words[offset - start..offset - start + data.len()].copy_from_slice(data);
        self.program_at(start, &words)
    }

    /// Erases block `block`.
    pub fn erase_block(&mut self, block: usize) -> Result<(), NorError> {
        if block >= self.blocks() {
            return Err(NorError::OutOfBounds);
        }
        let range = block * BLOCK_SIZE..(block + 1) * BLOCK_SIZE;
        self.data[range.clone()].fill(0xFF);
        self.programmed[range.start / WORD..range.end / WORD].fill(false);
        self.erase_counts[block] += 1;
        self.counters.erases += 1;
        Ok(())
    }

    /// Erases the blocks covering byte addresses `from..to` (block-aligned).
    pub fn erase_range(&mut self, from: usize, to: usize) -> Result<(), NorError> {
        if !from.is_multiple_of(BLOCK_SIZE) || !to.is_multiple_of(BLOCK_SIZE) || from > to {
            return Err(NorError::NotAligned);
        }
        for block in from / BLOCK_SIZE..to / BLOCK_SIZE {
            self.erase_block(block)?;
        }
        Ok(())
    }
}

// cairn's device interface.
impl cairn_core::BlockDevice for Nor {
    type Error = NorError;

    fn geometry(&self) -> cairn_core::Geometry {
        cairn_core::Geometry {
            block_size: BLOCK_SIZE as u32,
            block_count: self.blocks() as u32,
            read_size: READ_SIZE as u32,
            program_size: WORD as u32,
        }
    }

    fn read(&mut self, block: u32, offset: u32, buf: &mut [u8]) -> Result<(), NorError> {
        if offset as usize + buf.len() > BLOCK_SIZE {
            return Err(NorError::OutOfBounds);
        }
        self.read_at(block as usize * BLOCK_SIZE + offset as usize, buf)
    }

    fn program(&mut self, block: u32, offset: u32, data: &[u8]) -> Result<(), NorError> {
        if offset as usize + data.len() > BLOCK_SIZE {
            return Err(NorError::OutOfBounds);
        }
        self.program_at(block as usize * BLOCK_SIZE + offset as usize, data)
    }

    fn erase(&mut self, block: u32) -> Result<(), NorError> {
        self.erase_block(block as usize)
    }

    fn sync(&mut self) -> Result<(), NorError> {
        Ok(())
    }
}

// The embedded-storage NOR traits, blocking and async.
impl embedded_storage::nor_flash::NorFlashError for NorError {
    fn kind(&self) -> embedded_storage::nor_flash::NorFlashErrorKind {
        use embedded_storage::nor_flash::NorFlashErrorKind;
        match self {
            NorError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            NorError::NotAligned => NorFlashErrorKind::NotAligned,
            NorError::ProgrammedTwice => NorFlashErrorKind::Other,
        }
    }
}

impl embedded_storage::nor_flash::ErrorType for Nor {
    type Error = NorError;
}

impl embedded_storage::nor_flash::ReadNorFlash for Nor {
    const READ_SIZE: usize = READ_SIZE;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), NorError> {
        self.read_at(offset as usize, bytes)
    }

    fn capacity(&self) -> usize {
        Nor::capacity(self)
    }
}

impl embedded_storage::nor_flash::NorFlash for Nor {
    const WRITE_SIZE: usize = WORD;
    const ERASE_SIZE: usize = BLOCK_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), NorError> {
        self.erase_range(from as usize, to as usize)
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), NorError> {
        self.program_at(offset as usize, bytes)
    }
}

impl embedded_storage_async::nor_flash::ReadNorFlash for Nor {
    const READ_SIZE: usize = READ_SIZE;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), NorError> {
        self.read_at(offset as usize, bytes)
    }

    fn capacity(&self) -> usize {
        Nor::capacity(self)
    }
}

impl embedded_storage_async::nor_flash::NorFlash for Nor {
    const WRITE_SIZE: usize = WORD;
    const ERASE_SIZE: usize = BLOCK_SIZE;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), NorError> {
        self.erase_range(from as usize, to as usize)
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), NorError> {
        self.program_at(offset as usize, bytes)
    }
}

// ekv's device interface (pages are our blocks).
impl ekv::flash::Flash for Nor {
    type Error = NorError;

    fn page_count(&self) -> usize {
        self.blocks()
    }

    async fn erase(&mut self, page_id: ekv::flash::PageID) -> Result<(), NorError> {
        self.erase_block(page_id.index())
    }

    async fn read(
        &mut self,
        page_id: ekv::flash::PageID,
        offset: usize,
        data: &mut [u8],
    ) -> Result<(), NorError> {
        if offset + data.len() > BLOCK_SIZE {
            return Err(NorError::OutOfBounds);
        }
        self.read_at(page_id.index() * BLOCK_SIZE + offset, data)
    }

    async fn write(
        &mut self,
        page_id: ekv::flash::PageID,
        offset: usize,
        data: &[u8],
    ) -> Result<(), NorError> {
        if offset + data.len() > BLOCK_SIZE {
            return Err(NorError::OutOfBounds);
        }
        self.program_at(page_id.index() * BLOCK_SIZE + offset, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::BlockDevice;

    #[test]
    fn fresh_and_erased_blocks_read_ff() {
        let mut nor = Nor::new(4);
        let mut buf = [0u8; 8];
        nor.read_at(BLOCK_SIZE, &mut buf).unwrap();
        assert_eq!(buf, [0xFF; 8]);
        nor.program_at(BLOCK_SIZE, &[0; 8]).unwrap();
        nor.erase_block(1).unwrap();
        nor.read_at(BLOCK_SIZE, &mut buf).unwrap();
        assert_eq!(buf, [0xFF; 8]);
        assert_eq!(nor.max_erase_count(), 1);
    }

    #[test]
    fn program_ands_bits() {
        let mut nor = Nor::with_multiwrite(4);
        nor.program_at(0, &[0b1100_1111; 4]).unwrap();
        nor.program_at(0, &[0b1010_1111; 4]).unwrap();
        let mut buf = [0u8; 4];
        nor.read_at(0, &mut buf).unwrap();
        assert_eq!(buf, [0b1000_1111; 4]);
        assert_eq!(nor.counters.rewrites, 1);
    }

    #[test]
    fn a_word_is_programmed_once_between_erases() {
        let mut nor = Nor::new(4);
        nor.program_at(8, &[1, 2, 3, 4]).unwrap();
        assert_eq!(nor.program_at(8, &[0; 4]), Err(NorError::ProgrammedTwice));
        assert_eq!(nor.program_at(4, &[0; 8]), Err(NorError::ProgrammedTwice));
        // Its neighbours are still free.
        nor.program_at(4, &[0; 4]).unwrap();
        nor.program_at(12, &[0; 4]).unwrap();
        // An erase of another block does not free it; an erase of its own does.
        nor.erase_block(1).unwrap();
        assert_eq!(nor.program_at(8, &[0; 4]), Err(NorError::ProgrammedTwice));
        nor.erase_block(0).unwrap();
        nor.program_at(8, &[0; 4]).unwrap();
    }

    #[test]
    fn accesses_are_aligned_and_in_bounds() {
        let mut nor = Nor::new(2);
        assert_eq!(nor.program_at(2, &[0; 4]), Err(NorError::NotAligned));
        assert_eq!(nor.program_at(0, &[0; 3]), Err(NorError::NotAligned));
        assert_eq!(nor.read_at(1, &mut [0; 4]), Err(NorError::NotAligned));
        assert_eq!(
            nor.program_at(2 * BLOCK_SIZE, &[0; 4]),
            Err(NorError::OutOfBounds)
        );
        assert_eq!(nor.erase_block(2), Err(NorError::OutOfBounds));
        assert_eq!(nor.erase_range(0, 100), Err(NorError::NotAligned));
        assert_eq!(nor.counters, Counters::default());
    }

    #[test]
    fn unaligned_programs_widen_to_words() {
        let mut nor = Nor::with_multiwrite(1);
        nor.program_unaligned(1, &[0xAA, 0xBB]).unwrap();
        nor.program_unaligned(3, &[0xCC, 0xDD]).unwrap();
        let mut buf = [0u8; 8];
        nor.read_at(0, &mut buf).unwrap();
        assert_eq!(buf, [0xFF, 0xAA, 0xBB, 0xCC, 0xDD, 0xFF, 0xFF, 0xFF]);
        assert_eq!(nor.counters.bytes_programmed, 12);
        assert_eq!(nor.counters.rewrites, 1);
        let mut strict = Nor::new(1);
        strict.program_unaligned(1, &[0xAA]).unwrap();
        assert_eq!(
            strict.program_unaligned(2, &[0xBB]),
            Err(NorError::ProgrammedTwice)
        );
    }

    #[test]
    fn counters_count_bytes_and_calls() {
        let mut nor = Nor::new(4);
        nor.program(2, 16, &[0; 32]).unwrap();
        nor.read(2, 0, &mut [0; 64]).unwrap();
        nor.erase(3).unwrap();
        nor.erase_range(0, 2 * BLOCK_SIZE).unwrap();
        let c = nor.counters;
        assert_eq!((c.programs, c.bytes_programmed), (1, 32));
        assert_eq!((c.reads, c.bytes_read), (1, 64));
        assert_eq!(c.erases, 3);
        assert_eq!(nor.geometry().block_count, 4);
    }

    #[test]
    fn cairn_runs_on_the_model() {
        let cfg = cairn_core::Config {
            memtable_bytes: 1024,
            data_block_bytes: 512,
            max_key_len: 64,
            ..cairn_core::Config::default()
        };
        let mut db = cairn_core::Db::format(Nor::new(32), cfg).unwrap();
        for i in 0..300u32 {
            db.put(format!("key{}", i % 50).as_bytes(), &i.to_le_bytes())
                .unwrap();
        }
        assert_eq!(
            db.get_vec(b"key7").unwrap().as_deref(),
            Some(&257u32.to_le_bytes()[..])
        );
        assert!(db.device().counters.erases > 0);
    }
}
