//! The `cairn` binary as a user runs it: `serve` stopped by SIGTERM, and the
//! offline tools on the store it leaves behind.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const CAIRN: &str = env!("CARGO_BIN_EXE_cairn");

fn cairn(args: &[&str]) -> Output {
    Command::new(CAIRN).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Starts `cairn serve` on a free port; returns the child, its address and
/// the rest of its log.
fn serve(dir: &Path, extra: &[&str]) -> (Child, String, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(CAIRN)
        .args(["serve", "--port", "0", "--dir"])
        .arg(dir)
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("a log line");
    let addr = first
        .rsplit(" on ")
        .next()
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_string();
    (child, addr, rx)
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("cairn serve did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serve_stops_cleanly_on_sigterm_and_tools_read_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (mut child, addr, log) = serve(dir.path(), &[]);
    let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
    let mut con = client
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap();
    let mut pipe = redis::pipe();
    for i in 0..100 {
        pipe.cmd("SET")
            .arg(format!("k{i:03}"))
            .arg(format!("v{i}"))
            .ignore();
    }
    pipe.cmd("SET").arg("tab\tkey").arg("line\nbreak").ignore();
    let _: () = pipe.query(&mut con).unwrap();
    let _: () = redis::cmd("DEL").arg("k000").query(&mut con).unwrap();

    // While served, the store is locked against the tools.
    let locked = cairn(&["get", "--dir", d, "k001"]);
    assert_eq!(locked.status.code(), Some(2));
    assert!(stderr(&locked).contains("locked"), "{}", stderr(&locked));

    let status = terminate(&mut child);
    assert!(status.success(), "exit status {status:?}");
    let rest: Vec<String> = log.try_iter().collect();
    assert!(
        rest.iter().any(|l| l.contains("shut down cleanly")),
        "{rest:?}"
    );
    drop(con);

    let got = cairn(&["get", "--dir", d, "k042"]);
    assert_eq!(
        (got.status.code(), stdout(&got).as_str()),
        (Some(0), "v42\n")
    );
    let got = cairn(&["get", "--dir", d, "tab\\tkey"]);
    assert_eq!(stdout(&got), "line\\nbreak\n");
    let got = cairn(&["get", "--dir", d, "tab\\tkey", "--raw"]);
    assert_eq!(stdout(&got), "line\nbreak");
    let missing = cairn(&["get", "--dir", d, "k000"]);
    assert_eq!(missing.status.code(), Some(1));

    let scan = cairn(&["scan", "--dir", d, "--prefix", "k", "--limit", "3"]);
    assert_eq!(stdout(&scan), "k001\tv1\nk002\tv2\nk003\tv3\n");
    let keys = cairn(&["scan", "--dir", d, "--keys-only", "--start", "k098"]);
    assert_eq!(stdout(&keys), "k098\nk099\ntab\\tkey\n");

    let stats = cairn(&["stats", "--dir", d]);
    assert!(stats.status.success());
    assert!(stdout(&stats).contains("keys: 100\n"), "{}", stdout(&stats));
    assert!(stdout(&stats).contains("block_size: 262144\n"));

    let check = cairn(&["check", "--dir", d]);
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));
    assert!(stdout(&check).contains("ok: no damage found"));

    let inspect = cairn(&["inspect", "--dir", d]);
    let text = stdout(&inspect);
    assert_eq!(inspect.status.code(), Some(0), "{text}");
    assert!(
        text.contains("geometry: 32768 blocks of 262144 bytes"),
        "{text}"
    );
    assert!(text.contains("manifest  epoch"), "{text}");
    assert!(text.contains("table     epoch"), "{text}");
    assert!(text.contains("mounted read-only"), "{text}");
}

#[test]
fn put_del_load_and_scan_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert_eq!(
        stdout(&cairn(&["put", "--dir", d, "a\\x00b", "v\\tw"])),
        "OK\n"
    );
    assert_eq!(stdout(&cairn(&["get", "--dir", d, "a\\x00b"])), "v\\tw\n");
    assert_eq!(
        stdout(&cairn(&["del", "--dir", d, "a\\x00b", "nothing"])),
        "1\n"
    );
    assert_eq!(
        cairn(&["get", "--dir", d, "a\\x00b"]).status.code(),
        Some(1)
    );

    let input = dir.path().join("input.tsv");
    let mut f = std::fs::File::create(&input).unwrap();
    for i in 0..5000 {
        writeln!(f, "key{i:05}\tvalue {i}").unwrap();
    }
    writeln!(f, "bin\\xff\tcr\\r\\n").unwrap();
    drop(f);
    let load = cairn(&["load", "--dir", d, input.to_str().unwrap()]);
    assert!(load.status.success(), "{}", stderr(&load));
    assert!(
        stdout(&load).starts_with("loaded 5001 keys"),
        "{}",
        stdout(&load)
    );

    let dump = cairn(&["scan", "--dir", d]);
    let text = stdout(&dump);
    assert_eq!(text.lines().count(), 5001);
    assert!(text.starts_with("bin\\xff\tcr\\r\\n\nkey00000\tvalue 0\n"));

    // What scan prints, load reads back: a copy of the store.
    let copy_dir = tempfile::tempdir().unwrap();
    let c = copy_dir.path().to_str().unwrap();
    let dumped = dir.path().join("dump.tsv");
    std::fs::write(&dumped, &dump.stdout).unwrap();
    assert!(cairn(&["load", "--dir", c, dumped.to_str().unwrap()])
        .status
        .success());
    assert_eq!(stdout(&cairn(&["scan", "--dir", c])), text);

    // A malformed line names its place and stops the load.
    let bad = dir.path().join("bad.tsv");
    std::fs::write(&bad, "a\t1\nb\t2\nno tab here\n").unwrap();
    let out = cairn(&["load", "--dir", c, bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("bad.tsv:3: expected key<TAB>value"),
        "{}",
        stderr(&out)
    );

    // Tools do not create stores where there are none.
    let empty = tempfile::tempdir().unwrap();
    let e = empty.path().join("nothing");
    let out = cairn(&["check", "--dir", e.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!e.exists());
}

#[test]
fn check_and_inspect_report_damage() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let path = cairn_cli::disk::store_path(dir.path());
    {
        let db = cairn_std::Db::open(&path).unwrap();
        for i in 0..2000 {
            db.put(format!("key{i:05}"), format!("value {i}")).unwrap();
        }
        db.flush().unwrap();
    }
    assert_eq!(cairn(&["check", "--dir", d]).status.code(), Some(0));
    let inspect = stdout(&cairn(&["inspect", "--dir", d]));
    let table_block: u64 = inspect
        .lines()
        .find(|l| l.contains(" table "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|b| b.parse().ok())
        .unwrap_or_else(|| panic!("no table in:\n{inspect}"));
    // Flip bytes inside the table's first data block.
    let mut bytes = std::fs::read(&path).unwrap();
    let at = (table_block * 262_144 + 100) as usize;
    for b in &mut bytes[at..at + 8] {
        *b ^= 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();

    let check = cairn(&["check", "--dir", d]);
    assert_eq!(
        check.status.code(),
        Some(1),
        "{}{}",
        stdout(&check),
        stderr(&check)
    );
    assert!(stdout(&check).contains("problem: "), "{}", stdout(&check));
    assert!(stdout(&check).contains("DAMAGED: 1 problem(s) found"));
    let inspect = cairn(&["inspect", "--dir", d]);
    assert_eq!(inspect.status.code(), Some(1), "{}", stdout(&inspect));
    assert!(stdout(&inspect).contains("DAMAGED"), "{}", stdout(&inspect));
}
