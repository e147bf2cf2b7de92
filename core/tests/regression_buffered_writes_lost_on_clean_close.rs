//! Regression: with `sync_writes` off, log records gather in memory; a store
//! dropped without `sync` or `into_device` lost them although nothing
//! crashed. Found by `cairn-sim simulate` (seeds 1, 10, 20, ...: "after a
//! clean reopen: running store differs from its operations").

use cairn_core::{Config, Db, RamDevice};

#[test]
fn buffered_writes_survive_a_clean_close_by_drop() {
    let cfg = Config {
        sync_writes: false,
        ..Config::default()
    };
    let mut dev = RamDevice::new(4096, 32, 4);
    {
        let mut db = Db::format(&mut dev, cfg.clone()).unwrap();
        for i in 0..20u32 {
            db.put(format!("k{i}").as_bytes(), b"buffered").unwrap();
        }
        db.delete(b"k3").unwrap();
        // Dropped here: no sync, no into_device.
    }
    let mut db = Db::open(&mut dev, cfg).unwrap();
    for i in 0..20u32 {
        let want = (i != 3).then(|| b"buffered".to_vec());
        assert_eq!(
            db.get_vec(format!("k{i}").as_bytes()).unwrap(),
            want,
            "k{i}"
        );
    }
}
