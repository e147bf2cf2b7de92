//! Hostile and broken clients: each gets an error reply or a closed
//! connection, and the server and every other client go on.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use cairn_cli::resp::Limits;
use cairn_cli::server::ServerConfig;
use common::{config, resp, TestServer};

fn limited() -> ServerConfig {
    ServerConfig {
        limits: Limits {
            max_bulk_len: 1024,
            max_inline_len: 4096,
            max_args: 100,
            max_request_bytes: 8192,
        },
        ..config()
    }
}

/// The server still answers a fresh client.
fn still_serving(s: &TestServer) {
    let mut raw = s.raw();
    raw.send(b"PING\r\n");
    raw.expect(b"+PONG\r\n");
}

fn error_then_close(s: &TestServer, wire: &[u8], expected: &str) {
    let mut raw = s.raw();
    raw.send(wire);
    let line = raw.line();
    assert_eq!(
        line.trim_end(),
        expected,
        "for {:?}",
        String::from_utf8_lossy(wire)
    );
    assert!(raw.closed(), "connection stays open after {expected}");
    still_serving(s);
}

#[test]
fn malformed_frames() {
    let s = TestServer::memory(limited());
    let mut other = s.raw();
    other.send(&resp(&[b"SET", b"k", b"v"]));
    other.expect(b"+OK\r\n");
    error_then_close(
        &s,
        b"*1\r\n+PING\r\n",
        "-ERR Protocol error: expected '$', got '+'",
    );
    error_then_close(
        &s,
        b"*x\r\n",
        "-ERR Protocol error: invalid multibulk length",
    );
    error_then_close(
        &s,
        b"*1\r\n$-5\r\n",
        "-ERR Protocol error: invalid bulk length",
    );
    error_then_close(
        &s,
        b"*1\r\n$4\r\nPINGxx",
        "-ERR Protocol error: expected CRLF after bulk data",
    );
    error_then_close(
        &s,
        b"SET \"unterminated\r\n",
        "-ERR Protocol error: unbalanced quotes in request",
    );
    error_then_close(
        &s,
        &[b'*'; 100],
        "-ERR Protocol error: too big mbulk count string",
    );
    // Commands before the bad frame still run and are answered first.
    let mut raw = s.raw();
    let mut wire = resp(&[b"GET", b"k"]);
    wire.extend_from_slice(b"*2\r\n$3\r\nGET\r\n:1\r\n");
    raw.send(&wire);
    raw.expect(b"$1\r\nv\r\n-ERR Protocol error: expected '$', got ':'\r\n");
    assert!(raw.closed());
    // The client connected all along is unaffected.
    other.send(&resp(&[b"GET", b"k"]));
    other.expect(b"$1\r\nv\r\n");
    assert_eq!(s.info_field("protocol_errors"), 7);
}

#[test]
fn empty_requests_are_ignored() {
    let s = TestServer::memory(limited());
    let mut raw = s.raw();
    raw.send(b"*0\r\n*-1\r\n\r\n   \r\nPING\r\n");
    raw.expect(b"+PONG\r\n");
}

#[test]
fn size_limits() {
    let s = TestServer::memory(limited());
    // A bulk length beyond the limit is refused from its header alone.
    error_then_close(
        &s,
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1025\r\n",
        "-ERR Protocol error: bulk length 1025 exceeds the limit of 1024 bytes",
    );
    error_then_close(
        &s,
        b"*2\r\n$3\r\nGET\r\n$9999999999999\r\n",
        "-ERR Protocol error: bulk length 9999999999999 exceeds the limit of 1024 bytes",
    );
    error_then_close(
        &s,
        b"*101\r\n",
        "-ERR Protocol error: multibulk length 101 exceeds the limit of 100 arguments",
    );
    let mut many = b"*10\r\n".to_vec();
    for _ in 0..10 {
        many.extend_from_slice(b"$1000\r\n");
        many.extend_from_slice(&[b'x'; 1000]);
        many.extend_from_slice(b"\r\n");
    }
    error_then_close(
        &s,
        &many,
        "-ERR Protocol error: request exceeds the limit of 8192 bytes",
    );
    // An inline line longer than the limit, with or without its newline.
    error_then_close(
        &s,
        &[b'a'; 5000],
        "-ERR Protocol error: too big inline request",
    );
    let mut line = vec![b'a'; 5000];
    line.extend_from_slice(b"\r\n");
    error_then_close(&s, &line, "-ERR Protocol error: too big inline request");
    // At the limits, everything works.
    let mut raw = s.raw();
    let value = vec![b'v'; 1024];
    raw.send(&resp(&[b"SET", b"k", &value]));
    raw.expect(b"+OK\r\n");
    raw.send(&resp(&[b"STRLEN", b"k"]));
    raw.expect(b":1024\r\n");
}

