//! The commands `cairn serve` understands, with what `COMMAND` reports
//! about them.

use crate::resp::Reply;

/// Where a command runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Touches only the connection or the server, not the store.
    Connection,
    /// Reads the store; runs concurrently with other reads.
    Read,
    /// Changes the store; runs on the single writer thread.
    Write,
}

/// One command's description.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: `n` means exactly `n` words including the name, `-n`
    /// at least `n`.
    pub arity: i32,
    /// Where it runs.
    pub kind: Kind,
    /// Flags as `COMMAND INFO` reports them.
    pub flags: &'static [&'static str],
    /// First key position, last key position (-1: the last argument) and
    /// the step between keys; all zero for commands without keys.
    pub keys: (i32, i32, i32),
    /// Documentation group, such as `string` or `server`.
    pub group: &'static str,
    /// One-line description.
    pub summary: &'static str,
    /// The arguments, as a person would write them after the name.
    pub syntax: &'static str,
}

impl CommandSpec {
    /// Whether `argc` words (name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }
}

const RO: &[&str] = &["readonly", "fast"];
const RO_SLOW: &[&str] = &["readonly"];
const WR: &[&str] = &["write", "denyoom"];
const WR_FAST: &[&str] = &["write", "denyoom", "fast"];
const DEL: &[&str] = &["write"];
const CONN: &[&str] = &["fast", "stale", "loading"];
const CONN_NOAUTH: &[&str] = &["noscript", "loading", "stale", "fast", "no_auth"];
const ADMIN: &[&str] = &["admin", "noscript", "loading", "stale"];

const NOKEYS: (i32, i32, i32) = (0, 0, 0);
const KEY1: (i32, i32, i32) = (1, 1, 1);
const ALLKEYS: (i32, i32, i32) = (1, -1, 1);
const PAIRS: (i32, i32, i32) = (1, -1, 2);

macro_rules! cmd {
    ($name:literal, $arity:expr, $kind:ident, $flags:expr, $keys:expr, $group:literal, $syntax:literal, $summary:literal) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            kind: Kind::$kind,
            flags: $flags,
            keys: $keys,
            group: $group,
            summary: $summary,
            syntax: $syntax,
        }
    };
}

