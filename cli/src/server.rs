//! `cairn serve`: the TCP server speaking the Redis protocol.
//!
//! One task per connection reads requests, runs them in order and writes the
//! replies. Commands that only concern the connection run on its task; reads
//! of the store run on tokio's blocking pool, several at once; writes go to
//! the single writer thread (see [`crate::writer`]). A connection's pipeline
//! is executed in runs: consecutive reads form one blocking call, consecutive
//! writes one writer job.
//!
//! Memory per connection is bounded: a request can be no larger than the
//! [`Limits`]; replies are written out whenever more than
//! [`ServerConfig::output_soft_limit`] bytes are waiting, and nothing more is
//! read from a client until its replies are written. A client that does not
//! read its replies for [`ServerConfig::output_timeout`] is disconnected.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::command::{docs_reply, info_reply, lookup, Kind, COMMANDS};
use crate::exec::{exec_read, parse_i64, Cursors, NOT_INTEGER, SYNTAX};
use crate::glob::Glob;
use crate::resp::{Limits, Protocol, Reply, Request, RequestReader};
use crate::stats::{add, ClientEntry, ClientRegistry, ServerStats};
use crate::store::Store;
use crate::writer::{self, WriterHandle};

/// How the server listens and what it allows.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Password clients must give with AUTH or HELLO; none: no AUTH.
    pub requirepass: Option<String>,
    /// Most clients connected at once; more are refused with an error.
    pub max_clients: usize,
    /// Request size limits.
    pub limits: Limits,
    /// Close connections idle this long; `None`: never.
    pub idle_timeout: Option<Duration>,
    /// Close a connection whose replies cannot be written for this long
    /// (a client that stopped reading).
    pub output_timeout: Duration,
    /// Write replies out once this many bytes are waiting.
    pub output_soft_limit: usize,
    /// Address of the Prometheus metrics page; `None`: no page.
    pub metrics_addr: Option<SocketAddr>,
    /// At shutdown, how long to wait for connections to finish their
    /// current commands.
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 6379)),
            requirepass: None,
            max_clients: 10_000,
            limits: Limits::default(),
            idle_timeout: None,
            output_timeout: Duration::from_secs(30),
            output_soft_limit: 64 * 1024,
            metrics_addr: None,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// What every connection shares.
#[derive(Debug)]
pub struct Shared {
    /// The store served.
    pub store: Arc<dyn Store>,
    /// The configuration.
    pub config: ServerConfig,
    /// Counters.
    pub stats: Arc<ServerStats>,
    /// SCAN cursors.
    pub cursors: Cursors,
    /// Open connections.
    pub clients: ClientRegistry,
    /// When the server started.
    pub started: Instant,
    /// The address the server listens on.
    pub local_addr: SocketAddr,
    /// Held for writing by each commit of the writer; multi-key reads hold
    /// it for reading to see a consistent state.
    pub commit_lock: Arc<RwLock<()>>,
}

