//! The `Db` handle: opening, locking, reopening, sharing between threads,
//! and range iteration.

use std::io;
use std::ops::Bound;
use std::sync::Arc;
use std::thread;

use cairn_std::{Batch, Db, Error, Options};

fn key(i: u32) -> Vec<u8> {
    format!("key-{i:08}").into_bytes()
}

fn value(i: u32) -> Vec<u8> {
    format!("value-{i}-{}", "x".repeat((i % 50) as usize)).into_bytes()
}

#[test]
fn put_get_delete_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    {
        let db = Db::open(&path).unwrap();
        assert_eq!(db.path(), path);
        for i in 0..200 {
            db.put(key(i), value(i)).unwrap();
        }
        for i in (0..200).step_by(3) {
            db.delete(key(i)).unwrap();
        }
        db.put("overwritten", "first").unwrap();
        db.put("overwritten", "second").unwrap();
        assert_eq!(db.get(key(1)).unwrap(), Some(value(1)));
        assert_eq!(db.get(key(3)).unwrap(), None);
        assert_eq!(db.get("never written").unwrap(), None);
    }
    let db = Db::open(&path).unwrap();
    for i in 0..200 {
        let expected = if i % 3 == 0 { None } else { Some(value(i)) };
        assert_eq!(db.get(key(i)).unwrap(), expected, "key {i}");
    }
    assert_eq!(
        db.get("overwritten").unwrap().as_deref(),
        Some(&b"second"[..])
    );
    assert!(db.check().unwrap().is_ok());
}

#[test]
fn get_into_and_contains_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("store")).unwrap();
    db.put("k", "twelve bytes").unwrap();
    db.put("empty", "").unwrap();

    let mut buf = [0u8; 32];
    assert_eq!(db.get_into("k", &mut buf).unwrap(), Some(12));
    assert_eq!(&buf[..12], b"twelve bytes");
    assert_eq!(db.get_into("missing", &mut buf).unwrap(), None);
    let mut small = [0u8; 4];
    match db.get_into("k", &mut small) {
        Err(Error::Store(cairn_core::Error::BufferTooSmall { needed })) => assert_eq!(needed, 12),
        other => panic!("expected BufferTooSmall, got {other:?}"),
    }

    assert!(db.contains_key("k").unwrap());
    assert!(db.contains_key("empty").unwrap());
    assert!(!db.contains_key("missing").unwrap());
}

#[test]
fn bad_keys_and_values_are_store_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_with(dir.path().join("store"), Options::new().max_value_len(100)).unwrap();
    assert!(matches!(
        db.put("", "v"),
        Err(Error::Store(cairn_core::Error::EmptyKey))
    ));
    assert!(matches!(
        db.put(vec![7u8; 1025], "v"),
        Err(Error::Store(cairn_core::Error::TooLarge))
    ));
    assert!(matches!(
        db.put("k", vec![7u8; 101]),
        Err(Error::Store(cairn_core::Error::TooLarge))
    ));
    db.put("k", vec![7u8; 100]).unwrap();
}

#[cfg(unix)]
#[test]
fn a_second_open_is_locked_out_until_every_handle_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let db = Db::open(&path).unwrap();
    db.put("k", "v").unwrap();

    let err = Db::open(&path).unwrap_err();
    assert!(
        matches!(&err, Error::Locked { path: p } if *p == path),
        "{err:?}"
    );
    assert!(err.to_string().contains("locked"), "{err}");

    // A clone and an iterator keep the store open.
    let clone = db.clone();
    let iter = db.iter();
    drop(db);
    assert!(matches!(Db::open(&path), Err(Error::Locked { .. })));
    drop(clone);
    assert!(matches!(Db::open(&path), Err(Error::Locked { .. })));
    drop(iter);

    let db = Db::open(&path).unwrap();
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn threads_share_one_db() {
    const THREADS: u32 = 4;
    const PER_THREAD: u32 = 250;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let db = Arc::new(Db::open(&path).unwrap());
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let db = Arc::clone(&db);
            thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let n = t * PER_THREAD + i;
                    db.put(key(n), value(n)).unwrap();
                    // Reads interleave with the other threads' writes.
                    assert_eq!(db.get(key(n)).unwrap(), Some(value(n)));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let check_all = |db: &Db| {
        for n in 0..THREADS * PER_THREAD {
            assert_eq!(db.get(key(n)).unwrap(), Some(value(n)), "key {n}");
        }
        assert_eq!(db.iter().count(), (THREADS * PER_THREAD) as usize);
    };
    check_all(&db);
    drop(db);
    check_all(&Db::open(&path).unwrap());
}

