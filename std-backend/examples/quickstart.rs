//! Creates a store, writes to it, closes it, reopens it and reads back.
//!
//! ```text
//! cargo run --release -p cairn-std --example quickstart [PATH]
//! ```

use std::time::Instant;

use cairn_std::{Batch, Db};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "quickstart.cairn".into());
    let n = 50_000u32;
    {
        let db = Db::open(&path)?;
        let start = Instant::now();
        let mut batch = Batch::new();
        for i in 0..n {
            batch.put(
                format!("sensor:{i:08}").as_bytes(),
                format!("{}", i * 3).as_bytes(),
            );
            if batch.len() == 1000 {
                db.write(&batch)?;
                batch.clear();
            }
        }
        db.write(&batch)?;
        db.put("greeting", "hello from cairn")?;
        db.delete("sensor:00000007")?;
        println!("wrote {n} keys in {:?}", start.elapsed());
    } // closed: nothing to flush, every write above is already durable

    let start = Instant::now();
    let db = Db::open(&path)?;
    println!("reopened {path} in {:?}", start.elapsed());
    let greeting = db.get("greeting")?.unwrap_or_default();
    println!("greeting = {}", String::from_utf8_lossy(&greeting));
    println!("sensor:00000007 = {:?}", db.get("sensor:00000007")?);
    let first: Vec<String> = db
        .range("sensor:".as_bytes()..)
        .take(3)
        .map(|r| {
            r.map(|(k, v)| {
                format!(
                    "{}={}",
                    String::from_utf8_lossy(&k),
                    String::from_utf8_lossy(&v)
                )
            })
        })
        .collect::<Result<_, _>>()?;
    println!("first sensors: {}", first.join(", "));
    let stats = db.stats();
    println!(
        "{} blocks of {} KiB in use, tables per level {:?}",
        stats.blocks_in_use,
        stats.block_size / 1024,
        stats.tables_per_level,
    );
    let report = db.check()?;
    println!(
        "check: {} tables, {} entries, {}",
        report.tables,
        report.entries,
        if report.is_ok() {
            "no problems"
        } else {
            "PROBLEMS FOUND"
        }
    );
    if !report.is_ok() {
        for p in &report.problems {
            eprintln!("  {p}");
        }
        std::process::exit(1);
    }
    Ok(())
}
