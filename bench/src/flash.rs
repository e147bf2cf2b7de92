//! The flash half: cairn and the key-value stores made for raw NOR flash,
//! each on the same NOR model with the same geometry, each write durable
//! when it returns.

use std::cell::RefCell;

use embassy_futures::block_on;

use crate::nor::{Counters, Nor, BLOCK_SIZE};
use crate::rng::{seed_for, Rng};

/// Blocks of the device every store gets: 256 x 4 KiB = 1 MiB, 4-byte words.
pub const BLOCKS: usize = 256;
pub const KEY_LEN: usize = 16;
pub const VALUE_LEN: usize = 32;
/// Gets measured after each workload's writes.
pub const GETS: usize = 1000;

/// The stores measured on flash, cairn first.
pub const ENGINES: [&str; 4] = ["cairn", "sequential-storage", "ekv", "tickv"];
pub const KEY_COUNTS: [usize; 4] = [10, 100, 1000, 10_000];

/// A flash workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlashWorkload {
    /// A set of keys updated again and again (configuration).
    Config,
    /// Keys written once each, in increasing order (logging).
    Log,
    /// Random puts and deletes over a set of keys.
    Mix,
}

impl FlashWorkload {
    pub const ALL: [FlashWorkload; 3] = [
        FlashWorkload::Config,
        FlashWorkload::Log,
        FlashWorkload::Mix,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FlashWorkload::Config => "config",
            FlashWorkload::Log => "log",
            FlashWorkload::Mix => "mix",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.name() == s)
    }

    /// Operations for `keys` keys.
    pub fn ops(self, keys: usize) -> usize {
        match self {
            FlashWorkload::Log => keys,
            FlashWorkload::Config | FlashWorkload::Mix => (2 * keys).max(100_000),
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            FlashWorkload::Config => {
                "each key written once in random order, then random keys updated: max(100,000, 2 x keys) writes"
            }
            FlashWorkload::Log => "each key written once, in increasing key order: keys writes",
            FlashWorkload::Mix => {
                "max(100,000, 2 x keys) operations on random keys: 3 in 4 puts, 1 in 4 deletes"
            }
        }
    }
}

/// Why a store stopped.
#[derive(Debug)]
pub enum StoreError {
    /// It reported that the device is full.
    Full,
    /// Anything else, with the store's words.
    Other(String),
}

type Result<T> = std::result::Result<T, StoreError>;

fn other(e: impl std::fmt::Debug) -> StoreError {
    StoreError::Other(format!("{e:?}"))
}

/// A store on a NOR device.
trait FlashStore {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()>;
    fn delete(&mut self, key: &[u8]) -> Result<()>;
    fn get(&mut self, key: &[u8], buf: &mut [u8]) -> Result<Option<usize>>;
    /// Simulates a restart: forgets everything held in RAM and opens the
    /// store again from flash.
    fn reopen(&mut self) -> Result<()>;
    fn with_nor<R>(&mut self, f: impl FnOnce(&mut Nor) -> R) -> R;
}

// ------------------------------------------------------------------ cairn

/// The configuration cairn is measured with on flash.
pub fn cairn_config() -> cairn_core::Config {
    cairn_core::Config {
        memtable_bytes: 4096,
        data_block_bytes: 512,
        max_key_len: 64,
        allocation: cairn_core::Allocation::RoundRobin,
        ..cairn_core::Config::default()
    }
}

struct CairnStore {
    db: Option<cairn_core::Db<Nor>>,
}

impl CairnStore {
    fn new() -> Result<Self> {
        let db = cairn_core::Db::format(Nor::new(BLOCKS), cairn_config()).map_err(other)?;
        Ok(CairnStore { db: Some(db) })
    }

    fn db(&mut self) -> &mut cairn_core::Db<Nor> {
        self.db.as_mut().expect("open")
    }
}

fn cairn_err<E: std::fmt::Debug>(e: cairn_core::Error<E>) -> StoreError {
    match e {
        cairn_core::Error::Full => StoreError::Full,
        e => other(e),
    }
}

impl FlashStore for CairnStore {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.db().put(key, value).map_err(cairn_err)
    }
    fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.db().delete(key).map_err(cairn_err)
    }
    fn get(&mut self, key: &[u8], buf: &mut [u8]) -> Result<Option<usize>> {
        self.db().get(key, buf).map_err(cairn_err)
    }
    fn reopen(&mut self) -> Result<()> {
        let dev = self.db.take().expect("open").into_device();
        self.db = Some(cairn_core::Db::open(dev, cairn_config()).map_err(cairn_err)?);
        Ok(())
    }
    fn with_nor<R>(&mut self, f: impl FnOnce(&mut Nor) -> R) -> R {
        f(self.db().device_mut())
    }
}

