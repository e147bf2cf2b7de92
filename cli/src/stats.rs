//! The server's counters, its client list, and the two ways they are shown:
//! the `INFO` command and the Prometheus text page.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::command::COMMANDS;
use crate::server::Shared;
use crate::store::{Stat, StatKind};

/// Counters kept by the server. All are totals since start (or since
/// `CONFIG RESETSTAT`) except `connected_clients`.
#[derive(Debug)]
pub struct ServerStats {
    /// Connections open now.
    pub connected_clients: AtomicU64,
    /// Connections accepted.
    pub connections_received: AtomicU64,
    /// Connections refused because `maxclients` was reached.
    pub connections_rejected: AtomicU64,
    /// Commands executed, including ones that replied with an error.
    pub commands_processed: AtomicU64,
    /// Error replies sent.
    pub error_replies: AtomicU64,
    /// Connections closed for sending something that is not RESP.
    pub protocol_errors: AtomicU64,
    /// Connections closed because they did not read their replies in time.
    pub output_timeouts: AtomicU64,
    /// Bytes received from clients.
    pub net_input_bytes: AtomicU64,
    /// Bytes sent to clients.
    pub net_output_bytes: AtomicU64,
    /// Key lookups that found a value.
    pub keyspace_hits: AtomicU64,
    /// Key lookups that found nothing.
    pub keyspace_misses: AtomicU64,
    /// Atomic writes the writer thread committed to the store.
    pub writer_commits: AtomicU64,
    /// Write commands the writer thread executed.
    pub writer_commands: AtomicU64,
    /// Calls of each command, indexed like [`COMMANDS`].
    pub calls: Vec<AtomicU64>,
}

impl Default for ServerStats {
    fn default() -> Self {
        let z = || AtomicU64::new(0);
        ServerStats {
            connected_clients: z(),
            connections_received: z(),
            connections_rejected: z(),
            commands_processed: z(),
            error_replies: z(),
            protocol_errors: z(),
            output_timeouts: z(),
            net_input_bytes: z(),
            net_output_bytes: z(),
            keyspace_hits: z(),
            keyspace_misses: z(),
            writer_commits: z(),
            writer_commands: z(),
            calls: COMMANDS.iter().map(|_| z()).collect(),
        }
    }
}

/// Adds `n` to a counter.
pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl ServerStats {
    /// Sets every total back to zero (`CONFIG RESETSTAT`).
    pub fn reset(&self) {
        for c in [
            &self.connections_received,
            &self.connections_rejected,
            &self.commands_processed,
            &self.error_replies,
            &self.protocol_errors,
            &self.output_timeouts,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.keyspace_hits,
            &self.keyspace_misses,
            &self.writer_commits,
            &self.writer_commands,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        for c in &self.calls {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// What the server knows about one connection.
#[derive(Clone, Debug)]
pub struct ClientEntry {
    /// The peer's address.
    pub addr: SocketAddr,
    /// The server's address of the connection.
    pub laddr: SocketAddr,
    /// Name set with `CLIENT SETNAME` or `HELLO ... SETNAME`.
    pub name: Option<String>,
    /// Library name and version set with `CLIENT SETINFO`.
    pub lib: (Option<String>, Option<String>),
    /// Protocol version.
    pub resp: i64,
    /// When it connected.
    pub since: Instant,
}

/// The list of open connections, by id.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    map: Mutex<BTreeMap<u64, ClientEntry>>,
}

impl ClientRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, ClientEntry>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a new connection.
    pub fn insert(&self, id: u64, entry: ClientEntry) {
        self.lock().insert(id, entry);
    }

    /// Forgets a closed connection.
    pub fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Changes a connection's entry.
    pub fn update(&self, id: u64, f: impl FnOnce(&mut ClientEntry)) {
        if let Some(e) = self.lock().get_mut(&id) {
            f(e);
        }
    }

    /// One `CLIENT LIST` line per connection, or only for `only`.
    pub fn list(&self, only: Option<u64>) -> String {
        let now = Instant::now();
        let mut out = String::new();
        for (id, e) in self.lock().iter() {
            if only.is_some_and(|o| o != *id) {
                continue;
            }
            let _ = writeln!(
                out,
                "id={id} addr={} laddr={} name={} age={} db=0 resp={} lib-name={} lib-ver={}",
                e.addr,
                e.laddr,
                e.name.as_deref().unwrap_or(""),
                now.duration_since(e.since).as_secs(),
                e.resp,
                e.lib.0.as_deref().unwrap_or(""),
                e.lib.1.as_deref().unwrap_or(""),
            );
        }
        out
    }
}

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "persistence",
    "stats",
    "keyspace",
    "storage",
];
const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "persistence",
    "stats",
    "commandstats",
    "keyspace",
    "storage",
];