#[test]
fn clones_are_handles_on_the_same_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("store")).unwrap();
    let clones: Vec<Db> = (0..4).map(|_| db.clone()).collect();
    let handles: Vec<_> = clones
        .into_iter()
        .enumerate()
        .map(|(t, db)| thread::spawn(move || db.put(format!("thread-{t}"), "done").unwrap()))
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    for t in 0..4 {
        assert!(db.contains_key(format!("thread-{t}")).unwrap());
    }
}

#[test]
fn batches_apply_together() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    {
        let db = Db::open(&path).unwrap();
        db.put("old", "value").unwrap();
        let mut batch = Batch::new();
        batch.put(b"a", b"1");
        batch.put(b"b", b"2");
        batch.delete(b"old");
        db.write(&batch).unwrap();
    }
    let db = Db::open(&path).unwrap();
    assert_eq!(db.get("a").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.get("b").unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(db.get("old").unwrap(), None);
}

#[test]
fn range_iterates_in_order_across_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("store")).unwrap();
    // More entries than one chunk of the iterator holds.
    let n = 3000;
    let mut batch = Batch::new();
    for i in (0..n).rev() {
        batch.put(&key(i), &value(i));
        if batch.len() == 100 {
            db.write(&batch).unwrap();
            batch.clear();
        }
    }
    db.write(&batch).unwrap();

    let all: Vec<(Vec<u8>, Vec<u8>)> = db.iter().map(Result::unwrap).collect();
    assert_eq!(all.len(), n as usize);
    for (i, (k, v)) in all.iter().enumerate() {
        assert_eq!(*k, key(i as u32));
        assert_eq!(*v, value(i as u32));
    }

    let keys =
        |range: Vec<(Vec<u8>, Vec<u8>)>| range.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    let collect = |it: cairn_std::Range| keys(it.map(Result::unwrap).collect());

    assert_eq!(
        collect(db.range(key(10)..key(20))),
        (10..20).map(key).collect::<Vec<_>>()
    );
    assert_eq!(
        collect(db.range(key(10)..=key(20))),
        (10..=20).map(key).collect::<Vec<_>>()
    );
    assert_eq!(
        collect(db.range(key(2990)..)),
        (2990..n).map(key).collect::<Vec<_>>()
    );
    assert_eq!(
        collect(db.range(..key(3))),
        (0..3).map(key).collect::<Vec<_>>()
    );
    let (lo, hi) = (key(5), key(8));
    assert_eq!(
        collect(db.range::<[u8], _>((Bound::Excluded(&lo[..]), Bound::Excluded(&hi[..])))),
        (6..8).map(key).collect::<Vec<_>>()
    );
    // A range spanning several chunks, starting and ending mid-chunk.
    assert_eq!(
        collect(db.range(key(100)..key(2100))),
        (100..2100).map(key).collect::<Vec<_>>()
    );
    // Empty and inverted ranges yield nothing.
    assert_eq!(db.range(key(20)..key(20)).count(), 0);
    assert_eq!(db.range(key(20)..key(10)).count(), 0);
    assert_eq!(db.range(b"zzz".as_slice()..).count(), 0);
    assert_eq!(db.range("a".."b").count(), 0);
}