/// Every command, sorted by name.
pub static COMMANDS: &[CommandSpec] = &[
    cmd!(
        "append",
        3,
        Write,
        WR,
        KEY1,
        "string",
        "key value",
        "Appends a value to a key's value, creating the key if needed; returns the new length."
    ),
    cmd!(
        "auth",
        -2,
        Connection,
        CONN_NOAUTH,
        NOKEYS,
        "connection",
        "[username] password",
        "Authenticates the connection."
    ),
    cmd!(
        "client",
        -2,
        Connection,
        &["loading", "stale"],
        NOKEYS,
        "connection",
        "ID|INFO|LIST|GETNAME|SETNAME name|SETINFO attr value",
        "Identifies and lists connections."
    ),
    cmd!(
        "command",
        -1,
        Connection,
        &["loading", "stale"],
        NOKEYS,
        "server",
        "[COUNT|DOCS [name ...]|INFO [name ...]|LIST]",
        "Describes the commands this server understands."
    ),
    cmd!(
        "config",
        -2,
        Connection,
        ADMIN,
        NOKEYS,
        "server",
        "GET pattern [pattern ...]|RESETSTAT",
        "Reads configuration parameters."
    ),
    cmd!(
        "dbsize",
        1,
        Read,
        RO_SLOW,
        NOKEYS,
        "server",
        "",
        "Returns the number of keys (counted by a scan of the store)."
    ),
    cmd!(
        "decr",
        2,
        Write,
        WR_FAST,
        KEY1,
        "string",
        "key",
        "Decrements a key's integer value by one."
    ),
    cmd!(
        "decrby",
        3,
        Write,
        WR_FAST,
        KEY1,
        "string",
        "key decrement",
        "Decrements a key's integer value by a number."
    ),
    cmd!(
        "del",
        -2,
        Write,
        DEL,
        ALLKEYS,
        "generic",
        "key [key ...]",
        "Deletes keys; returns how many existed."
    ),
    cmd!(
        "echo",
        2,
        Connection,
        CONN,
        NOKEYS,
        "connection",
        "message",
        "Returns the message."
    ),
    cmd!(
        "exists",
        -2,
        Read,
        RO,
        ALLKEYS,
        "generic",
        "key [key ...]",
        "Counts how many of the given keys exist."
    ),
    cmd!(
        "flushall",
        -1,
        Write,
        DEL,
        NOKEYS,
        "server",
        "[ASYNC|SYNC]",
        "Deletes every key (the same as FLUSHDB: there is one database)."
    ),
    cmd!(
        "flushdb",
        -1,
        Write,
        DEL,
        NOKEYS,
        "server",
        "[ASYNC|SYNC]",
        "Deletes every key."
    ),
    cmd!(
        "get",
        2,
        Read,
        RO,
        KEY1,
        "string",
        "key",
        "Returns a key's value."
    ),
    cmd!(
        "getdel",
        2,
        Write,
        &["write", "fast"],
        KEY1,
        "string",
        "key",
        "Returns a key's value and deletes the key."
    ),
    cmd!(
        "getrange",
        4,
        Read,
        RO_SLOW,
        KEY1,
        "string",
        "key start end",
        "Returns a substring of a key's value."
    ),
    cmd!(
        "getset",
        3,
        Write,
        WR_FAST,
        KEY1,
        "string",
        "key value",
        "Sets a key's value and returns the previous one."
    ),
    cmd!(
        "hello",
        -1,
        Connection,
        CONN_NOAUTH,
        NOKEYS,
        "connection",
        "[protover [AUTH username password] [SETNAME clientname]]",
        "Chooses the protocol version and reports about the server."
    ),
    cmd!(
        "incr",
        2,
        Write,
        WR_FAST,
        KEY1,
        "string",
        "key",
        "Increments a key's integer value by one."
    ),
    cmd!(
        "incrby",
        3,
        Write,
        WR_FAST,
        KEY1,
        "string",
        "key increment",
        "Increments a key's integer value by a number."
    ),
    cmd!(
        "info",
        -1,
        Read,
        &["loading", "stale"],
        NOKEYS,
        "server",
        "[section ...]",
        "Reports about the server and the store."
    ),
    cmd!(
        "keys",
        2,
        Read,
        RO_SLOW,
        NOKEYS,
        "generic",
        "pattern",
        "Returns every key matching a glob pattern, in key order."
    ),
    cmd!(
        "mget",
        -2,
        Read,
        RO,
        ALLKEYS,
        "string",
        "key [key ...]",
        "Returns the values of several keys."
    ),
    cmd!(
        "mset",
        -3,
        Write,
        WR,
        PAIRS,
        "string",
        "key value [key value ...]",
        "Sets several keys atomically."
    ),
    cmd!(
        "msetnx",
        -3,
        Write,
        WR,
        PAIRS,
        "string",
        "key value [key value ...]",
        "Sets several keys atomically, only if none of them exists."
    ),
    cmd!(
        "ping",
        -1,
        Connection,
        CONN,
        NOKEYS,
        "connection",
        "[message]",
        "Returns PONG, or the message."
    ),
    cmd!(
        "pttl",
        2,
        Read,
        RO,
        KEY1,
        "generic",
        "key",
        "Returns -1 for an existing key (keys never expire) and -2 for a missing one."
    ),
    cmd!(
        "quit",
        -1,
        Connection,
        CONN_NOAUTH,
        NOKEYS,
        "connection",
        "",
        "Closes the connection."
    ),
    cmd!(
        "save",
        1,
        Write,
        ADMIN,
        NOKEYS,
        "server",
        "",
        "Makes everything written so far durable."
    ),
    cmd!(
        "scan",
        -2,
        Read,
        RO_SLOW,
        NOKEYS,
        "generic",
        "cursor [MATCH pattern] [COUNT count] [TYPE type]",
        "Iterates over keys in key order."
    ),
    cmd!(
        "select",
        2,
        Connection,
        CONN,
        NOKEYS,
        "connection",
        "index",
        "Selects a database; only database 0 exists."
    ),
    cmd!(
        "set",
        -3,
        Write,
        WR,
        KEY1,
        "string",
        "key value [NX|XX] [GET] [KEEPTTL]",
        "Sets a key's value."
    ),
    cmd!(
        "setnx",
        3,
        Write,
        WR_FAST,
        KEY1,
        "string",
        "key value",
        "Sets a key's value only if the key does not exist."
    ),
    cmd!(
        "strlen",
        2,
        Read,
        RO,
        KEY1,
        "string",
        "key",
        "Returns the length of a key's value."
    ),
    cmd!(
        "time",
        1,
        Connection,
        CONN,
        NOKEYS,
        "server",
        "",
        "Returns the server's clock as seconds and microseconds."
    ),
    cmd!(
        "ttl",
        2,
        Read,
        RO,
        KEY1,
        "generic",
        "key",
        "Returns -1 for an existing key (keys never expire) and -2 for a missing one."
    ),
    cmd!(
        "type",
        2,
        Read,
        RO,
        KEY1,
        "generic",
        "key",
        "Returns the type of a key's value: string, or none."
    ),
    cmd!(
        "unlink",
        -2,
        Write,
        DEL,
        ALLKEYS,
        "generic",
        "key [key ...]",
        "Deletes keys; returns how many existed."
    ),
];

