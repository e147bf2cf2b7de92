//! `cairn`: serve a cairn store over the Redis protocol, or work on one that
//! is not being served.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use cairn_cli::disk::{store_path, DiskStore};
use cairn_cli::resp::Limits;
use cairn_cli::server::{Server, ServerConfig};
use cairn_cli::store::{MemStore, Store};
use cairn_cli::tools::{self, InspectOptions, ToolError};

#[derive(Parser, Debug)]
#[command(
    name = "cairn",
    version,
    about = "The cairn key-value store: a Redis-compatible server and tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct StoreArgs {
    /// Data directory holding the store file (store.cairn).
    #[arg(long, default_value = "./cairn-data")]
    dir: PathBuf,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the store over the Redis protocol (RESP2 and RESP3).
    Serve(ServeArgs),
    /// Print the value of a key (exit 1 if it has none).
    Get {
        #[command(flatten)]
        store: StoreArgs,
        /// The key (escapes such as \x00 and \t are understood).
        key: String,
        /// Write the value's bytes as they are, with no escaping or newline.
        #[arg(long)]
        raw: bool,
    },
    /// Set a key's value.
    Put {
        #[command(flatten)]
        store: StoreArgs,
        /// The key (escapes such as \x00 and \t are understood).
        key: String,
        /// The value (escapes understood).
        value: String,
    },
    /// Delete keys; prints how many existed.
    Del {
        #[command(flatten)]
        store: StoreArgs,
        /// The keys (escapes understood).
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Print entries in key order as key<TAB>value lines (input for `load`).
    Scan {
        #[command(flatten)]
        store: StoreArgs,
        /// Only keys starting with this prefix.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Start at this key.
        #[arg(long)]
        start: Option<String>,
        /// Print at most this many entries.
        #[arg(long)]
        limit: Option<u64>,
        /// Print keys only.
        #[arg(long)]
        keys_only: bool,
    },
    /// Print the store's statistics.
    Stats {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Verify every checksum and invariant. Exit 0: sound; 1: damaged; 2: could not check.
    Check {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Decode a store file or a raw flash image: geometry, every block, levels, check.
    Inspect(InspectArgs),
    /// Bulk-load key<TAB>value lines (escaped as `scan` prints them) from a file.
    Load {
        #[command(flatten)]
        store: StoreArgs,
        /// The input file; `-` reads standard input.
        file: PathBuf,
        /// Largest batch written at once, in bytes.
        #[arg(long, default_value_t = 64 * 1024)]
        batch_bytes: usize,
    },
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Address to listen on. Anything but loopback exposes the store to the network.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Port to listen on; 0 picks a free one (the log line says which).
    #[arg(long, default_value_t = 6379)]
    port: u16,
    /// Data directory holding the store file (store.cairn); created if missing.
    #[arg(long, default_value = "./cairn-data")]
    dir: PathBuf,
    /// Keep the data in memory only (lost at exit) instead of in --dir.
    #[arg(long)]
    in_memory: bool,
    /// Require clients to AUTH with this password.
    #[arg(long, env = "CAIRN_REQUIREPASS", hide_env_values = true)]
    requirepass: Option<String>,
    /// Most clients connected at once.
    #[arg(long, default_value_t = 10_000)]
    maxclients: usize,
    /// Largest bulk string (one argument) accepted, in bytes.
    #[arg(long, default_value_t = Limits::default().max_bulk_len)]
    max_bulk_len: usize,
    /// Longest inline command line accepted, in bytes.
    #[arg(long, default_value_t = Limits::default().max_inline_len)]
    max_inline_len: usize,
    /// Most arguments in one command.
    #[arg(long, default_value_t = Limits::default().max_args)]
    max_args: usize,
    /// Largest total size of one command, in bytes.
    #[arg(long, default_value_t = Limits::default().max_request_bytes)]
    max_request_bytes: usize,
    /// Close connections idle this many seconds (0: never).
    #[arg(long, default_value_t = 0)]
    timeout: u64,
    /// Close a client that does not read its replies for this many seconds.
    #[arg(long, default_value_t = 30)]
    output_timeout: u64,
    /// Serve Prometheus metrics over HTTP at this address (e.g. 127.0.0.1:9121).
    #[arg(long)]
    metrics_addr: Option<SocketAddr>,
    /// Do not sync every write to disk (faster; a crash may lose recent writes).
    #[arg(long)]
    no_sync: bool,
}

#[derive(Args, Debug)]
struct InspectArgs {
    /// Data directory holding the store file (ignored when --file is given).
    #[arg(long, default_value = "./cairn-data")]
    dir: PathBuf,
    /// A store file or a raw image dumped from a device.
    #[arg(long)]
    file: Option<PathBuf>,
    /// Block (erase unit) size in bytes; read from the block headers if omitted.
    #[arg(long)]
    block_size: Option<u32>,
    /// Number of blocks; read from the block headers if omitted.
    #[arg(long)]
    blocks: Option<u32>,
    /// The device's read unit in bytes.
    #[arg(long, default_value_t = 1)]
    read_size: u32,
    /// The device's program unit in bytes.
    #[arg(long, default_value_t = 1)]
    program_size: u32,
    /// List blank blocks too.
    #[arg(long)]
    all_blocks: bool,
}

fn arg_bytes(s: &str) -> Result<Vec<u8>, ToolError> {
    tools::unescape(s.as_bytes()).map_err(|e| ToolError {
        message: format!("{s:?}: {e}"),
        code: 2,
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Get { store, key, raw } => {
            arg_bytes(&key).and_then(|k| tools::get(&store_path(&store.dir), &k, raw))
        }
        Command::Put { store, key, value } => arg_bytes(&key).and_then(|k| {
            let v = arg_bytes(&value)?;
            tools::put(&store_path(&store.dir), &k, &v)
        }),
        Command::Del { store, keys } => keys
            .iter()
            .map(|k| arg_bytes(k))
            .collect::<Result<Vec<_>, _>>()
            .and_then(|keys| tools::del(&store_path(&store.dir), &keys)),
        Command::Scan {
            store,
            prefix,
            start,
            limit,
            keys_only,
        } => (|| {
            let prefix = arg_bytes(&prefix)?;
            let start = start.as_deref().map(arg_bytes).transpose()?;
            tools::scan(
                &store_path(&store.dir),
                &prefix,
                start.as_deref(),
                limit,
                keys_only,
            )
        })(),
        Command::Stats { store } => tools::stats(&store_path(&store.dir)),
        Command::Check { store } => tools::check(&store_path(&store.dir)),
        Command::Inspect(args) => {
            let path = args.file.unwrap_or_else(|| store_path(&args.dir));
            tools::inspect(
                &path,
                &InspectOptions {
                    block_size: args.block_size,
                    blocks: args.blocks,
                    read_size: args.read_size,
                    program_size: args.program_size,
                    all_blocks: args.all_blocks,
                },
            )
        }
        Command::Load {
            store,
            file,
            batch_bytes,
        } => tools::load(&store_path(&store.dir), &file, batch_bytes),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if !e.message.is_empty() {
                eprintln!("cairn: {}", e.message);
            }
            ExitCode::from(e.code)
        }
    }
}

fn serve(args: ServeArgs) -> Result<u8, ToolError> {
    let store: Arc<dyn Store> = if args.in_memory {
        Arc::new(MemStore::default())
    } else {
        std::fs::create_dir_all(&args.dir)
            .map_err(|e| ToolError::new(format!("{}: {e}", args.dir.display())))?;
        let options = cairn_std::Options::default().sync_writes(!args.no_sync);
        Arc::new(DiskStore::open(&store_path(&args.dir), options)?)
    };
    let config = ServerConfig {
        addr: SocketAddr::new(args.bind, args.port),
        requirepass: args.requirepass.filter(|p| !p.is_empty()),
        max_clients: args.maxclients,
        limits: Limits {
            max_bulk_len: args.max_bulk_len,
            max_inline_len: args.max_inline_len,
            max_args: args.max_args,
            max_request_bytes: args.max_request_bytes,
        },
        idle_timeout: (args.timeout > 0).then(|| Duration::from_secs(args.timeout)),
        output_timeout: Duration::from_secs(args.output_timeout.max(1)),
        metrics_addr: args.metrics_addr,
        ..ServerConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let server = Server::bind(config, store.clone()).await.map_err(|e| {
            ToolError::new(format!("cannot listen on {}:{}: {e}", args.bind, args.port))
        })?;
        eprintln!(
            "cairn: serving {} on {}",
            store.describe(),
            server.local_addr()
        );
        if let Some(m) = server.metrics_addr() {
            eprintln!("cairn: metrics on http://{m}/metrics");
        }
        server.run(shutdown_signal()).await?;
        eprintln!("cairn: shut down cleanly; everything written is durable");
        Ok(0)
    })
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    eprintln!("cairn: shutting down");
}
