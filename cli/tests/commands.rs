//! Every command, through the `redis` crate (and raw TCP where the exact
//! bytes matter), against a server over a real on-disk store.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{config, resp, TestServer};
use redis::{cmd, Connection, RedisResult, Value};

fn q<T: redis::FromRedisValue>(con: &mut Connection, args: &[&str]) -> RedisResult<T> {
    let mut c = cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con)
}

fn ok(con: &mut Connection, args: &[&str]) {
    let r: String = q(con, args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert_eq!(r, "OK", "{args:?}");
}

/// The error line the server sends for `args`, read over raw TCP.
fn error_line(s: &TestServer, args: &[&str]) -> String {
    let mut raw = s.raw();
    let parts: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    raw.send(&resp(&parts));
    let line = raw.line();
    assert!(line.starts_with('-'), "{args:?} replied {line:?}");
    line.trim_start_matches('-').trim_end().to_string()
}

#[test]
fn strings() {
    let s = TestServer::disk(config());
    let c = &mut s.client();
    assert_eq!(q::<Option<String>>(c, &["GET", "k"]).unwrap(), None);
    ok(c, &["SET", "k", "v1"]);
    assert_eq!(q::<String>(c, &["GET", "k"]).unwrap(), "v1");
    // NX / XX / GET
    assert_eq!(
        q::<Option<String>>(c, &["SET", "k", "v2", "NX"]).unwrap(),
        None
    );
    assert_eq!(q::<String>(c, &["GET", "k"]).unwrap(), "v1");
    assert_eq!(
        q::<Option<String>>(c, &["SET", "new", "x", "XX"]).unwrap(),
        None
    );
    assert_eq!(q::<Option<String>>(c, &["GET", "new"]).unwrap(), None);
    ok(c, &["SET", "k", "v2", "XX"]);
    assert_eq!(q::<String>(c, &["SET", "k", "v3", "GET"]).unwrap(), "v2");
    assert_eq!(
        q::<Option<String>>(c, &["SET", "fresh", "f", "GET"]).unwrap(),
        None
    );
    assert_eq!(q::<String>(c, &["GET", "fresh"]).unwrap(), "f");
    assert_eq!(
        q::<String>(c, &["SET", "k", "v4", "NX", "GET"]).unwrap(),
        "v3"
    );
    assert_eq!(q::<String>(c, &["GET", "k"]).unwrap(), "v3");
    ok(c, &["SET", "k", "v5", "KEEPTTL"]);
    assert_eq!(
        error_line(&s, &["SET", "k", "v", "EX", "10"]),
        "ERR cairn keys do not expire: SET does not support EX, PX, EXAT or PXAT"
    );
    assert_eq!(
        error_line(&s, &["SET", "k", "v", "PX", "10"])
            .split(':')
            .next(),
        Some("ERR cairn keys do not expire")
    );
    assert_eq!(
        error_line(&s, &["SET", "k", "v", "NX", "XX"]),
        "ERR syntax error"
    );
    assert_eq!(
        error_line(&s, &["SET", "k", "v", "BOGUS"]),
        "ERR syntax error"
    );
    assert_eq!(q::<String>(c, &["GET", "k"]).unwrap(), "v5");
    // SETNX, GETSET, GETDEL
    assert_eq!(q::<i64>(c, &["SETNX", "k", "x"]).unwrap(), 0);
    assert_eq!(q::<i64>(c, &["SETNX", "nx", "x"]).unwrap(), 1);
    assert_eq!(q::<String>(c, &["GETSET", "nx", "y"]).unwrap(), "x");
    assert_eq!(q::<String>(c, &["GETDEL", "nx"]).unwrap(), "y");
    assert_eq!(q::<Option<String>>(c, &["GETDEL", "nx"]).unwrap(), None);
    assert_eq!(q::<Option<String>>(c, &["GET", "nx"]).unwrap(), None);
    // STRLEN, APPEND, GETRANGE
    assert_eq!(q::<i64>(c, &["STRLEN", "k"]).unwrap(), 2);
    assert_eq!(q::<i64>(c, &["STRLEN", "missing"]).unwrap(), 0);
    assert_eq!(q::<i64>(c, &["APPEND", "k", "-more"]).unwrap(), 7);
    assert_eq!(q::<i64>(c, &["APPEND", "ap", "abc"]).unwrap(), 3);
    assert_eq!(q::<String>(c, &["GET", "k"]).unwrap(), "v5-more");
    assert_eq!(q::<String>(c, &["GETRANGE", "k", "0", "1"]).unwrap(), "v5");
    assert_eq!(
        q::<String>(c, &["GETRANGE", "k", "-4", "-1"]).unwrap(),
        "more"
    );
    assert_eq!(
        q::<String>(c, &["GETRANGE", "missing", "0", "-1"]).unwrap(),
        ""
    );
    // Binary-safe values, and keys the engine cannot hold.
    let bin: Vec<u8> = (0..=255u8).chain(b"\r\n\r\n".iter().copied()).collect();
    let _: () = cmd("SET")
        .arg(&b"bin\0key"[..])
        .arg(&bin[..])
        .query(c)
        .unwrap();
    let back: Vec<u8> = cmd("GET").arg(&b"bin\0key"[..]).query(c).unwrap();
    assert_eq!(back, bin);
    assert_eq!(q::<Option<String>>(c, &["GET", ""]).unwrap(), None);
    assert_eq!(
        error_line(&s, &["SET", "", "v"]),
        "ERR empty keys are not supported"
    );
    let long_key = "k".repeat(5000);
    assert_eq!(q::<Option<String>>(c, &["GET", &long_key]).unwrap(), None);
    assert!(error_line(&s, &["SET", &long_key, "v"])
        .starts_with("ERR key is 5000 bytes, longer than the store's limit"));
    let big = "v".repeat(70_000);
    assert!(error_line(&s, &["SET", "big", &big]).starts_with("ERR value is 70000 bytes"));
    assert!(error_line(&s, &["APPEND", "k", &big]).starts_with("ERR value is"));
    assert_eq!(q::<String>(c, &["GET", "k"]).unwrap(), "v5-more");
}

#[test]
fn counters() {
    let s = TestServer::disk(config());
    let c = &mut s.client();
    assert_eq!(q::<i64>(c, &["INCR", "n"]).unwrap(), 1);
    assert_eq!(q::<i64>(c, &["INCRBY", "n", "41"]).unwrap(), 42);
    assert_eq!(q::<i64>(c, &["DECR", "n"]).unwrap(), 41);
    assert_eq!(q::<i64>(c, &["DECRBY", "n", "50"]).unwrap(), -9);
    assert_eq!(q::<String>(c, &["GET", "n"]).unwrap(), "-9");
    assert_eq!(q::<i64>(c, &["DECR", "fresh"]).unwrap(), -1);
    ok(c, &["SET", "text", "abc"]);
    assert_eq!(
        error_line(&s, &["INCR", "text"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        error_line(&s, &["INCRBY", "n", "1.5"]),
        "ERR value is not an integer or out of range"
    );
    ok(c, &["SET", "max", &i64::MAX.to_string()]);
    assert_eq!(
        error_line(&s, &["INCR", "max"]),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        q::<String>(c, &["GET", "max"]).unwrap(),
        i64::MAX.to_string()
    );
    ok(c, &["SET", "padded", " 1"]);
    assert!(error_line(&s, &["INCR", "padded"]).starts_with("ERR value is not an integer"));
}

#[test]
fn multi_key_commands() {
    let s = TestServer::disk(config());
    let c = &mut s.client();
    ok(c, &["MSET", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(
        q::<Vec<Option<String>>>(c, &["MGET", "a", "nope", "c"]).unwrap(),
        vec![Some("1".into()), None, Some("3".into())]
    );
    assert_eq!(q::<i64>(c, &["EXISTS", "a", "b", "nope", "a"]).unwrap(), 3);
    assert_eq!(q::<i64>(c, &["MSETNX", "a", "9", "z", "9"]).unwrap(), 0);
    assert_eq!(q::<Option<String>>(c, &["GET", "z"]).unwrap(), None);
    assert_eq!(q::<i64>(c, &["MSETNX", "y", "8", "z", "9"]).unwrap(), 1);
    assert_eq!(q::<i64>(c, &["DEL", "a", "a", "nope", "y"]).unwrap(), 2);
    assert_eq!(q::<i64>(c, &["UNLINK", "b", "z"]).unwrap(), 2);
    assert_eq!(q::<i64>(c, &["EXISTS", "a", "b", "y", "z"]).unwrap(), 0);
    assert_eq!(
        error_line(&s, &["MSET", "a", "1", "b"]),
        "ERR wrong number of arguments for 'mset' command"
    );
    // One key of an MSET too long: nothing of it is applied.
    let long_key = "k".repeat(5000);
    assert!(error_line(&s, &["MSET", "p", "1", &long_key, "2"]).starts_with("ERR key is"));
    assert_eq!(q::<Option<String>>(c, &["GET", "p"]).unwrap(), None);
}

fn scan_all(c: &mut Connection, extra: &[&str]) -> (Vec<String>, usize) {
    let mut cursor = "0".to_string();
    let mut keys = Vec::new();
    let mut steps = 0;
    loop {
        let mut command = cmd("SCAN");
        command.arg(&cursor);
        for a in extra {
            command.arg(*a);
        }
        let (next, batch): (String, Vec<String>) = command.query(c).unwrap();
        keys.extend(batch);
        steps += 1;
        assert!(steps < 10_000);
        if next == "0" {
            return (keys, steps);
        }
        cursor = next;
    }
}

#[test]
fn scan_and_keys() {
    let s = TestServer::disk(config());
    let c = &mut s.client();
    let mut expected = BTreeSet::new();
    let mut pipe = redis::pipe();
    for i in 0..250 {
        let k = format!("user:{i:04}");
        pipe.cmd("SET").arg(&k).arg(i).ignore();
        expected.insert(k);
    }
    for i in 0..30 {
        pipe.cmd("SET").arg(format!("other:{i}")).arg(i).ignore();
    }
    let _: () = pipe.query(c).unwrap();

    // Whole keyspace, in key order, each key once.
    let (all, steps) = scan_all(c, &[]);
    assert_eq!(all.len(), 280);
    assert!(
        all.windows(2).all(|w| w[0] < w[1]),
        "SCAN returns keys in key order"
    );
    assert_eq!(steps, 28, "COUNT defaults to 10 keys per step");
    // MATCH with COUNT.
    let (users, _) = scan_all(c, &["MATCH", "user:*", "COUNT", "100"]);
    assert_eq!(users.into_iter().collect::<BTreeSet<_>>(), expected);
    let (some, _) = scan_all(c, &["MATCH", "*:00[0-1]?", "COUNT", "7"]);
    assert_eq!(some.len(), 20);
    let (none, _) = scan_all(c, &["TYPE", "hash"]);
    assert!(none.is_empty());
    let (strings, _) = scan_all(c, &["TYPE", "string", "COUNT", "1000"]);
    assert_eq!(strings.len(), 280);

    // Keys present for the whole scan are returned even as others change.
    let (first, batch): (String, Vec<String>) = cmd("SCAN")
        .arg(0)
        .arg("MATCH")
        .arg("user:*")
        .query(c)
        .unwrap();
    let mut seen: BTreeSet<String> = batch.into_iter().collect();
    let _: () = cmd("DEL").arg("user:0000").query(c).unwrap();
    let _: () = cmd("SET").arg("user:0000a").arg("x").query(c).unwrap();
    let mut cursor = first;
    while cursor != "0" {
        let (next, batch): (String, Vec<String>) = cmd("SCAN")
            .arg(&cursor)
            .arg("MATCH")
            .arg("user:*")
            .arg("COUNT")
            .arg(25)
            .query(c)
            .unwrap();
        seen.extend(batch);
        cursor = next;
    }
    for k in expected.iter().skip(1) {
        assert!(seen.contains(k), "{k} missing from a scan during changes");
    }

    // KEYS.
    let mut keys: Vec<String> = q(c, &["KEYS", "other:*"]).unwrap();
    keys.sort();
    assert_eq!(keys.len(), 30);
    assert_eq!(
        q::<Vec<String>>(c, &["KEYS", "user:000?"]).unwrap().len(),
        9
    );
    assert_eq!(q::<Vec<String>>(c, &["KEYS", "*"]).unwrap().len(), 280);
    assert_eq!(q::<Vec<String>>(c, &["KEYS", "nothing*"]).unwrap().len(), 0);

    // Bad cursors and options.
    assert_eq!(error_line(&s, &["SCAN", "abc"]), "ERR invalid cursor");
    assert!(
        error_line(&s, &["SCAN", "12345"]).starts_with("ERR invalid cursor: unknown or expired")
    );
    assert_eq!(
        error_line(&s, &["SCAN", "0", "COUNT", "0"]),
        "ERR syntax error"
    );
    assert_eq!(error_line(&s, &["SCAN", "0", "COUNT"]), "ERR syntax error");
    assert_eq!(
        error_line(&s, &["SCAN", "0", "BOGUS", "1"]),
        "ERR syntax error"
    );

    // The redis crate's own iterator.
    let iter: redis::Iter<String> = cmd("SCAN")
        .cursor_arg(0)
        .arg("MATCH")
        .arg("other:*")
        .clone()
        .iter(c)
        .unwrap();
    assert_eq!(iter.count(), 30);
}

#[test]
fn server_commands() {
    let s = TestServer::disk(config());
    let c = &mut s.client();
    assert_eq!(q::<String>(c, &["PING"]).unwrap(), "PONG");
    assert_eq!(q::<String>(c, &["PING", "hello"]).unwrap(), "hello");
    assert_eq!(q::<String>(c, &["ECHO", "a b"]).unwrap(), "a b");
    ok(c, &["SELECT", "0"]);
    assert_eq!(
        error_line(&s, &["SELECT", "1"]),
        "ERR DB index is out of range"
    );
    assert_eq!(
        error_line(&s, &["SELECT", "x"]),
        "ERR value is not an integer or out of range"
    );
    let (secs, micros): (String, String) = q(c, &["TIME"]).unwrap();
    assert!(secs.parse::<u64>().unwrap() > 1_600_000_000);
    assert!(micros.parse::<u32>().unwrap() < 1_000_000);

    assert_eq!(q::<i64>(c, &["DBSIZE"]).unwrap(), 0);
    ok(c, &["MSET", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(q::<i64>(c, &["DBSIZE"]).unwrap(), 3);
    assert_eq!(q::<String>(c, &["TYPE", "a"]).unwrap(), "string");
    assert_eq!(q::<String>(c, &["TYPE", "zz"]).unwrap(), "none");
    assert_eq!(q::<i64>(c, &["TTL", "a"]).unwrap(), -1);
    assert_eq!(q::<i64>(c, &["PTTL", "zz"]).unwrap(), -2);
    ok(c, &["SAVE"]);

    let info: String = q(c, &["INFO"]).unwrap();
    for needle in [
        "# Server",
        "redis_version:",
        "# Clients",
        "connected_clients:",
        "# Stats",
        "total_commands_processed:",
        "# Keyspace",
        "db0:keys=3,expires=0,avg_ttl=0",
        "# Storage",
        "puts:",
        "bytes_programmed:",
        "tables_l0:",
        "write_amplification:",
    ] {
        assert!(info.contains(needle), "INFO lacks {needle:?}:\n{info}");
    }
    assert!(!info.contains("# Commandstats"));
    let keyspace: String = q(c, &["INFO", "keyspace"]).unwrap();
    assert!(keyspace.starts_with("# Keyspace") && !keyspace.contains("# Server"));
    let several: String = q(c, &["INFO", "server", "STORAGE"]).unwrap();
    assert!(
        several.contains("# Server")
            && several.contains("# Storage")
            && !several.contains("# Stats")
    );
    let all: String = q(c, &["INFO", "all"]).unwrap();
    assert!(all.contains("cmdstat_mset:calls=1"));

    ok(c, &["FLUSHDB"]);
    assert_eq!(q::<i64>(c, &["DBSIZE"]).unwrap(), 0);
    let keyspace: String = q(c, &["INFO", "keyspace"]).unwrap();
    assert!(!keyspace.contains("db0:"));
    ok(c, &["SET", "x", "1"]);
    ok(c, &["FLUSHALL", "SYNC"]);
    assert_eq!(q::<Option<String>>(c, &["GET", "x"]).unwrap(), None);
    assert_eq!(error_line(&s, &["FLUSHDB", "NOW"]), "ERR syntax error");
}

#[test]
fn connection_and_introspection() {
    let s = TestServer::disk(config());
    let c = &mut s.client();
    let id: i64 = q(c, &["CLIENT", "ID"]).unwrap();
    assert!(id > 0);
    assert_eq!(
        q::<Option<String>>(c, &["CLIENT", "GETNAME"]).unwrap(),
        None
    );
    ok(c, &["CLIENT", "SETNAME", "worker-1"]);
    assert_eq!(q::<String>(c, &["CLIENT", "GETNAME"]).unwrap(), "worker-1");
    ok(c, &["CLIENT", "SETINFO", "LIB-NAME", "tests"]);
    let list: String = q(c, &["CLIENT", "LIST"]).unwrap();
    assert!(
        list.contains(&format!("id={id} "))
            && list.contains("name=worker-1")
            && list.contains("lib-name=tests"),
        "{list}"
    );
    let me: String = q(c, &["CLIENT", "INFO"]).unwrap();
    assert_eq!(me.lines().count(), 1);
    assert_eq!(
        error_line(&s, &["CLIENT", "SETNAME", "has space"]),
        "ERR Client names cannot contain spaces, newlines or special characters."
    );
    assert_eq!(
        error_line(&s, &["CLIENT", "KILL", "x"]),
        "ERR unknown subcommand 'KILL'. Try CLIENT HELP."
    );
    assert_eq!(
        error_line(&s, &["CLIENT", "ID", "x"]),
        "ERR wrong number of arguments for 'client|id' command"
    );

    // CONFIG GET, as redis-benchmark and client libraries use it.
    let save: Vec<String> = q(c, &["CONFIG", "GET", "save"]).unwrap();
    assert_eq!(save, vec!["save".to_string(), String::new()]);
    let aof: Vec<String> = q(c, &["CONFIG", "GET", "appendonly"]).unwrap();
    assert_eq!(aof, vec!["appendonly", "no"]);
    let several: Vec<String> = q(c, &["CONFIG", "GET", "databases", "maxmemory*"]).unwrap();
    assert_eq!(
        several,
        vec![
            "databases",
            "1",
            "maxmemory",
            "0",
            "maxmemory-policy",
            "noeviction"
        ]
    );
    let port: Vec<String> = q(c, &["CONFIG", "GET", "port"]).unwrap();
    assert_eq!(port[1], s.addr.port().to_string());
    assert!(q::<Vec<String>>(c, &["CONFIG", "GET", "nothing-like-this"])
        .unwrap()
        .is_empty());
    assert!(error_line(&s, &["CONFIG", "SET", "maxmemory", "1"])
        .starts_with("ERR cairn is configured by command-line flags"));
    ok(c, &["CONFIG", "RESETSTAT"]);

    // COMMAND.
    let count: i64 = q(c, &["COMMAND", "COUNT"]).unwrap();
    assert_eq!(count as usize, cairn_cli::command::COMMANDS.len());
    let all: Vec<Value> = q(c, &["COMMAND"]).unwrap();
    assert_eq!(all.len() as i64, count);
    let names: Vec<String> = q(c, &["COMMAND", "LIST"]).unwrap();
    for n in ["get", "set", "scan", "hello", "info", "incrby"] {
        assert!(names.contains(&n.to_string()), "{n}");
    }
    let info: Vec<Value> = q(c, &["COMMAND", "INFO", "get", "nope"]).unwrap();
    assert_eq!(info.len(), 2);
    assert_eq!(info[1], Value::Nil);
    let docs: Value = q(c, &["COMMAND", "DOCS", "set"]).unwrap();
    let Value::Array(items) = docs else {
        panic!("{docs:?}")
    };
    assert_eq!(items.len(), 2);
    assert_eq!(items[0], Value::BulkString(b"set".to_vec()));

    // Errors for unknown commands and wrong arity, word for word.
    assert_eq!(
        error_line(&s, &["FOO", "bar", "baz"]),
        "ERR unknown command 'FOO', with args beginning with: 'bar' 'baz'"
    );
    assert_eq!(
        error_line(&s, &["GET"]),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(
        error_line(&s, &["PING", "a", "b"]),
        "ERR wrong number of arguments for 'ping' command"
    );
}

#[test]
fn quit_and_inline_commands() {
    let s = TestServer::memory(config());
    let mut raw = s.raw();
    raw.send(b"SET greeting \"hello world\"\r\nGET greeting\r\nPING\r\n");
    raw.expect(b"+OK\r\n$11\r\nhello world\r\n+PONG\r\n");
    raw.send(b"QUIT\r\nPING\r\n");
    raw.expect(b"+OK\r\n");
    assert!(
        raw.closed(),
        "QUIT closes the connection and ignores what follows"
    );
}

#[test]
fn resp3_after_hello() {
    let s = TestServer::memory(config());
    let mut raw = s.raw();
    raw.send(&resp(&[b"HELLO", b"3"]));
    let hello = raw.value();
    assert!(
        hello.starts_with("{server: cairn, version: 7.2.0, cairn_version: ")
            && hello.contains("proto: :3, id: :")
            && hello.ends_with("mode: standalone, role: master, modules: []}"),
        "{hello}"
    );
    raw.send(&resp(&[b"GET", b"missing"]));
    raw.expect(b"_\r\n");
    raw.send(&resp(&[b"MGET", b"missing", b"x"]));
    raw.expect(b"*2\r\n_\r\n_\r\n");
    raw.send(&resp(&[b"CONFIG", b"GET", b"databases"]));
    raw.expect(b"%1\r\n$9\r\ndatabases\r\n$1\r\n1\r\n");
    raw.send(&resp(&[b"INFO", b"keyspace"]));
    assert_eq!(raw.line(), "=16\r\n");
    raw.expect(b"txt:# Keyspace\r\n\r\n");
    raw.send(&resp(&[b"HELLO", b"2"]));
    let hello = raw.value();
    assert!(
        hello.starts_with("[server, cairn, version, 7.2.0,") && hello.contains("proto, :2"),
        "{hello}"
    );
    raw.send(&resp(&[b"GET", b"missing"]));
    raw.expect(b"$-1\r\n");
    raw.send(&resp(&[b"HELLO", b"4"]));
    raw.expect(b"-NOPROTO unsupported protocol version\r\n");
    raw.send(&resp(&[b"HELLO", b"three"]));
    raw.expect(b"-ERR Protocol version is not an integer or out of range\r\n");
}

#[test]
fn auth_with_requirepass() {
    let s = TestServer::memory(cairn_cli::server::ServerConfig {
        requirepass: Some("s3cret".into()),
        ..config()
    });
    assert_eq!(
        error_line(&s, &["GET", "k"]),
        "NOAUTH Authentication required."
    );
    assert_eq!(
        error_line(&s, &["FOO"]).split(',').next(),
        Some("ERR unknown command 'FOO'")
    );
    assert_eq!(
        error_line(&s, &["AUTH", "wrong"]),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    assert_eq!(
        error_line(&s, &["AUTH", "admin", "s3cret"]),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    assert!(error_line(&s, &["HELLO", "3"]).starts_with("NOAUTH HELLO must be called"));

    let mut raw = s.raw();
    raw.send(&resp(&[b"AUTH", b"s3cret"]));
    raw.expect(b"+OK\r\n");
    raw.send(&resp(&[b"SET", b"k", b"v"]));
    raw.expect(b"+OK\r\n");
    let mut raw = s.raw();
    raw.send(&resp(&[b"AUTH", b"default", b"s3cret"]));
    raw.expect(b"+OK\r\n");
    let mut raw = s.raw();
    raw.send(&resp(&[
        b"HELLO", b"3", b"AUTH", b"default", b"s3cret", b"SETNAME", b"me",
    ]));
    assert!(raw.value().starts_with("{server: cairn"));
    raw.send(&resp(&[b"CLIENT", b"GETNAME"]));
    raw.expect(b"$2\r\nme\r\n");

    let client = redis::Client::open(format!("redis://:s3cret@{}/", s.addr)).unwrap();
    let mut con = client
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap();
    assert_eq!(q::<String>(&mut con, &["GET", "k"]).unwrap(), "v");
    let bad = redis::Client::open(format!("redis://:nope@{}/", s.addr)).unwrap();
    assert!(bad
        .get_connection_with_timeout(Duration::from_secs(5))
        .is_err());

    let open = TestServer::memory(config());
    assert!(error_line(&open, &["AUTH", "x"])
        .starts_with("ERR AUTH <password> called without any password configured"));
}

#[test]
fn pipelining_keeps_order() {
    let s = TestServer::disk(config());
    let c = &mut s.client();
    let mut pipe = redis::pipe();
    for i in 0..500 {
        pipe.cmd("SET").arg(format!("p{i}")).arg(i);
        pipe.cmd("GET").arg(format!("p{i}"));
        pipe.cmd("INCR").arg("counter");
    }
    let replies: Vec<Value> = pipe.query(c).unwrap();
    assert_eq!(replies.len(), 1500);
    for i in 0..500 {
        assert_eq!(replies[3 * i], Value::Okay);
        assert_eq!(
            replies[3 * i + 1],
            Value::BulkString(i.to_string().into_bytes())
        );
        assert_eq!(replies[3 * i + 2], Value::Int(i as i64 + 1));
    }
    // Raw: many commands in one write, an error in the middle.
    let mut raw = s.raw();
    let mut wire = Vec::new();
    wire.extend(resp(&[b"SET", b"r", b"1"]));
    wire.extend(resp(&[b"NOPE"]));
    wire.extend(resp(&[b"INCR", b"r"]));
    wire.extend(resp(&[b"GET", b"r"]));
    raw.send(&wire);
    raw.expect(
        b"+OK\r\n-ERR unknown command 'NOPE', with args beginning with: \r\n:2\r\n$1\r\n2\r\n",
    );
}

#[test]
fn concurrent_writers_are_serialized() {
    let s = TestServer::disk(config());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let mut c = s.client();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let _: i64 = cmd("INCR").arg("shared").query(&mut c).unwrap();
                    let _: i64 = cmd("APPEND")
                        .arg(format!("log{t}"))
                        .arg("x")
                        .query(&mut c)
                        .unwrap();
                    let _: () = cmd("MSET")
                        .arg("pair:a")
                        .arg(i)
                        .arg("pair:b")
                        .arg(i)
                        .query(&mut c)
                        .unwrap();
                }
            })
        })
        .collect();
    // Meanwhile MSET's two keys are always seen equal.
    let mut reader = s.client();
    for _ in 0..300 {
        let (a, b): (Option<i64>, Option<i64>) = cmd("MGET")
            .arg("pair:a")
            .arg("pair:b")
            .query(&mut reader)
            .unwrap();
        assert_eq!(a, b, "MSET is atomic");
    }
    for t in threads {
        t.join().unwrap();
    }
    let c = &mut s.client();
    assert_eq!(q::<i64>(c, &["GET", "shared"]).unwrap(), 1600);
    for t in 0..8 {
        assert_eq!(q::<i64>(c, &["STRLEN", &format!("log{t}")]).unwrap(), 200);
    }
    let commits = s.info_field("writer_commits");
    let commands = s.info_field("writer_commands");
    assert!(commands >= 4800, "{commands}");
    assert!(
        commits <= commands,
        "group commit never makes more commits than commands"
    );
}

#[test]
fn writes_survive_shutdown_and_reopen() {
    let s = TestServer::disk(config());
    let c = &mut s.client();
    for i in 0..300 {
        let _: () = cmd("SET")
            .arg(format!("k{i:03}"))
            .arg(format!("v{i}"))
            .query(c)
            .unwrap();
    }
    let _: () = cmd("DEL").arg("k000").query(c).unwrap();
    let mut s = s;
    let dir = s.dir.take().unwrap();
    s.stop().unwrap();
    let store = cairn_cli::disk::DiskStore::open(
        &cairn_cli::disk::store_path(dir.path()),
        cairn_std::Options::default(),
    )
    .unwrap();
    use cairn_cli::store::Store;
    assert_eq!(store.len().unwrap(), 299);
    assert_eq!(store.get(b"k299").unwrap(), Some(b"v299".to_vec()));
    assert_eq!(store.get(b"k000").unwrap(), None);
    assert!(store.check().unwrap().problems.is_empty());
}

#[test]
fn prometheus_metrics_page() {
    let s = TestServer::disk(cairn_cli::server::ServerConfig {
        metrics_addr: Some("127.0.0.1:0".parse().unwrap()),
        ..config()
    });
    let c = &mut s.client();
    ok(c, &["SET", "a", "1"]);
    let _: Option<String> = q(c, &["GET", "a"]).unwrap();
    let fetch = |path: &str| {
        use std::io::{Read, Write};
        let mut t = std::net::TcpStream::connect(s.metrics.unwrap()).unwrap();
        t.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(t, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut body = String::new();
        t.read_to_string(&mut body).unwrap();
        body
    };
    let page = fetch("/metrics");
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("Content-Type: text/plain; version=0.0.4"));
    for needle in [
        "# TYPE cairn_commands_processed_total counter",
        "cairn_connected_clients 1",
        "cairn_command_calls_total{command=\"set\"} 1",
        "cairn_command_calls_total{command=\"get\"} 1",
        "cairn_keyspace_hits_total 1",
        "# TYPE cairn_store_puts_total counter",
        "# TYPE cairn_store_blocks_free gauge",
    ] {
        assert!(page.contains(needle), "metrics lack {needle:?}:\n{page}");
    }
    assert!(fetch("/other").starts_with("HTTP/1.1 404"));
}
