//! The store's workout: format, write, overwrite, delete, range-scan,
//! remount (a reboot), write again, remount again, and check, comparing
//! every answer with a model of what the store must hold.
//!
//! It sees the store only through `cairn_core::Db` and the flash only
//! through `cairn_flash::NorFlashDevice`, as an application would. The
//! store lives in a static buffer of `board::STORE_MEMORY` bytes, handed
//! back when it closes and in again when it reopens: no heap.

use core::fmt::Display;
use core::ops::Bound;

use cairn_core::{BlockDevice, Db, Memory};
use cairn_flash::NorFlashDevice;
use cortex_m_semihosting::hprintln;

use crate::board::{self, Flash, KEYS, ROUNDS, VALUE_LEN};
use crate::{ensure, fail};

/// Length of every key: `k/` and three digits.
const KEY_LEN: usize = 5;

/// The key of entry `i`: `k/000`, `k/001`, ...
fn key(i: usize) -> [u8; KEY_LEN] {
    let i = i % 1000;
    [
        b'k',
        b'/',
        b'0' + (i / 100) as u8,
        b'0' + (i / 10 % 10) as u8,
        b'0' + (i % 10) as u8,
    ]
}

/// The value written to key `i` in generation `generation`: recognisable
/// from its first bytes, and different in every byte from one generation
/// to the next.
fn value(i: usize, generation: u16) -> [u8; VALUE_LEN] {
    let mut v = [0u8; VALUE_LEN];
    v[0] = i as u8;
    v[1..3].copy_from_slice(&generation.to_le_bytes());
    for (j, b) in v.iter_mut().enumerate().skip(3) {
        *b = (i as u8)
            .wrapping_mul(31)
            .wrapping_add((generation as u8).wrapping_mul(7))
            .wrapping_add(j as u8);
    }
    v
}

/// What the store must hold: the generation of each key's value, 0 for
/// none.
struct Model {
    generation: [u16; KEYS],
}

/// Unwraps a store result, or reports the failure and stops.
fn ok<T, E: Display>(r: Result<T, E>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => fail(what, &e),
    }
}

/// Compares every key with the model, by point lookups.
#[inline(never)]
fn verify<D: BlockDevice>(db: &mut Db<D>, model: &Model, when: &str) {
    let mut buf = [0u8; VALUE_LEN];
    let mut live = 0;
    for (i, &generation) in model.generation.iter().enumerate() {
        let got = ok(db.get(&key(i), &mut buf), "get");
        match (generation, got) {
            (0, None) => {}
            (0, Some(_)) => fail(when, &"a deleted key came back"),
            (_, None) => fail(when, &"a key was lost"),
            (g, Some(n)) => {
                ensure(
                    n == VALUE_LEN && buf == value(i, g),
                    when,
                    "a value is wrong",
                );
                live += 1;
            }
        }
    }
    hprintln!("ok   {}: {} keys looked up, {} live", when, KEYS, live);
}

/// Scans `[key(from), key(to))` and compares it with the model: every live
/// key of the range, in order, with its value, and nothing else.
#[inline(never)]
fn scan_range<D: BlockDevice>(db: &mut Db<D>, model: &Model, from: usize, to: usize, when: &str) {
    let (lo, hi) = (key(from), key(to));
    let mut next = from;
    let mut seen = 0;
    let mut wrong = None;
    let r = db.scan(Bound::Included(&lo), Bound::Excluded(&hi), |k, v| {
        // The next live key of the model must be this one.
        while next < to && model.generation[next] == 0 {
            next += 1;
        }
        if next >= to || k != key(next) {
            wrong = Some("a key out of place");
            return false;
        }
        if v != value(next, model.generation[next]) {
            wrong = Some("a value is wrong");
            return false;
        }
        next += 1;
        seen += 1;
        true
    });
    ok(r, "scan");
    if let Some(why) = wrong {
        fail(when, &why);
    }
    let expected = (from..to).filter(|i| model.generation[*i] != 0).count();
    ensure(seen == expected, when, "keys missing from the scan");
    hprintln!(
        "ok   {}: keys k/{:03}..k/{:03}, {} live, in order",
        when,
        from,
        to,
        seen
    );
}

/// Closes the store and opens it again from the same flash, as after a
/// reboot: nothing of the old handle survives but the flash.
///
/// The store stays in the caller's one slot throughout, so that the
/// caller's stack holds one `Db`, not one per reboot.
#[inline(never)]
fn remount<'s, D: BlockDevice>(slot: &'s mut Option<Db<D>>, memory: &mut Memory) -> &'s mut Db<D> {
    let Some(db) = slot.take() else {
        fail("remount", &"no store to remount")
    };
    let dev = db.close(memory);
    let db = slot.insert(ok(
        Db::open_in(dev, board::CONFIG, memory),
        "open after remount",
    ));
    hprintln!("ok   remount: store opened from flash");
    db
}

// The phases below are kept out of line so that the locals of one do not
// add to the stack of another.