/// A bound server, ready to run.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    metrics: Option<TcpListener>,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds the listening socket (and the metrics socket, if configured).
    pub async fn bind(config: ServerConfig, store: Arc<dyn Store>) -> io::Result<Server> {
        let listener = TcpListener::bind(config.addr).await?;
        let metrics = match config.metrics_addr {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        let local_addr = listener.local_addr()?;
        Ok(Server {
            listener,
            metrics,
            shared: Arc::new(Shared {
                store,
                config,
                stats: Arc::new(ServerStats::default()),
                cursors: Cursors::default(),
                clients: ClientRegistry::default(),
                started: Instant::now(),
                local_addr,
                commit_lock: Arc::new(RwLock::new(())),
            }),
        })
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// The address of the metrics page, if there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves clients until `shutdown` completes; then stops accepting,
    /// lets connected clients finish the commands they sent, commits every
    /// write and makes the store durable.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let Server {
            listener,
            metrics,
            shared,
        } = self;
        let (writer, writer_thread) = writer::start(
            shared.store.clone(),
            shared.stats.clone(),
            shared.commit_lock.clone(),
        )?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let metrics_task = metrics
            .map(|l| tokio::spawn(crate::metrics::serve(l, shared.clone(), stop_rx.clone())));
        let mut conns = JoinSet::new();
        let mut next_id: u64 = 1;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, addr)) => {
                        add(&shared.stats.connections_received, 1);
                        let connected = shared.stats.connected_clients.load(Ordering::Relaxed);
                        if connected as usize >= shared.config.max_clients {
                            add(&shared.stats.connections_rejected, 1);
                            tokio::spawn(refuse(stream));
                            continue;
                        }
                        add(&shared.stats.connected_clients, 1);
                        let id = next_id;
                        next_id += 1;
                        conns.spawn(connection(
                            shared.clone(),
                            writer.clone(),
                            stream,
                            addr,
                            id,
                            stop_rx.clone(),
                        ));
                    }
                    Err(e) => {
                        // Out of file descriptors, most likely: back off.
                        eprintln!("cairn: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        drop(listener);
        let _ = stop_tx.send(true);
        let grace = tokio::time::sleep(shared.config.shutdown_grace);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                done = conns.join_next() => if done.is_none() { break },
                _ = &mut grace => {
                    eprintln!("cairn: {} connections still busy at shutdown; closing them", conns.len());
                    conns.abort_all();
                    while conns.join_next().await.is_some() {}
                    break;
                }
            }
        }
        if let Some(task) = metrics_task {
            task.abort();
        }
        drop(writer);
        let store = shared.store.clone();
        tokio::task::spawn_blocking(move || {
            if writer_thread.join().is_err() {
                eprintln!("cairn: the writer thread panicked");
            }
            store.flush()
        })
        .await
        .map_err(io::Error::other)?
        .map_err(io::Error::other)
    }
}

async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        stream.write_all(b"-ERR max number of clients reached\r\n"),
    )
    .await;
}

/// Removes a connection from the counters and the registry when its task ends,
/// however it ends.
struct ConnGuard {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.shared
            .stats
            .connected_clients
            .fetch_sub(1, Ordering::Relaxed);
        self.shared.clients.remove(self.id);
    }
}

async fn connection(
    shared: Arc<Shared>,
    writer: WriterHandle,
    stream: TcpStream,
    addr: SocketAddr,
    id: u64,
    mut stop: watch::Receiver<bool>,
) {
    let _guard = ConnGuard {
        shared: shared.clone(),
        id,
    };
    let _ = stream.set_nodelay(true);
    let laddr = stream.local_addr().unwrap_or(shared.local_addr);
    shared.clients.insert(
        id,
        ClientEntry {
            addr,
            laddr,
            name: None,
            lib: (None, None),
            resp: 2,
            since: Instant::now(),
        },
    );
    let (mut rd, wr) = stream.into_split();
    let mut conn = Conn {
        authed: shared.config.requirepass.is_none(),
        shared,
        writer,
        wr,
        id,
        name: None,
        proto: Protocol::Resp2,
        out: Vec::new(),
    };
    let mut reader = RequestReader::new(conn.shared.config.limits);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let mut requests = Vec::new();
        let mut bad = None;
        loop {
            match reader.next_request() {
                Ok(Some(req)) => requests.push(req),
                Ok(None) => break,
                Err(e) => {
                    bad = Some(e);
                    break;
                }
            }
        }
        let mut close = match conn.run(requests).await {
            Ok(close) => close,
            Err(_) => return,
        };
        if let Some(e) = bad {
            add(&conn.shared.stats.protocol_errors, 1);
            conn.reply(Reply::error(format!("ERR {e}")));
            close = true;
        }
        if conn.write_out().await.is_err() {
            return;
        }
        if close || *stop.borrow() {
            break;
        }
        let read = rd.read(&mut chunk);
        let read = async {
            match conn.shared.config.idle_timeout {
                Some(t) => tokio::time::timeout(t, read).await.unwrap_or(Ok(0)),
                None => read.await,
            }
        };
        let n = tokio::select! {
            r = read => r,
            _ = stop.changed() => break,
        };
        match n {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                add(&conn.shared.stats.net_input_bytes, n as u64);
                reader.feed(&chunk[..n]);
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), conn.wr.shutdown()).await;
}

/// Most commands run in one blocking call or sent as one writer job.
const MAX_RUN: usize = 256;

