use cairn_core::{Config, Db, RamDevice};

#[test]
fn smoke_many_keys_reopen() {
    let cfg = Config {
        memtable_bytes: 4096,
        ..Config::default()
    };
    let mut db = Db::format(RamDevice::new(4096, 256, 4), cfg.clone()).unwrap();
    for i in 0..3000u32 {
        let k = format!("key{:06}", (i * 7919) % 3000);
        db.put(k.as_bytes(), format!("value{i}").as_bytes())
            .unwrap();
    }
    for i in 0..3000u32 {
        if i % 3 == 0 {
            db.delete(format!("key{i:06}").as_bytes()).unwrap();
        }
    }
    let st = db.stats();
    println!("{st:?}");
    let rep = db.check().unwrap();
    assert!(rep.is_ok(), "{:?}", rep.problems);
    let dev = db.into_device();
    let mut db = Db::open(dev, cfg).unwrap();
    let mut n = 0;
    for i in 0..3000u32 {
        let k = format!("key{i:06}");
        let v = db.get_vec(k.as_bytes()).unwrap();
        assert_eq!(v.is_some(), i % 3 != 0, "{k}");
        n += v.is_some() as usize;
    }
    let all: Vec<_> = db
        .range(core::ops::Bound::Unbounded, core::ops::Bound::Unbounded)
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(all.len(), n);
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
    db.compact().unwrap();
    let rep = db.check().unwrap();
    assert!(rep.is_ok(), "{:?}", rep.problems);
    assert_eq!(rep.entries as usize, n);
    println!("{:?}", db.stats());
}