/// The index into [`COMMANDS`] of the command named `name`, in any case.
pub fn lookup(name: &[u8]) -> Option<usize> {
    if name.len() > 16 {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    COMMANDS
        .binary_search_by(|c| c.name.as_bytes().cmp(&lower[..]))
        .ok()
}

/// The `COMMAND INFO` entry of a command.
pub fn info_reply(spec: &CommandSpec) -> Reply {
    let category = match spec.kind {
        Kind::Read => "@read",
        Kind::Write => "@write",
        Kind::Connection => "@connection",
    };
    let (first, last, step) = spec.keys;
    Reply::Array(vec![
        Reply::text(spec.name),
        Reply::Int(i64::from(spec.arity)),
        Reply::Array(
            spec.flags
                .iter()
                .map(|f| Reply::Simple((*f).into()))
                .collect(),
        ),
        Reply::Int(i64::from(first)),
        Reply::Int(i64::from(last)),
        Reply::Int(i64::from(step)),
        Reply::Array(vec![Reply::Simple(category.into())]),
        Reply::Array(Vec::new()),
        Reply::Array(Vec::new()),
        Reply::Array(Vec::new()),
    ])
}

/// The `COMMAND DOCS` entry of a command.
pub fn docs_reply(spec: &CommandSpec) -> Reply {
    Reply::Map(vec![
        (Reply::text("summary"), Reply::text(spec.summary)),
        (Reply::text("since"), Reply::text("1.0.0")),
        (Reply::text("group"), Reply::text(spec.group)),
        (
            Reply::text("syntax"),
            Reply::text(format!("{} {}", spec.name.to_uppercase(), spec.syntax)),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_lookup_ignores_case() {
        for w in COMMANDS.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
        assert_eq!(lookup(b"GeT").map(|i| COMMANDS[i].name), Some("get"));
        assert_eq!(lookup(b"nope"), None);
        assert_eq!(lookup(&[b'x'; 100]), None);
    }

    #[test]
    fn arity() {
        let get = &COMMANDS[lookup(b"get").unwrap()];
        assert!(get.arity_ok(2) && !get.arity_ok(1) && !get.arity_ok(3));
        let del = &COMMANDS[lookup(b"del").unwrap()];
        assert!(del.arity_ok(2) && del.arity_ok(9) && !del.arity_ok(1));
    }
}