/// Runs read commands in order until their replies pass the output soft
/// limit; returns the replies and the requests not run yet.
fn read_run(shared: &Shared, batch: Vec<(usize, Request)>) -> (Vec<Reply>, Vec<Request>) {
    let mut replies = Vec::with_capacity(batch.len());
    let mut bytes = 0;
    let mut rest = batch.into_iter();
    for (spec, req) in rest.by_ref() {
        add(&shared.stats.commands_processed, 1);
        add(&shared.stats.calls[spec], 1);
        let reply = exec_read(shared, spec, &req);
        bytes += reply.approx_len();
        replies.push(reply);
        if bytes >= shared.config.output_soft_limit {
            break;
        }
    }
    (replies, rest.map(|(_, req)| req).collect())
}

/// Checks that are made before a command runs: does it exist, is its arity
/// right, may this connection run it.
enum Ready {
    Run(usize),
    Refuse(Reply),
}

struct Conn {
    shared: Arc<Shared>,
    writer: WriterHandle,
    wr: OwnedWriteHalf,
    id: u64,
    name: Option<String>,
    proto: Protocol,
    authed: bool,
    out: Vec<u8>,
}

impl Conn {
    fn reply(&mut self, r: Reply) {
        if r.is_error() {
            add(&self.shared.stats.error_replies, 1);
        }
        r.encode(self.proto, &mut self.out);
    }