// ------------------------------------------------------ sequential-storage

type SsCache = sequential_storage::cache::Cache<
    sequential_storage::cache::page_states::ArrayPageStates<BLOCKS>,
    sequential_storage::cache::page_pointers::ArrayPagePointers<BLOCKS>,
    sequential_storage::cache::Uncached,
    [u8; KEY_LEN],
>;

fn ss_cache() -> SsCache {
    sequential_storage::cache::Cache::new(
        sequential_storage::cache::page_states::ArrayPageStates::new(),
        sequential_storage::cache::page_pointers::ArrayPagePointers::new(),
        sequential_storage::cache::Uncached,
    )
}

/// sequential-storage's map, with its fixed-size caches of page states and
/// page pointers (no per-key cache, whose RAM grows with the keys). A
/// delete stores `None` for the key: removing an item in place needs a
/// flash that can program a word twice.
struct SeqStore {
    map: Option<sequential_storage::map::MapStorage<[u8; KEY_LEN], Nor, SsCache>>,
    buf: [u8; 128],
}

impl SeqStore {
    fn new() -> Self {
        SeqStore {
            map: Some(Self::map(Nor::new(BLOCKS))),
            buf: [0; 128],
        }
    }

    fn map(nor: Nor) -> sequential_storage::map::MapStorage<[u8; KEY_LEN], Nor, SsCache> {
        let range = 0..(BLOCKS * BLOCK_SIZE) as u32;
        sequential_storage::map::MapStorage::new(
            nor,
            sequential_storage::map::MapConfig::new(range),
            ss_cache(),
        )
    }

    fn store(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        let key: [u8; KEY_LEN] = key.try_into().map_err(other)?;
        let map = self.map.as_mut().expect("open");
        block_on(map.store_item(&mut self.buf, &key, &value)).map_err(seq_err)
    }
}

fn seq_err<E: std::fmt::Debug>(e: sequential_storage::Error<E>) -> StoreError {
    match e {
        sequential_storage::Error::FullStorage => StoreError::Full,
        e => other(e),
    }
}

impl FlashStore for SeqStore {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.store(key, Some(value))
    }
    fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.store(key, None)
    }
    fn get(&mut self, key: &[u8], buf: &mut [u8]) -> Result<Option<usize>> {
        let key: [u8; KEY_LEN] = key.try_into().map_err(other)?;
        let map = self.map.as_mut().expect("open");
        let found =
            block_on(map.fetch_item::<Option<&[u8]>>(&mut self.buf, &key)).map_err(seq_err)?;
        Ok(match found {
            Some(Some(v)) => {
                buf[..v.len()].copy_from_slice(v);
                Some(v.len())
            }
            _ => None,
        })
    }
    fn reopen(&mut self) -> Result<()> {
        // Nothing is read to open: the caches start empty and fill as the
        // next operations read the flash.
        let (nor, _) = self.map.take().expect("open").destroy();
        self.map = Some(Self::map(nor));
        Ok(())
    }
    fn with_nor<R>(&mut self, f: impl FnOnce(&mut Nor) -> R) -> R {
        f(self.map.as_mut().expect("open").flash())
    }
}

// -------------------------------------------------------------------- ekv

type EkvDb = ekv::Database<Nor, embassy_sync::blocking_mutex::raw::NoopRawMutex>;

/// ekv, one write transaction per write.
struct EkvStore {
    db: Option<EkvDb>,
}

impl EkvStore {
    fn new() -> Result<Self> {
        let db = Self::db(Nor::new(BLOCKS));
        block_on(db.format()).map_err(other)?;
        Ok(EkvStore { db: Some(db) })
    }

    fn db(nor: Nor) -> EkvDb {
        let mut config = ekv::Config::default();
        config.random_seed = seed_for("ekv") as u32;
        ekv::Database::new(nor, config)
    }

    fn write(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        let db = self.db.as_ref().expect("open");
        block_on(async {
            let mut tx = db.write_transaction().await;
            let r = match value {
                Some(v) => tx.write(key, v).await,
                None => tx.delete(key).await,
            };
            match r {
                Err(ekv::WriteError::Full) => return Err(StoreError::Full),
                Err(e) => return Err(other(e)),
                Ok(()) => {}
            }
            tx.commit().await.map_err(other)
        })
    }
}