/// The text of `INFO` for the requested sections (none: the default set).
pub fn info(sh: &Shared, requested: &[Vec<u8>]) -> String {
    let mut want: Vec<&str> = Vec::new();
    if requested.is_empty() {
        want.extend(DEFAULT_SECTIONS);
    }
    for r in requested {
        let r = String::from_utf8_lossy(r).to_ascii_lowercase();
        match r.as_str() {
            "default" => want.extend(DEFAULT_SECTIONS),
            "all" | "everything" => want.extend(ALL_SECTIONS),
            other => {
                if let Some(s) = ALL_SECTIONS.iter().find(|s| **s == other) {
                    want.push(s);
                }
            }
        }
    }
    let mut out = String::new();
    for section in ALL_SECTIONS {
        if !want.contains(section) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        section_text(sh, section, &mut out);
    }
    out
}

fn kv(out: &mut String, key: &str, value: impl std::fmt::Display) {
    let _ = write!(out, "{key}:{value}\r\n");
}

fn section_text(sh: &Shared, section: &str, out: &mut String) {
    let st = &sh.stats;
    let uptime = sh.started.elapsed();
    match section {
        "server" => {
            out.push_str("# Server\r\n");
            kv(out, "redis_version", crate::REDIS_VERSION);
            kv(out, "cairn_version", env!("CARGO_PKG_VERSION"));
            kv(out, "redis_mode", "standalone");
            kv(out, "os", std::env::consts::OS);
            kv(out, "arch_bits", usize::BITS);
            kv(out, "process_id", std::process::id());
            kv(out, "tcp_port", sh.local_addr.port());
            kv(out, "uptime_in_seconds", uptime.as_secs());
            kv(out, "uptime_in_days", uptime.as_secs() / 86400);
            kv(out, "executable", "cairn");
        }
        "clients" => {
            out.push_str("# Clients\r\n");
            kv(out, "connected_clients", get(&st.connected_clients));
            kv(out, "maxclients", sh.config.max_clients);
            kv(out, "blocked_clients", 0);
        }
        "persistence" => {
            out.push_str("# Persistence\r\n");
            kv(out, "loading", 0);
            kv(out, "aof_enabled", 0);
        }
        "stats" => {
            out.push_str("# Stats\r\n");
            kv(
                out,
                "total_connections_received",
                get(&st.connections_received),
            );
            kv(out, "total_commands_processed", get(&st.commands_processed));
            kv(out, "total_net_input_bytes", get(&st.net_input_bytes));
            kv(out, "total_net_output_bytes", get(&st.net_output_bytes));
            kv(out, "rejected_connections", get(&st.connections_rejected));
            kv(out, "keyspace_hits", get(&st.keyspace_hits));
            kv(out, "keyspace_misses", get(&st.keyspace_misses));
            kv(out, "total_error_replies", get(&st.error_replies));
            kv(out, "protocol_errors", get(&st.protocol_errors));
            kv(out, "output_timeouts", get(&st.output_timeouts));
            kv(out, "writer_commits", get(&st.writer_commits));
            kv(out, "writer_commands", get(&st.writer_commands));
        }
        "commandstats" => {
            out.push_str("# Commandstats\r\n");
            for (spec, calls) in COMMANDS.iter().zip(&st.calls) {
                let n = get(calls);
                if n > 0 {
                    kv(out, &format!("cmdstat_{}", spec.name), format!("calls={n}"));
                }
            }
        }
        "keyspace" => {
            out.push_str("# Keyspace\r\n");
            match sh.store.len() {
                Ok(0) => {}
                Ok(n) => kv(out, "db0", format!("keys={n},expires=0,avg_ttl=0")),
                Err(e) => kv(out, "db0_error", e),
            }
        }
        "storage" => {
            out.push_str("# Storage\r\n");
            kv(out, "store", sh.store.describe());
            for stat in sh.store.stats() {
                kv(out, &stat.name, stat.display_value());
            }
        }
        _ => {}
    }
}