    async fn write_out(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let timeout = self.shared.config.output_timeout;
        match tokio::time::timeout(timeout, self.wr.write_all(&self.out)).await {
            Ok(Ok(())) => {
                add(&self.shared.stats.net_output_bytes, self.out.len() as u64);
                self.out.clear();
                if self.out.capacity() > 4 * self.shared.config.output_soft_limit {
                    self.out.shrink_to(self.shared.config.output_soft_limit);
                }
                Ok(())
            }
            Ok(Err(e)) => Err(e),
            Err(_) => {
                add(&self.shared.stats.output_timeouts, 1);
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "client does not read its replies",
                ))
            }
        }
    }

    fn check(&self, req: &Request) -> Ready {
        let Some(spec) = lookup(&req[0]) else {
            return Ready::Refuse(unknown_command(req));
        };
        let cmd = &COMMANDS[spec];
        if !cmd.arity_ok(req.len()) {
            return Ready::Refuse(wrong_arity(cmd.name));
        }
        if !self.authed && !matches!(cmd.name, "auth" | "hello" | "quit") {
            return Ready::Refuse(Reply::err("NOAUTH Authentication required."));
        }
        Ready::Run(spec)
    }

    fn kind_of(&self, req: &Request) -> Option<Kind> {
        match self.check(req) {
            Ready::Run(spec) => Some(COMMANDS[spec].kind),
            Ready::Refuse(_) => None,
        }
    }

    /// Runs `requests` in order; returns whether the connection is to close.
    async fn run(&mut self, requests: Vec<Request>) -> io::Result<bool> {
        let stats = self.shared.stats.clone();
        let mut queue: VecDeque<Request> = requests.into();
        while let Some(req) = queue.pop_front() {
            let spec = match self.check(&req) {
                Ready::Refuse(r) => {
                    add(&stats.commands_processed, 1);
                    self.reply(r);
                    continue;
                }
                Ready::Run(spec) => spec,
            };
            let kind = COMMANDS[spec].kind;
            if kind == Kind::Connection {
                add(&stats.commands_processed, 1);
                add(&stats.calls[spec], 1);
                let (reply, close) = self.exec_connection(spec, &req);
                self.reply(reply);
                if close {
                    return Ok(true);
                }
            } else {
                let mut batch = vec![(spec, req)];
                while batch.len() < MAX_RUN {
                    match queue.front() {
                        Some(next) if self.kind_of(next) == Some(kind) => {}
                        _ => break,
                    }
                    let next = queue.pop_front().expect("front exists");
                    let Ready::Run(s) = self.check(&next) else {
                        unreachable!("kind_of checked it")
                    };
                    batch.push((s, next));
                }
                let n = batch.len();
                let (replies, leftover) = if kind == Kind::Read {
                    let shared = self.shared.clone();
                    tokio::task::spawn_blocking(move || read_run(&shared, batch))
                        .await
                        .unwrap_or_else(|_| {
                            (
                                vec![Reply::err("ERR internal error while reading"); n],
                                Vec::new(),
                            )
                        })
                } else {
                    for (s, _) in &batch {
                        add(&stats.commands_processed, 1);
                        add(&stats.calls[*s], 1);
                    }
                    (self.writer.submit(batch).await, Vec::new())
                };
                for r in replies {
                    self.reply(r);
                }
                for r in leftover.into_iter().rev() {
                    queue.push_front(r);
                }
            }
            if self.out.len() >= self.shared.config.output_soft_limit {
                self.write_out().await?;
            }
        }
        Ok(false)
    }

    fn password_ok(&self, user: &[u8], pass: &[u8]) -> bool {
        let Some(want) = &self.shared.config.requirepass else {
            return false;
        };
        let want = want.as_bytes();
        // Compare every byte, so timing does not tell how much matched.
        let mut diff = (want.len() != pass.len()) as u8;
        for (i, w) in want.iter().enumerate() {
            diff |= w ^ pass.get(i).copied().unwrap_or(0);
        }
        diff == 0 && user == b"default"
    }

    fn set_name(&mut self, name: &[u8]) -> Result<(), Reply> {
        if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
            return Err(Reply::err(
                "ERR Client names cannot contain spaces, newlines or special characters.",
            ));
        }
        let name = (!name.is_empty()).then(|| String::from_utf8_lossy(name).into_owned());
        self.name.clone_from(&name);
        self.shared.clients.update(self.id, |e| e.name = name);
        Ok(())
    }

    /// Runs a command that does not touch the store; returns the reply and
    /// whether to close the connection after it.
    fn exec_connection(&mut self, spec: usize, args: &[Vec<u8>]) -> (Reply, bool) {
        let r = match COMMANDS[spec].name {
            "ping" => match args.len() {
                1 => Reply::Simple("PONG".into()),
                2 => Reply::Bulk(args[1].clone()),
                _ => wrong_arity("ping"),
            },
            "echo" => Reply::Bulk(args[1].clone()),
            "quit" => return (Reply::OK, true),
            "select" => match parse_i64(&args[1]) {
                Some(0) => Reply::OK,
                Some(_) => Reply::err("ERR DB index is out of range"),
                None => Reply::err(NOT_INTEGER),
            },
            "time" => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                Reply::Array(vec![
                    Reply::text(now.as_secs().to_string()),
                    Reply::text(now.subsec_micros().to_string()),
                ])
            }
            "auth" => self.auth(args),
            "hello" => self.hello(args),
            "client" => self.client(args),
            "config" => self.config(args),
            "command" => command(args),
            other => Reply::error(format!("ERR '{other}' is not a connection command")),
        };
        (r, false)
    }

    fn auth(&mut self, args: &[Vec<u8>]) -> Reply {
        let (user, pass) = match args.len() {
            2 => (&b"default"[..], &args[1]),
            3 => (&args[1][..], &args[2]),
            _ => return Reply::err(SYNTAX),
        };
        if self.shared.config.requirepass.is_none() {
            return Reply::err(
                "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            );
        }
        if self.password_ok(user, pass) {
            self.authed = true;
            Reply::OK
        } else {
            Reply::err("WRONGPASS invalid username-password pair or user is disabled.")
        }
    }

    fn hello(&mut self, args: &[Vec<u8>]) -> Reply {
        let mut proto = self.proto;
        if let Some(v) = args.get(1) {
            proto = match parse_i64(v) {
                Some(2) => Protocol::Resp2,
                Some(3) => Protocol::Resp3,
                Some(_) => return Reply::err("NOPROTO unsupported protocol version"),
                None => {
                    return Reply::err("ERR Protocol version is not an integer or out of range")
                }
            };
        }
        let mut auth = None;
        let mut name = None;
        let mut i = 2;
        while i < args.len() {
            let opt = args[i].to_ascii_lowercase();
            match opt.as_slice() {
                b"auth" if i + 2 < args.len() => {
                    auth = Some((&args[i + 1], &args[i + 2]));
                    i += 3;
                }
                b"setname" if i + 1 < args.len() => {
                    name = Some(&args[i + 1]);
                    i += 2;
                }
                _ => {
                    return Reply::error(format!(
                        "ERR Syntax error in HELLO option '{}'",
                        String::from_utf8_lossy(&args[i])
                    ))
                }
            }
        }
        if let Some((user, pass)) = auth {
            if self.shared.config.requirepass.is_none() {
                return Reply::err(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
                );
            }
            if !self.password_ok(user, pass) {
                return Reply::err("WRONGPASS invalid username-password pair or user is disabled.");
            }
            self.authed = true;
        }
        if !self.authed {
            return Reply::err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        }
        if let Some(name) = name {
            if let Err(e) = self.set_name(name) {
                return e;
            }
        }
        self.proto = proto;
        self.shared
            .clients
            .update(self.id, |e| e.resp = proto.version());
        let t = Reply::text;
        Reply::Map(vec![
            (t("server"), t("cairn")),
            (t("version"), t(crate::REDIS_VERSION)),
            (t("cairn_version"), t(env!("CARGO_PKG_VERSION"))),
            (t("proto"), Reply::Int(proto.version())),
            (t("id"), Reply::Int(self.id as i64)),
            (t("mode"), t("standalone")),
            (t("role"), t("master")),
            (t("modules"), Reply::Array(Vec::new())),
        ])
    }

    fn client(&mut self, args: &[Vec<u8>]) -> Reply {
        let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
        let want = |n: usize| {
            if args.len() == n {
                None
            } else {
                Some(wrong_arity(&format!("client|{sub}")))
            }
        };
        match sub.as_str() {
            "id" => want(2).unwrap_or(Reply::Int(self.id as i64)),
            "getname" => want(2).unwrap_or_else(|| match &self.name {
                Some(n) => Reply::text(n.clone()),
                None => Reply::Nil,
            }),
            "setname" => {
                if let Some(e) = want(3) {
                    return e;
                }
                match self.set_name(&args[2]) {
                    Ok(()) => Reply::OK,
                    Err(e) => e,
                }
            }
            "setinfo" => {
                if let Some(e) = want(4) {
                    return e;
                }
                let value = String::from_utf8_lossy(&args[3]).into_owned();
                let attr = args[2].to_ascii_lowercase();
                match attr.as_slice() {
                    b"lib-name" => self
                        .shared
                        .clients
                        .update(self.id, |e| e.lib.0 = Some(value)),
                    b"lib-ver" => self
                        .shared
                        .clients
                        .update(self.id, |e| e.lib.1 = Some(value)),
                    _ => {
                        return Reply::error(format!(
                            "ERR Unrecognized option '{}'",
                            String::from_utf8_lossy(&args[2])
                        ))
                    }
                }
                Reply::OK
            }
            "list" => Reply::Verbatim(self.shared.clients.list(None)),
            "info" => {
                want(2).unwrap_or_else(|| Reply::Verbatim(self.shared.clients.list(Some(self.id))))
            }
            "help" => help(&[
                "CLIENT <subcommand> [<arg> ...]. Subcommands are:",
                "ID -- Return the ID of the current connection.",
                "INFO -- Return information about the current connection.",
                "LIST -- Return information about all connections.",
                "GETNAME -- Return the name of the current connection.",
                "SETNAME <name> -- Assign a name to the current connection.",
                "SETINFO <LIB-NAME|LIB-VER> <value> -- Record the client library.",
            ]),
            _ => unknown_subcommand(&args[1], "CLIENT"),
        }
    }

    fn config(&mut self, args: &[Vec<u8>]) -> Reply {
        let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
        match sub.as_str() {
            "get" => {
                if args.len() < 3 {
                    return wrong_arity("config|get");
                }
                let params = config_params(&self.shared);
                let globs: Vec<Glob> = args[2..].iter().map(|p| Glob::new(p)).collect();
                Reply::Map(
                    params
                        .into_iter()
                        .filter(|(k, _)| globs.iter().any(|g| g.matches(k.as_bytes())))
                        .map(|(k, v)| (Reply::text(k), Reply::text(v)))
                        .collect(),
                )
            }
            "resetstat" => {
                self.shared.stats.reset();
                Reply::OK
            }
            "set" | "rewrite" => Reply::err(
                "ERR cairn is configured by command-line flags; CONFIG SET and REWRITE are not supported",
            ),
            "help" => help(&[
                "CONFIG <subcommand> [<arg> ...]. Subcommands are:",
                "GET <pattern> [<pattern> ...] -- Return parameters matching the glob patterns.",
                "RESETSTAT -- Reset the statistics INFO reports.",
            ]),
            _ => unknown_subcommand(&args[1], "CONFIG"),
        }
    }
}