impl FlashStore for EkvStore {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.write(key, Some(value))
    }
    fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.write(key, None)
    }
    fn get(&mut self, key: &[u8], buf: &mut [u8]) -> Result<Option<usize>> {
        let db = self.db.as_ref().expect("open");
        block_on(async {
            let tx = db.read_transaction().await;
            match tx.read(key, buf).await {
                Ok(n) => Ok(Some(n)),
                Err(ekv::ReadError::KeyNotFound) => Ok(None),
                Err(e) => Err(other(e)),
            }
        })
    }
    fn reopen(&mut self) -> Result<()> {
        let db = self.db.take().expect("open");
        let nor = db_into_nor(db);
        let db = Self::db(nor);
        block_on(db.mount()).map_err(other)?;
        self.db = Some(db);
        Ok(())
    }
    fn with_nor<R>(&mut self, f: impl FnOnce(&mut Nor) -> R) -> R {
        let db = self.db.as_ref().expect("open");
        let mut guard = block_on(db.lock_flash());
        f(&mut guard)
    }
}

/// ekv has no way to hand its flash back; take a copy of the device.
fn db_into_nor(db: EkvDb) -> Nor {
    let guard = block_on(db.lock_flash());
    (*guard).clone()
}

// ------------------------------------------------------------------ tickv

/// tickv's view of the model: whole-region reads, byte-addressed writes.
struct TickCtl(RefCell<Nor>);

impl tickv::flash_controller::FlashController<BLOCK_SIZE> for TickCtl {
    fn read_region(
        &self,
        region: usize,
        buf: &mut [u8; BLOCK_SIZE],
    ) -> std::result::Result<(), tickv::ErrorCode> {
        self.0
            .borrow_mut()
            .read_at(region * BLOCK_SIZE, buf)
            .map_err(|_| tickv::ErrorCode::ReadFail)
    }

    fn write(&self, address: usize, buf: &[u8]) -> std::result::Result<(), tickv::ErrorCode> {
        self.0
            .borrow_mut()
            .program_unaligned(address, buf)
            .map_err(|_| tickv::ErrorCode::WriteFail)
    }

    fn erase_region(&self, region: usize) -> std::result::Result<(), tickv::ErrorCode> {
        self.0
            .borrow_mut()
            .erase_block(region)
            .map_err(|_| tickv::ErrorCode::EraseFail)
    }
}

/// tickv stores a 64-bit hash of each key, not the key. Its objects are
/// byte-aligned and a delete clears a flag bit in place, so it runs on the
/// model in multiwrite mode (a word may be programmed again, clearing bits
/// only); the re-programmed words are counted.
struct TickStore {
    kv: tickv::TicKV<'static, TickCtl, BLOCK_SIZE>,
}

fn tick_hash(key: &[u8]) -> u64 {
    // FNV-1a, kept away from the two values tickv reserves.
    let h = key.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100_0000_01b3)
    });
    h.clamp(1, u64::MAX - 1)
}

impl TickStore {
    fn new() -> Result<Self> {
        Self::mount(Nor::with_multiwrite(BLOCKS))
    }

    fn mount(nor: Nor) -> Result<Self> {
        let buf: &'static mut [u8; BLOCK_SIZE] = Box::leak(Box::new([0; BLOCK_SIZE]));
        let kv = tickv::TicKV::new(TickCtl(RefCell::new(nor)), buf, BLOCKS * BLOCK_SIZE);
        kv.initialise(tick_hash(tickv::MAIN_KEY)).map_err(other)?;
        Ok(TickStore { kv })
    }

    fn invalidate(&mut self, hash: u64) -> Result<()> {
        match self.kv.invalidate_key(hash) {
            Ok(_) | Err(tickv::ErrorCode::KeyNotFound) => Ok(()),
            Err(e) => Err(other(e)),
        }
    }
}

