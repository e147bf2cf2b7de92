//! Starting a server in-process for tests, and small raw-TCP helpers.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cairn_cli::disk::{store_path, DiskStore};
use cairn_cli::server::{Server, ServerConfig};
use cairn_cli::store::{MemStore, Store};

/// A server running on its own runtime in a background thread.
pub struct TestServer {
    pub addr: SocketAddr,
    pub metrics: Option<SocketAddr>,
    pub dir: Option<tempfile::TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

/// A configuration listening on a free loopback port.
pub fn config() -> ServerConfig {
    ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..ServerConfig::default()
    }
}

impl TestServer {
    /// A server over a fresh on-disk store in a temporary directory.
    pub fn disk(config: ServerConfig) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let store =
            DiskStore::open(&store_path(dir.path()), cairn_std::Options::default()).unwrap();
        let mut s = TestServer::start(config, Arc::new(store));
        s.dir = Some(dir);
        s
    }

    /// A server over an in-memory store.
    pub fn memory(config: ServerConfig) -> TestServer {
        TestServer::start(config, Arc::new(MemStore::default()))
    }

    pub fn start(config: ServerConfig, store: Arc<dyn Store>) -> TestServer {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let server = Server::bind(config, store).await?;
                addr_tx
                    .send((server.local_addr(), server.metrics_addr()))
                    .unwrap();
                server
                    .run(async {
                        let _ = stop_rx.await;
                    })
                    .await
            })
        });
        let (addr, metrics) = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server started");
        TestServer {
            addr,
            metrics,
            dir: None,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    pub fn client(&self) -> redis::Connection {
        let client = redis::Client::open(self.url()).unwrap();
        client
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap()
    }

    pub fn raw(&self) -> Raw {
        Raw::connect(self.addr)
    }

    /// Stops the server the way a signal does and waits for it.
    pub fn stop(mut self) -> io::Result<()> {
        self.stop.take().map(|s| s.send(()));
        self.thread.take().unwrap().join().expect("server thread")
    }

    /// An INFO field, as a number.
    pub fn info_field(&self, field: &str) -> i64 {
        let info: String = redis::cmd("INFO")
            .arg("all")
            .query(&mut self.client())
            .unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in INFO"))
            .trim()
            .parse()
            .unwrap()
    }

    /// Waits (up to 10 s) until `f` holds.
    pub fn wait_for(&self, what: &str, mut f: impl FnMut(&TestServer) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A raw TCP connection for byte-exact protocol tests.
pub struct Raw {
    pub stream: TcpStream,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Raw { stream }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Reads exactly `n` bytes.
    pub fn read_n(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.stream.read_exact(&mut buf).unwrap();
        buf
    }

    /// Reads exactly the bytes of `expected` and compares.
    pub fn expect(&mut self, expected: &[u8]) {
        let got = self.read_n(expected.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected)
        );
    }

    /// Reads one CRLF-terminated line.
    pub fn line(&mut self) -> String {
        let mut out = Vec::new();
        let mut b = [0u8; 1];
        while !out.ends_with(b"\r\n") {
            self.stream.read_exact(&mut b).unwrap();
            out.push(b[0]);
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Reads one whole reply and renders it as text: `+s`, `-e`, `:n`, a
    /// bulk string as itself, `nil`, `[a, b]` for arrays, `{k: v}` for maps.
    pub fn value(&mut self) -> String {
        let line = self.line();
        let (tag, rest) = line.split_at(1);
        let rest = rest.trim_end();
        match tag {
            "+" | "-" | ":" => format!("{tag}{rest}"),
            "_" => "nil".into(),
            "$" | "=" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return "nil".into();
                }
                let data = self.read_n(n as usize + 2);
                String::from_utf8_lossy(&data[..n as usize]).into_owned()
            }
            "*" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return "nil".into();
                }
                let items: Vec<String> = (0..n).map(|_| self.value()).collect();
                format!("[{}]", items.join(", "))
            }
            "%" => {
                let n: usize = rest.parse().unwrap();
                let items: Vec<String> = (0..n)
                    .map(|_| format!("{}: {}", self.value(), self.value()))
                    .collect();
                format!("{{{}}}", items.join(", "))
            }
            other => panic!("unexpected reply type {other:?} in {line:?}"),
        }
    }

    /// Whether the server closed the connection (EOF or reset) within 10 s,
    /// skipping any bytes still to come.
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    return false
                }
                Err(_) => return true,
            }
        }
        false
    }
}

/// Encodes a command as a RESP array of bulk strings.
pub fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}