/// The parameters `CONFIG GET` knows, sorted by name.
fn config_params(sh: &Shared) -> Vec<(&'static str, String)> {
    let c = &sh.config;
    let mut v = vec![
        ("appendfsync", "always".to_string()),
        ("appendonly", "no".to_string()),
        ("bind", sh.local_addr.ip().to_string()),
        (
            "client-query-buffer-limit",
            c.limits.max_request_bytes.to_string(),
        ),
        ("databases", "1".to_string()),
        ("dir", sh.store.describe()),
        ("maxclients", c.max_clients.to_string()),
        ("maxmemory", "0".to_string()),
        ("maxmemory-policy", "noeviction".to_string()),
        ("port", sh.local_addr.port().to_string()),
        ("proto-max-bulk-len", c.limits.max_bulk_len.to_string()),
        ("save", String::new()),
        (
            "timeout",
            c.idle_timeout.map_or(0, |t| t.as_secs()).to_string(),
        ),
    ];
    v.sort_by_key(|(k, _)| *k);
    v
}

fn command(args: &[Vec<u8>]) -> Reply {
    let Some(sub) = args.get(1) else {
        return Reply::Array(COMMANDS.iter().map(info_reply).collect());
    };
    let sub = String::from_utf8_lossy(sub).to_ascii_lowercase();
    let named = || args[2..].iter().map(|n| lookup(n).map(|i| &COMMANDS[i]));
    match sub.as_str() {
        "count" => Reply::Int(COMMANDS.len() as i64),
        "list" => Reply::Array(COMMANDS.iter().map(|c| Reply::text(c.name)).collect()),
        "info" if args.len() == 2 => Reply::Array(COMMANDS.iter().map(info_reply).collect()),
        "info" => Reply::Array(named().map(|c| c.map_or(Reply::Nil, info_reply)).collect()),
        "docs" if args.len() == 2 => Reply::Map(
            COMMANDS
                .iter()
                .map(|c| (Reply::text(c.name), docs_reply(c)))
                .collect(),
        ),
        "docs" => Reply::Map(
            named()
                .flatten()
                .map(|c| (Reply::text(c.name), docs_reply(c)))
                .collect(),
        ),
        "help" => help(&[
            "COMMAND <subcommand> [<arg> ...]. Subcommands are:",
            "(no subcommand) -- Return details about all commands.",
            "COUNT -- Return the number of commands.",
            "DOCS [<command-name> ...] -- Return documentation about commands.",
            "INFO [<command-name> ...] -- Return details about commands.",
            "LIST -- Return the names of all commands.",
        ]),
        _ => unknown_subcommand(&args[1], "COMMAND"),
    }
}

fn help(lines: &[&str]) -> Reply {
    Reply::Array(
        lines
            .iter()
            .map(|l| Reply::Simple(l.to_string().into()))
            .collect(),
    )
}

fn wrong_arity(name: &str) -> Reply {
    Reply::error(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

fn unknown_subcommand(sub: &[u8], cmd: &str) -> Reply {
    Reply::error(format!(
        "ERR unknown subcommand '{}'. Try {cmd} HELP.",
        String::from_utf8_lossy(&sub[..sub.len().min(128)])
    ))
}

/// The usual error for an unknown command, quoting the first arguments
/// (up to 128 bytes of them).
fn unknown_command(req: &Request) -> Reply {
    let name = String::from_utf8_lossy(&req[0][..req[0].len().min(128)]).into_owned();
    let mut quoted = String::new();
    for arg in &req[1..] {
        if quoted.len() >= 128 {
            break;
        }
        let take = (128 - quoted.len()).min(arg.len());
        quoted.push_str(&format!("'{}' ", String::from_utf8_lossy(&arg[..take])));
    }
    Reply::error(format!(
        "ERR unknown command '{name}', with args beginning with: {quoted}"
    ))
}