impl FlashStore for TickStore {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let hash = tick_hash(key);
        // tickv refuses to append a key that exists: an update is a delete
        // followed by an append. When the append finds no room, or finds a
        // copy the delete could not reach (one that overflowed into a
        // neighbouring region), a garbage collection and one more try is
        // the remedy tickv offers.
        for attempt in 0..2 {
            self.invalidate(hash)?;
            match self.kv.append_key(hash, value) {
                Ok(_) => return Ok(()),
                Err(
                    e @ (tickv::ErrorCode::FlashFull
                    | tickv::ErrorCode::RegionFull
                    | tickv::ErrorCode::KeyAlreadyExists),
                ) => {
                    if attempt == 1 {
                        return Err(match e {
                            tickv::ErrorCode::KeyAlreadyExists => StoreError::Other(
                                "KeyAlreadyExists even after a garbage collection: an older \
                                 copy of the key, outside its home region, cannot be deleted"
                                    .into(),
                            ),
                            _ => StoreError::Full,
                        });
                    }
                    self.kv.garbage_collect().map_err(other)?;
                }
                Err(e) => return Err(other(e)),
            }
        }
        unreachable!("the second attempt returns")
    }
    fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.invalidate(tick_hash(key))
    }
    fn get(&mut self, key: &[u8], buf: &mut [u8]) -> Result<Option<usize>> {
        match self.kv.get_key(tick_hash(key), buf) {
            Ok((_, n)) => Ok(Some(n)),
            Err(tickv::ErrorCode::KeyNotFound) => Ok(None),
            Err(e) => Err(other(e)),
        }
    }
    fn reopen(&mut self) -> Result<()> {
        let nor = self.kv.controller.0.borrow().clone();
        *self = Self::mount(nor)?;
        Ok(())
    }
    fn with_nor<R>(&mut self, f: impl FnOnce(&mut Nor) -> R) -> R {
        f(&mut self.kv.controller.0.borrow_mut())
    }
}

// ----------------------------------------------------------------- runner

/// The figures of one store on one workload at one key count.
#[derive(Clone, Debug)]
pub struct FlashResult {
    pub engine: String,
    pub workload: FlashWorkload,
    pub keys: usize,
    /// Writes (puts and deletes) that completed.
    pub writes: u64,
    pub planned_writes: u64,
    /// Key and value bytes of those writes.
    pub user_bytes: u64,
    pub write: Counters,
    pub gets: u64,
    pub get: Counters,
    pub open: Option<Counters>,
    pub max_block_erases: u32,
    /// `None` if every write completed; otherwise why not.
    pub stopped: Option<String>,
}

impl FlashResult {
    pub fn programmed_per_user_byte(&self) -> f64 {
        self.write.bytes_programmed as f64 / self.user_bytes.max(1) as f64
    }
    pub fn erases_per_1000_writes(&self) -> f64 {
        self.write.erases as f64 * 1000.0 / self.writes.max(1) as f64
    }
    pub fn read_per_write(&self) -> f64 {
        self.write.bytes_read as f64 / self.writes.max(1) as f64
    }
    pub fn read_per_get(&self) -> Option<f64> {
        (self.gets > 0).then(|| self.get.bytes_read as f64 / self.gets as f64)
    }
    pub fn completed(&self) -> bool {
        self.stopped.is_none()
    }
}

fn key_bytes(i: usize) -> [u8; KEY_LEN] {
    let mut k = *b"key:000000000000";
    let mut n = i;
    for b in k[4..].iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
    k
}

/// The value of the `j`-th write, to key `i`: checkable on read.
fn value_bytes(i: usize, j: usize) -> [u8; VALUE_LEN] {
    let mut v = [0u8; VALUE_LEN];
    Rng::new((i as u64) << 32 | j as u64).fill(&mut v);
    v
}

fn open_store(engine: &str) -> Result<Box<dyn FnMutStore>> {
    Ok(match engine {
        "cairn" => Box::new(CairnStore::new()?),
        "sequential-storage" => Box::new(SeqStore::new()),
        "ekv" => Box::new(EkvStore::new()?),
        "tickv" => Box::new(TickStore::new()?),
        other => return Err(StoreError::Other(format!("unknown engine {other}"))),
    })
}

/// `FlashStore` made object-safe for the runner.
trait FnMutStore {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()>;
    fn delete(&mut self, key: &[u8]) -> Result<()>;
    fn get(&mut self, key: &[u8], buf: &mut [u8]) -> Result<Option<usize>>;
    fn reopen(&mut self) -> Result<()>;
    fn counters(&mut self) -> Counters;
    fn reset_counters(&mut self);
    fn max_block_erases(&mut self) -> u32;
}

impl<T: FlashStore> FnMutStore for T {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        FlashStore::put(self, key, value)
    }
    fn delete(&mut self, key: &[u8]) -> Result<()> {
        FlashStore::delete(self, key)
    }
    fn get(&mut self, key: &[u8], buf: &mut [u8]) -> Result<Option<usize>> {
        FlashStore::get(self, key, buf)
    }
    fn reopen(&mut self) -> Result<()> {
        FlashStore::reopen(self)
    }
    fn counters(&mut self) -> Counters {
        self.with_nor(|n| n.counters)
    }
    fn reset_counters(&mut self) {
        self.with_nor(|n| n.reset_counters())
    }
    fn max_block_erases(&mut self) -> u32 {
        self.with_nor(|n| n.max_erase_count())
    }
}