#[test]
fn half_commands_then_disconnect() {
    let s = TestServer::disk(limited());
    for i in 0..50 {
        let mut raw = s.raw();
        let wire = resp(&[b"SET", b"half", b"value"]);
        raw.send(&wire[..(i % (wire.len() - 1)) + 1]);
        drop(raw);
    }
    s.wait_for("half-open clients to go", |s| {
        s.info_field("connected_clients") == 1
    });
    let mut raw = s.raw();
    raw.send(&resp(&[b"GET", b"half"]));
    raw.expect(b"$-1\r\n");
}

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[test]
fn client_that_never_reads_is_disconnected() {
    let s = TestServer::memory(ServerConfig {
        output_timeout: Duration::from_secs(1),
        ..config()
    });
    let mut setup = s.raw();
    let value = vec![b'v'; 60 * 1024];
    setup.send(&resp(&[b"SET", b"big", &value]));
    setup.expect(b"+OK\r\n");
    let before = resident_bytes();

    // Ask for up to 2,000,000 x 60 KiB of replies (120 GB) and read none.
    let mut greedy = TcpStream::connect(s.addr).unwrap();
    greedy
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let request = resp(&[b"GET", b"big"]);
    let pipeline: Vec<u8> = request.repeat(1000);
    let started = Instant::now();
    let mut blocked = false;
    for _ in 0..2000 {
        if greedy.write_all(&pipeline).is_err() {
            blocked = true;
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
    assert!(
        blocked,
        "the server kept reading from a client that reads nothing"
    );

    // Everyone else is served meanwhile.
    still_serving(&s);
    let mut other = s.raw();
    other.send(&resp(&[b"STRLEN", b"big"]));
    other.expect(b":61440\r\n");

    s.wait_for("the greedy client to be cut off", |s| {
        s.info_field("output_timeouts") == 1
    });
    s.wait_for("the greedy client to be gone", |s| {
        s.info_field("connected_clients") <= 3
    });
    if let (Some(before), Some(after)) = (before, resident_bytes()) {
        let grown = after.saturating_sub(before);
        assert!(grown < 256 << 20, "memory grew by {grown} bytes");
    }
    drop(greedy);
}

#[test]
fn a_thousand_connections() {
    let s = TestServer::disk(config());
    let mut conns: Vec<common::Raw> = (0..1000).map(|_| s.raw()).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        let key = format!("conn:{i}");
        let mut wire = resp(&[b"SET", key.as_bytes(), key.as_bytes()]);
        wire.extend(resp(&[b"GET", key.as_bytes()]));
        wire.extend_from_slice(b"PING\r\n");
        c.send(&wire);
    }
    for (i, c) in conns.iter_mut().enumerate() {
        let key = format!("conn:{i}");
        c.expect(format!("+OK\r\n${}\r\n{key}\r\n+PONG\r\n", key.len()).as_bytes());
    }
    assert!(s.info_field("connected_clients") >= 1000);
    let mut c = s.client();
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 1000);
    drop(c);
    drop(conns);
    s.wait_for("connections to close", |s| {
        s.info_field("connected_clients") == 1
    });
}

#[test]
fn max_clients_refuses_extra_connections() {
    let s = TestServer::memory(ServerConfig {
        max_clients: 3,
        ..config()
    });
    let mut kept: Vec<common::Raw> = (0..3).map(|_| s.raw()).collect();
    for k in &mut kept {
        k.send(b"PING\r\n");
        k.expect(b"+PONG\r\n");
    }
    let mut extra = s.raw();
    extra.expect(b"-ERR max number of clients reached\r\n");
    assert!(extra.closed());
    kept.pop();
    // A slot frees up once a client leaves.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut again = s.raw();
        again.send(b"PING\r\n");
        let line = again.line();
        if line == "+PONG\r\n" {
            break;
        }
        assert!(Instant::now() < deadline, "no slot freed: {line}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut c = kept.pop().unwrap();
    c.send(&resp(&[b"INFO", b"stats"]));
    let info = c.value();
    assert!(info.contains("rejected_connections:"), "{info}");
    assert!(!info.contains("rejected_connections:0"), "{info}");
}

#[test]
fn idle_clients_time_out() {
    let s = TestServer::memory(ServerConfig {
        idle_timeout: Some(Duration::from_millis(300)),
        ..config()
    });
    let mut raw = s.raw();
    raw.send(b"PING\r\n");
    raw.expect(b"+PONG\r\n");
    let started = Instant::now();
    assert!(raw.closed());
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[test]
fn garbage_does_not_hurt_the_server() {
    let s = TestServer::memory(limited());
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..200 {
        let mut raw = s.raw();
        let mut junk = Vec::with_capacity(512);
        for _ in 0..512 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            junk.push(seed as u8);
        }
        let _ = raw.stream.write_all(&junk);
        drop(raw);
    }
    still_serving(&s);
    s.wait_for("junk connections to close", |s| {
        s.info_field("connected_clients") <= 1
    });
}