#[test]
fn range_does_not_hold_the_lock_between_items() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("store")).unwrap();
    for i in 0..10 {
        db.put(key(i), value(i)).unwrap();
    }
    // Writing from inside the loop would deadlock if the iterator held the
    // lock.
    let mut seen = 0;
    for entry in db.range(key(0)..key(10)) {
        let (k, _) = entry.unwrap();
        db.put(&k, "rewritten").unwrap();
        db.delete(key(9)).unwrap();
        seen += 1;
    }
    // key 9 was deleted before the iterator reached it only if it had not
    // already been read into the current chunk; either way nothing repeats.
    assert!((9..=10).contains(&seen), "{seen}");
    for i in 0..9 {
        assert_eq!(db.get(key(i)).unwrap().as_deref(), Some(&b"rewritten"[..]));
    }
    assert_eq!(db.get(key(9)).unwrap(), None);

    // Another thread writes while an iterator is open on this one.
    let mut iter = db.iter();
    assert!(iter.next().is_some());
    let writer = {
        let db = db.clone();
        thread::spawn(move || db.put("from another thread", "ok").unwrap())
    };
    writer.join().unwrap();
    assert!(iter.all(|e| e.is_ok()));
}

#[test]
fn scan_visits_a_range_until_told_to_stop() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("store")).unwrap();
    for i in 0..100 {
        db.put(key(i), value(i)).unwrap();
    }
    let mut seen = Vec::new();
    db.scan(key(10)..key(90), |k, v| {
        assert_eq!(v, value(10 + seen.len() as u32));
        seen.push(k.to_vec());
        seen.len() < 5
    })
    .unwrap();
    assert_eq!(seen, (10..15).map(key).collect::<Vec<_>>());

    let mut count = 0;
    db.scan::<[u8], _, _>(.., |_, _| {
        count += 1;
        true
    })
    .unwrap();
    assert_eq!(count, 100);

    db.scan(key(50)..key(40), |_, _| {
        panic!("an inverted range is empty")
    })
    .unwrap();
}

#[test]
fn flush_compact_sync_stats_and_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let options = Options::new().memtable_bytes(16 * 1024).sync_writes(false);
    {
        let db = Db::open_with(&path, options.clone()).unwrap();
        assert!(!db.config().sync_writes);
        for round in 0..3 {
            for i in 0..500 {
                db.put(key(i), format!("round {round}")).unwrap();
            }
            db.flush().unwrap();
        }
        for i in 0..250 {
            db.delete(key(i)).unwrap();
        }
        db.compact().unwrap();
        db.sync().unwrap();
        let stats = db.stats();
        assert_eq!(stats.block_size, cairn_std::DEFAULT_BLOCK_SIZE);
        assert!(stats.syncs > 0);
        let report = db.check().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
    }
    let db = Db::open_with(&path, options).unwrap();
    for i in 0..500 {
        let expected = (i >= 250).then(|| b"round 2".to_vec());
        assert_eq!(db.get(key(i)).unwrap(), expected, "key {i}");
    }
}

#[test]
fn unsynced_writes_survive_closing_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let options = Options::new().sync_writes(false);
    let db = Db::open_with(&path, options.clone()).unwrap();
    // The first write may start a log block, which the engine commits
    // durably; the ones after it go to that block without a sync.
    db.put("first", "v").unwrap();
    let syncs_before = db.stats().syncs;
    db.put("k", "v").unwrap();
    assert_eq!(
        db.stats().syncs,
        syncs_before,
        "the put itself did not sync"
    );
    drop(db);
    let db = Db::open_with(&path, options).unwrap();
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(db.get("first").unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn the_file_is_not_preallocated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let db = Db::open(&path).unwrap();
    db.put("k", "v").unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(
        len < cairn_std::DEFAULT_CAPACITY / 64,
        "a store holding one key should not be {len} bytes long"
    );
    assert_eq!(db.stats().block_count, 32 * 1024);
}

#[test]
fn creating_leaves_only_the_store_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    drop(Db::open(&path).unwrap());
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["store"]);
}

#[test]
fn missing_store_without_create_if_missing_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let err = Db::open_with(&path, Options::new().create_if_missing(false)).unwrap_err();
    match &err {
        Error::Io { path: p, source } => {
            assert_eq!(*p, path);
            assert_eq!(source.kind(), io::ErrorKind::NotFound);
        }
        other => panic!("expected Io(NotFound), got {other:?}"),
    }
    assert!(err.to_string().contains("store"), "{err}");
    assert!(!path.exists());
}