/// Runs one store on one workload at one key count.
pub fn run_one(engine: &str, workload: FlashWorkload, keys: usize) -> FlashResult {
    let mut result = FlashResult {
        engine: engine.to_string(),
        workload,
        keys,
        writes: 0,
        planned_writes: workload.ops(keys) as u64,
        user_bytes: 0,
        write: Counters::default(),
        gets: 0,
        get: Counters::default(),
        open: None,
        max_block_erases: 0,
        stopped: None,
    };
    let mut store = match open_store(engine) {
        Ok(s) => s,
        Err(e) => {
            result.stopped = Some(format!("format failed: {e:?}"));
            return result;
        }
    };
    store.reset_counters();

    // The model: which write each key last received (None: absent).
    let mut model: Vec<Option<usize>> = vec![None; keys];
    let mut rng = Rng::new(seed_for(workload.name()) ^ keys as u64);
    let mut first_fill = rng.permutation(keys).into_iter();
    let ops = workload.ops(keys);
    for j in 0..ops {
        let (i, delete) = match workload {
            FlashWorkload::Log => (j, false),
            FlashWorkload::Config => match first_fill.next() {
                Some(i) => (i as usize, false),
                None => (rng.below(keys as u64) as usize, false),
            },
            FlashWorkload::Mix => (rng.below(keys as u64) as usize, rng.below(4) == 0),
        };
        let key = key_bytes(i);
        let r = if delete {
            store.delete(&key)
        } else {
            store.put(&key, &value_bytes(i, j))
        };
        match r {
            Ok(()) => {
                result.writes += 1;
                result.user_bytes += KEY_LEN as u64 + if delete { 0 } else { VALUE_LEN as u64 };
                model[i] = if delete { None } else { Some(j) };
            }
            Err(StoreError::Full) => {
                result.stopped = Some(format!("full after {} of {ops} writes", result.writes));
                break;
            }
            Err(StoreError::Other(e)) => {
                result.stopped = Some(format!("error after {} writes: {e}", result.writes));
                break;
            }
        }
    }
    result.write = store.counters();
    result.max_block_erases = store.max_block_erases();

    // Gets of random live keys, each value checked against the model.
    let live: Vec<usize> = (0..keys).filter(|&i| model[i].is_some()).collect();
    store.reset_counters();
    let mut buf = [0u8; 256];
    if !live.is_empty() {
        for _ in 0..GETS {
            let i = live[rng.below(live.len() as u64) as usize];
            let want = value_bytes(i, model[i].expect("live"));
            match store.get(&key_bytes(i), &mut buf) {
                Ok(Some(n)) if buf[..n] == want => result.gets += 1,
                Ok(got) => {
                    result.stopped.get_or_insert(format!(
                        "wrong answer for a live key: {:?}",
                        got.map(|n| &buf[..n])
                    ));
                    break;
                }
                Err(e) => {
                    result.stopped.get_or_insert(format!("get failed: {e:?}"));
                    break;
                }
            }
        }
    }
    result.get = store.counters();

    // A restart: what opening reads, and whether everything is still there.
    store.reset_counters();
    match store.reopen() {
        Ok(()) => {
            result.open = Some(store.counters());
            for (i, w) in model.iter().enumerate().take(200) {
                let got = store.get(&key_bytes(i), &mut buf);
                let ok = match (w, &got) {
                    (Some(j), Ok(Some(n))) => buf[..*n] == value_bytes(i, *j),
                    (None, Ok(None)) => true,
                    _ => false,
                };
                if !ok {
                    result
                        .stopped
                        .get_or_insert(format!("after reopening, key {i} reads {got:?}"));
                    break;
                }
            }
        }
        Err(e) => {
            result
                .stopped
                .get_or_insert(format!("reopen failed: {e:?}"));
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sixteen_bytes_in_order() {
        assert_eq!(&key_bytes(42), b"key:000000000042");
        assert!(key_bytes(9) < key_bytes(10));
    }

    #[test]
    fn every_store_keeps_a_small_config() {
        for engine in ENGINES {
            let r = run_one(engine, FlashWorkload::Mix, 10);
            assert!(r.completed(), "{engine}: {:?}", r.stopped);
            assert_eq!(r.writes, r.planned_writes);
            assert!(r.gets > 0);
            assert!(r.write.bytes_programmed > 0);
        }
    }
}