fn metric(out: &mut String, name: &str, kind: StatKind, help: &str, value: f64) {
    let kind = match kind {
        StatKind::Counter => "counter",
        StatKind::Gauge => "gauge",
    };
    let _ = write!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
    );
}

/// The Prometheus text exposition of the server's and the store's numbers.
pub fn prometheus(sh: &Shared) -> String {
    let st = &sh.stats;
    let mut out = String::new();
    let c = StatKind::Counter;
    let g = StatKind::Gauge;
    let rows: [(&str, StatKind, &str, u64); 14] = [
        (
            "cairn_connected_clients",
            g,
            "Client connections open now.",
            get(&st.connected_clients),
        ),
        (
            "cairn_connections_received_total",
            c,
            "Client connections accepted.",
            get(&st.connections_received),
        ),
        (
            "cairn_connections_rejected_total",
            c,
            "Client connections refused at maxclients.",
            get(&st.connections_rejected),
        ),
        (
            "cairn_commands_processed_total",
            c,
            "Commands executed.",
            get(&st.commands_processed),
        ),
        (
            "cairn_error_replies_total",
            c,
            "Error replies sent.",
            get(&st.error_replies),
        ),
        (
            "cairn_protocol_errors_total",
            c,
            "Connections closed for malformed input.",
            get(&st.protocol_errors),
        ),
        (
            "cairn_output_timeouts_total",
            c,
            "Connections closed for not reading replies.",
            get(&st.output_timeouts),
        ),
        (
            "cairn_net_input_bytes_total",
            c,
            "Bytes received from clients.",
            get(&st.net_input_bytes),
        ),
        (
            "cairn_net_output_bytes_total",
            c,
            "Bytes sent to clients.",
            get(&st.net_output_bytes),
        ),
        (
            "cairn_keyspace_hits_total",
            c,
            "Key lookups that found a value.",
            get(&st.keyspace_hits),
        ),
        (
            "cairn_keyspace_misses_total",
            c,
            "Key lookups that found nothing.",
            get(&st.keyspace_misses),
        ),
        (
            "cairn_writer_commits_total",
            c,
            "Atomic writes committed by the writer thread.",
            get(&st.writer_commits),
        ),
        (
            "cairn_writer_commands_total",
            c,
            "Write commands executed by the writer thread.",
            get(&st.writer_commands),
        ),
        (
            "cairn_uptime_seconds",
            g,
            "Seconds since the server started.",
            sh.started.elapsed().as_secs(),
        ),
    ];
    for (name, kind, help, value) in rows {
        metric(&mut out, name, kind, help, value as f64);
    }
    out.push_str("# HELP cairn_command_calls_total Calls of each command.\n");
    out.push_str("# TYPE cairn_command_calls_total counter\n");
    for (spec, calls) in COMMANDS.iter().zip(&st.calls) {
        let _ = writeln!(
            out,
            "cairn_command_calls_total{{command=\"{}\"}} {}",
            spec.name,
            get(calls)
        );
    }
    for Stat {
        name,
        value,
        kind,
        help,
    } in sh.store.stats()
    {
        let full = match kind {
            StatKind::Counter => format!("cairn_store_{name}_total"),
            StatKind::Gauge => format!("cairn_store_{name}"),
        };
        metric(&mut out, &full, kind, help, value);
    }
    out
}