/// Formats a store on `dev`, in `memory`.
#[inline(never)]
fn format<'s, D: BlockDevice>(
    dev: D,
    memory: &mut Memory,
    slot: &'s mut Option<Db<D>>,
) -> &'s mut Db<D> {
    let g = dev.geometry();
    ensure(
        g == board::GEOMETRY,
        "format",
        "the flash is not the shape the memory was sized for",
    );
    let db = slot.insert(ok(Db::format_in(dev, board::CONFIG, memory), "format"));
    hprintln!(
        "ok   format: {} blocks of {} bytes, program unit {}, values up to {} bytes",
        g.block_count,
        g.block_size,
        g.program_size,
        db.max_value_len()
    );
    db
}

/// Writes every key, overwrites each `ROUNDS - 1` times, deletes a third.
#[inline(never)]
fn write<D: BlockDevice>(db: &mut Db<D>, model: &mut Model) {
    for i in 0..KEYS {
        ok(db.put(&key(i), &value(i, 1)), "put");
        model.generation[i] = 1;
    }
    hprintln!("ok   write: {} keys of {} bytes", KEYS, VALUE_LEN);

    let mut overwrites = 0u32;
    for generation in 2..=ROUNDS {
        for i in 0..KEYS {
            ok(db.put(&key(i), &value(i, generation)), "overwrite");
            model.generation[i] = generation;
            overwrites += 1;
        }
    }
    let written = db.stats().user_bytes_written;
    let tenths = written * 10 / db.device().geometry().capacity();
    hprintln!(
        "ok   overwrite: {} overwrites, {} bytes written in all ({}.{}x the flash)",
        overwrites,
        written,
        tenths / 10,
        tenths % 10
    );

    let mut deletes = 0;
    for i in (0..KEYS).step_by(3) {
        ok(db.delete(&key(i)), "delete");
        model.generation[i] = 0;
        deletes += 1;
    }
    ok(db.delete(b"no-such-key"), "delete of a missing key");
    hprintln!("ok   delete: {} keys, and one that never was", deletes);

    let s = db.stats();
    hprintln!(
        "info stats: {} puts, {} flushes, {} compactions, {} erases, {} bytes programmed \
         (write amplification {}.{:02}), {} of {} blocks in use",
        s.puts,
        s.flushes,
        s.compactions,
        s.erases,
        s.bytes_programmed,
        s.bytes_programmed / s.user_bytes_written,
        s.bytes_programmed * 100 / s.user_bytes_written % 100,
        s.blocks_in_use,
        s.block_count
    );
}

/// After a reboot: brings back the deleted keys and deletes others.
#[inline(never)]
fn write_more<D: BlockDevice>(db: &mut Db<D>, model: &mut Model) {
    for i in (0..KEYS).step_by(3) {
        ok(db.put(&key(i), &value(i, ROUNDS + 1)), "put after remount");
        model.generation[i] = ROUNDS + 1;
    }
    for i in (1..KEYS).step_by(4) {
        ok(db.delete(&key(i)), "delete after remount");
        model.generation[i] = 0;
    }
    hprintln!("ok   write after remount");
}

/// Reads back every structure of the store and verifies it.
#[inline(never)]
fn check<D: BlockDevice>(db: &mut Db<D>) {
    let report = ok(db.check(), "check");
    for p in &report.problems {
        hprintln!("FAIL check: {}", p);
    }
    ensure(report.is_ok(), "check", "the check found problems");
    hprintln!(
        "ok   check: {} tables, {} entries, {} blocks verified",
        report.tables,
        report.entries,
        report.blocks_checked
    );
}

/// Runs the workout on `flash`; stops the firmware with a failure at the
/// first wrong answer. Returns the bytes of the store's static buffer and
/// of its handle.
#[inline(never)]
pub fn run(flash: &mut Flash) -> (usize, usize) {
    let dev = match NorFlashDevice::new(flash) {
        Ok(dev) => dev,
        Err(rejected) => fail("flash", &rejected.error),
    };
    let mut model = Model {
        generation: [0; KEYS],
    };
    let mut slot = None;
    let memory = board::take_store_memory();
    let db = format(dev, memory, &mut slot);
    let handle = core::mem::size_of_val(db);
    hprintln!(
        "info memory: {} bytes of static buffer, {} bytes of handle, no heap",
        board::STORE_MEMORY,
        handle
    );
    write(db, &mut model);
    verify(db, &model, "read back");
    scan_range(db, &model, KEYS / 4, KEYS * 3 / 4, "range scan");
    scan_range(db, &model, 0, KEYS, "full scan");

    let db = remount(&mut slot, memory);
    verify(db, &model, "read after remount");
    scan_range(db, &model, KEYS / 3, KEYS / 2, "range scan after remount");
    write_more(db, &mut model);

    let db = remount(&mut slot, memory);
    verify(db, &model, "read after second remount");
    scan_range(db, &model, 0, KEYS, "full scan after second remount");
    check(db);
    (board::STORE_MEMORY, handle)
}