#[test]
fn missing_directory_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Db::open(dir.path().join("no such dir").join("store")).unwrap_err();
    assert!(
        matches!(err, Error::Io { ref source, .. } if source.kind() == io::ErrorKind::NotFound),
        "{err:?}"
    );
}

#[test]
fn an_empty_file_becomes_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    std::fs::File::create(&path).unwrap();
    // Not without create_if_missing.
    assert!(matches!(
        Db::open_with(&path, Options::new().create_if_missing(false)),
        Err(Error::NotAStore { .. })
    ));
    let db = Db::open(&path).unwrap();
    db.put("k", "v").unwrap();
    drop(db);
    let db = Db::open_with(&path, Options::new().create_if_missing(false)).unwrap();
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn a_foreign_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let text = b"these are somebody's notes, not a cairn store\n".repeat(100);
    std::fs::write(&path, &text).unwrap();
    let err = Db::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotAStore { .. } | Error::Store(cairn_core::Error::Corrupted(_))
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("notes.txt"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), text);
}

#[test]
fn a_store_must_be_reopened_with_its_geometry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let created = Options::new().block_size(64 * 1024).capacity(64 << 20);
    {
        let db = Db::open_with(&path, created.clone()).unwrap();
        db.put("k", "v").unwrap();
    }
    for other in [
        Options::new().capacity(64 << 20),
        created.clone().block_size(128 * 1024),
        created.clone().capacity(128 << 20),
    ] {
        let err = Db::open_with(&path, other).unwrap_err();
        assert!(matches!(err, Error::NotAStore { .. }), "{err:?}");
    }
    let db = Db::open_with(&path, created).unwrap();
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn unusable_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    for options in [
        Options::new().block_size(1000),
        Options::new().capacity(1024),
    ] {
        let err = Db::open_with(&path, options).unwrap_err();
        assert!(
            matches!(err, Error::Io { ref source, .. } if source.kind() == io::ErrorKind::InvalidInput),
            "{err:?}"
        );
    }
    assert!(!path.exists());
}

#[test]
fn small_geometry_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let options = Options::new().block_size(64 * 1024).capacity(64 << 20);
    {
        let db = Db::open_with(&path, options.clone()).unwrap();
        assert_eq!(db.stats().block_count, 1024);
        db.put("k", "v").unwrap();
    }
    let db = Db::open_with(&path, options).unwrap();
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn errors_display_and_expose_their_source() {
    use std::error::Error as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let err = Db::open_with(&path, Options::new().create_if_missing(false)).unwrap_err();
    let source = err.source().expect("an I/O error has a source");
    assert_eq!(
        source.downcast_ref::<io::Error>().unwrap().kind(),
        io::ErrorKind::NotFound
    );
    assert!(err.to_string().starts_with(&path.display().to_string()));

    let db = Db::open(&path).unwrap();
    let err = db.put("", "v").unwrap_err();
    assert!(err.store_error().is_some());
    assert!(!err.to_string().is_empty());
    assert!(err.source().is_none());
}

#[test]
fn a_panic_while_holding_the_store_is_reported_not_propagated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let db = Db::open(&path).unwrap();
    db.put("k", "v").unwrap();
    let panicking = {
        let db = db.clone();
        thread::spawn(move || {
            db.scan::<[u8], _, _>(.., |_, _| panic!("a bug in the caller's callback"))
        })
    };
    assert!(panicking.join().is_err());
    assert!(matches!(db.get("k"), Err(Error::Panicked)));
    assert!(matches!(db.put("k", "w"), Err(Error::Panicked)));
    assert!(matches!(db.iter().next(), Some(Err(Error::Panicked))));
    // Read-only summaries still work.
    assert_eq!(db.stats().puts, 1);
    drop(db);
    // Reopening recovers.
    let db = Db::open(&path).unwrap();
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"v"[..]));
}

#[cfg(unix)]
#[test]
fn racing_creators_make_one_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = Arc::new(dir.path().join("store"));
    let barrier = Arc::new(std::sync::Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let (path, barrier) = (Arc::clone(&path), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                let db = Db::open(&*path)?;
                db.put(format!("winner-{t}"), "yes")?;
                Ok::<Db, Error>(db)
            })
        })
        .collect();
    let results: Vec<Result<Db, Error>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let winners: Vec<&Db> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for r in &results {
        if let Err(e) = r {
            assert!(matches!(e, Error::Locked { .. }), "{e:?}");
        }
    }
    drop(results);
    let db = Db::open(&*path).unwrap();
    assert_eq!(db.iter().count(), 1);
    let names = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(names, 1, "no temporary files are left behind");
}

/// A store in several sorted runs: level 0 and a deeper level, and the
/// memtable.
fn layered(path: &std::path::Path, read_merges: bool) -> Db {
    let options = Options::new()
        .block_size(16 * 1024)
        .capacity(16 << 20)
        .memtable_bytes(32 * 1024)
        .cache_bytes(1 << 20)
        .sync_writes(false)
        .read_merges(read_merges);
    let db = Db::open_with(path, options).unwrap();
    for round in 0..3 {
        for i in (0..4000).filter(|i| i % (round + 2) == 0) {
            db.put(key(i), value(i + round)).unwrap();
        }
    }
    // A flush of keys spread over the whole range: a level-0 table over
    // the deeper level.
    for i in (0..4000).step_by(16) {
        db.put(key(i), value(i + 2)).unwrap();
    }
    db.flush().unwrap();
    db.put(key(1), "in the memtable").unwrap();
    db
}

fn levels_with_tables(db: &Db) -> usize {
    db.stats()
        .tables_per_level
        .iter()
        .filter(|&&n| n > 0)
        .count()
}

#[test]
fn reads_that_pay_for_it_merge_the_store_into_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = layered(&dir.path().join("store"), true);
    assert!(levels_with_tables(&db) >= 2, "{:?}", db.stats());
    let expected = |i: u32| match i {
        1 => Some(b"in the memtable".to_vec()),
        _ if i % 4 == 0 => Some(value(i + 2)),
        _ if i % 3 == 0 => Some(value(i + 1)),
        _ if i % 2 == 0 => Some(value(i)),
        _ => None,
    };
    let mut reads = 0;
    while db.stats().read_merges == 0 {
        let i = reads % 4000;
        assert_eq!(db.get(key(i)).unwrap(), expected(i), "key {i}");
        reads += 1;
        assert!(reads < 2_000_000, "reads never paid for a merge");
    }
    let s = db.stats();
    assert_eq!(levels_with_tables(&db), 1, "{s:?}");
    assert_eq!(s.memtable_bytes, 0);
    for i in 0..4000 {
        assert_eq!(db.get(key(i)).unwrap(), expected(i), "key {i}");
    }
    assert_eq!(db.stats().read_merges, 1, "one run: nothing more to merge");
    let keys: Vec<_> = db.iter().map(|e| e.unwrap().0).collect();
    let model: Vec<_> = (0..4000)
        .filter(|&i| expected(i).is_some())
        .map(key)
        .collect();
    assert_eq!(keys, model);

    // The merge is durable once synced, and the store is sound.
    db.sync().unwrap();
    drop(db);
    let options = Options::new().block_size(16 * 1024).capacity(16 << 20);
    let db = Db::open_with(dir.path().join("store"), options).unwrap();
    assert_eq!(levels_with_tables(&db), 1);
    assert_eq!(db.get(key(4)).unwrap(), expected(4));
    assert!(db.check().unwrap().is_ok());
}

#[test]
fn reads_never_write_with_read_merges_off() {
    let dir = tempfile::tempdir().unwrap();
    let db = layered(&dir.path().join("store"), false);
    db.sync().unwrap();
    let before = db.stats();
    for i in 0..200_000 {
        db.get(key(i % 4000)).unwrap();
        if i % 10 == 0 {
            db.scan(key(i % 4000).as_slice().., |_, _| false).unwrap();
        }
    }
    let after = db.stats();
    assert_eq!(after.read_merges, 0);
    assert_eq!(after.bytes_programmed, before.bytes_programmed);
    assert_eq!(after.tables_per_level, before.tables_per_level);
}
