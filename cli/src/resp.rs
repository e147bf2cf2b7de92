//! The Redis wire protocol: requests in, replies out.
//!
//! Requests arrive either as RESP arrays of bulk strings (what every client
//! library sends) or as inline lines (what a person types into `telnet`).
//! [`RequestReader`] turns a byte stream into requests incrementally and
//! enforces hard [`Limits`]: a bulk length, an argument count, a request size
//! and an inline line length beyond the configured maximum are a
//! [`ProtocolError`], never an allocation of the announced size.
//!
//! Replies are built as [`Reply`] values and encoded for the protocol version
//! the connection negotiated (RESP2 by default, RESP3 after `HELLO 3`).

use std::borrow::Cow;
use std::fmt;
use std::io::Write as _;

/// Hard limits on what one request may contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest bulk string (one argument) accepted, in bytes.
    pub max_bulk_len: usize,
    /// Longest inline command line accepted, in bytes.
    pub max_inline_len: usize,
    /// Most arguments (including the command name) in one request.
    pub max_args: usize,
    /// Largest total size of one request's arguments, in bytes.
    pub max_request_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 1024 * 1024,
            max_inline_len: 64 * 1024,
            max_args: 64 * 1024,
            max_request_bytes: 16 * 1024 * 1024,
        }
    }
}

/// A request that cannot be parsed. The connection that sent it gets this
/// message as an error reply and is then closed, since the byte stream can no
/// longer be trusted to be in step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Protocol error: {}", self.0)
    }
}

impl std::error::Error for ProtocolError {}

fn perr(msg: impl Into<String>) -> ProtocolError {
    ProtocolError(msg.into())
}

/// A request: the command name followed by its arguments.
pub type Request = Vec<Vec<u8>>;

/// Longest `*<count>` or `$<len>` header line accepted, CRLF included.
const MAX_HEADER_LEN: usize = 32;

#[derive(Debug)]
enum State {
    /// Between requests.
    Idle,
    /// Inside a multibulk request, `remaining` bulk strings still to come.
    Multi {
        remaining: usize,
        args: Request,
        bytes: usize,
    },
}

/// Incremental request parser over a connection's input buffer.
///
/// Feed it bytes with [`RequestReader::feed`], then take complete requests
/// with [`RequestReader::next_request`] until it returns `Ok(None)`.
/// Arguments already parsed from a partial request are kept, so a request
/// arriving in many small pieces is parsed in linear time.
#[derive(Debug)]
pub struct RequestReader {
    limits: Limits,
    buf: Vec<u8>,
    pos: usize,
    state: State,
}

impl RequestReader {
    /// A reader with nothing buffered.
    pub fn new(limits: Limits) -> Self {
        RequestReader {
            limits,
            buf: Vec::new(),
            pos: 0,
            state: State::Idle,
        }
    }

    /// Appends bytes received from the connection.
    pub fn feed(&mut self, data: &[u8]) {
        if self.pos > 0 && (self.pos == self.buf.len() || self.pos >= self.buf.len() / 2) {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes received but not yet part of a complete request.
    pub fn buffered(&self) -> usize {
        let pending = match &self.state {
            State::Idle => 0,
            State::Multi { bytes, .. } => *bytes,
        };
        self.buf.len() - self.pos + pending
    }

    /// Whether a request has been started but not finished.
    pub fn in_request(&self) -> bool {
        matches!(self.state, State::Multi { .. }) || self.pos < self.buf.len()
    }

    /// The next complete request, `Ok(None)` if more bytes are needed.
    pub fn next_request(&mut self) -> Result<Option<Request>, ProtocolError> {
        loop {
            match self.state {
                State::Idle => {
                    if self.pos >= self.buf.len() {
                        return Ok(None);
                    }
                    if self.buf[self.pos] == b'*' {
                        let Some((count, next)) =
                            self.header_line(self.pos + 1, "too big mbulk count string")?
                        else {
                            return Ok(None);
                        };
                        let count =
                            parse_decimal(count).ok_or_else(|| perr("invalid multibulk length"))?;
                        self.pos = next;
                        if count <= 0 {
                            continue;
                        }
                        let count = count as u64;
                        if count > self.limits.max_args as u64 {
                            return Err(perr(format!(
                                "multibulk length {count} exceeds the limit of {} arguments",
                                self.limits.max_args
                            )));
                        }
                        self.state = State::Multi {
                            remaining: count as usize,
                            args: Vec::with_capacity((count as usize).min(16)),
                            bytes: 0,
                        };
                    } else {
                        match self.inline()? {
                            Some(req) if req.is_empty() => continue,
                            other => return Ok(other),
                        }
                    }
                }
                State::Multi { .. } => return self.multibulk(),
            }
        }
    }

    /// Finds the CRLF-terminated header line starting at `from`; returns its
    /// content and the position after the CRLF.
    fn header_line(
        &self,
        from: usize,
        too_long: &str,
    ) -> Result<Option<(&[u8], usize)>, ProtocolError> {
        let window_end = self.buf.len().min(from + MAX_HEADER_LEN);
        let window = &self.buf[from.min(window_end)..window_end];
        match window.iter().position(|&b| b == b'\r') {
            Some(i) => {
                if from + i + 1 >= self.buf.len() {
                    return Ok(None);
                }
                if self.buf[from + i + 1] != b'\n' {
                    return Err(perr("expected CRLF after a header line"));
                }
                Ok(Some((&self.buf[from..from + i], from + i + 2)))
            }
            None if window.len() >= MAX_HEADER_LEN => Err(perr(too_long)),
            None => Ok(None),
        }
    }

    fn multibulk(&mut self) -> Result<Option<Request>, ProtocolError> {
        loop {
            let State::Multi {
                remaining, bytes, ..
            } = &self.state
            else {
                unreachable!("multibulk called outside a multibulk request");
            };
            let (remaining, bytes) = (*remaining, *bytes);
            if remaining == 0 {
                let State::Multi { args, .. } = std::mem::replace(&mut self.state, State::Idle)
                else {
                    unreachable!()
                };
                return Ok(Some(args));
            }
            if self.pos >= self.buf.len() {
                return Ok(None);
            }
            let first = self.buf[self.pos];
            if first != b'$' {
                return Err(perr(format!(
                    "expected '$', got '{}'",
                    char::from(first).escape_default()
                )));
            }
            let Some((len, data_start)) =
                self.header_line(self.pos + 1, "too big bulk count string")?
            else {
                return Ok(None);
            };
            let len = parse_decimal(len).ok_or_else(|| perr("invalid bulk length"))?;
            if len < 0 {
                return Err(perr("invalid bulk length"));
            }
            let len = len as u64;
            if len > self.limits.max_bulk_len as u64 {
                return Err(perr(format!(
                    "bulk length {len} exceeds the limit of {} bytes",
                    self.limits.max_bulk_len
                )));
            }
            let len = len as usize;
            if bytes + len > self.limits.max_request_bytes {
                return Err(perr(format!(
                    "request exceeds the limit of {} bytes",
                    self.limits.max_request_bytes
                )));
            }
            let data_end = data_start + len;
            if self.buf.len() < data_end + 2 {
                self.buf.reserve(data_end + 2 - self.buf.len());
                return Ok(None);
            }
            if &self.buf[data_end..data_end + 2] != b"\r\n" {
                return Err(perr("expected CRLF after bulk data"));
            }
            let arg = self.buf[data_start..data_end].to_vec();
            self.pos = data_end + 2;
            if let State::Multi {
                remaining,
                args,
                bytes,
            } = &mut self.state
            {
                *remaining -= 1;
                *bytes += len;
                args.push(arg);
            }
        }
    }

    fn inline(&mut self) -> Result<Option<Request>, ProtocolError> {
        let rest = &self.buf[self.pos..];
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            if rest.len() > self.limits.max_inline_len {
                return Err(perr("too big inline request"));
            }
            return Ok(None);
        };
        if nl > self.limits.max_inline_len {
            return Err(perr("too big inline request"));
        }
        let mut line = &rest[..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let args = split_inline(line)?;
        if args.len() > self.limits.max_args {
            return Err(perr("too many arguments in inline request"));
        }
        self.pos += nl + 1;
        Ok(Some(args))
    }
}

/// Parses an ASCII decimal integer with an optional leading minus sign.
fn parse_decimal(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(if neg { -v } else { v })
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits an inline command line into arguments. Arguments are separated by
/// white space; double quotes allow C-style escapes (`\n`, `\xHH`, ...), single
/// quotes allow only `\'`.
pub fn split_inline(line: &[u8]) -> Result<Request, ProtocolError> {
    let unbalanced = || perr("unbalanced quotes in request");
    let mut args = Vec::new();
    let mut i = 0;
    while i < line.len() {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            break;
        }
        let mut arg = Vec::new();
        match line[i] {
            b'"' => {
                i += 1;
                loop {
                    let Some(&c) = line.get(i) else {
                        return Err(unbalanced());
                    };
                    match c {
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b'\\'
                            if i + 3 < line.len()
                                && line[i + 1] == b'x'
                                && hex_val(line[i + 2]).is_some()
                                && hex_val(line[i + 3]).is_some() =>
                        {
                            let hi = hex_val(line[i + 2]).unwrap_or(0);
                            let lo = hex_val(line[i + 3]).unwrap_or(0);
                            arg.push(hi * 16 + lo);
                            i += 4;
                        }
                        b'\\' if i + 1 < line.len() => {
                            arg.push(match line[i + 1] {
                                b'n' => b'\n',
                                b'r' => b'\r',
                                b't' => b'\t',
                                b'b' => 0x08,
                                b'a' => 0x07,
                                other => other,
                            });
                            i += 2;
                        }
                        _ => {
                            arg.push(c);
                            i += 1;
                        }
                    }
                }
                if i < line.len() && !is_space(line[i]) {
                    return Err(unbalanced());
                }
            }
            b'\'' => {
                i += 1;
                loop {
                    let Some(&c) = line.get(i) else {
                        return Err(unbalanced());
                    };
                    match c {
                        b'\'' => {
                            i += 1;
                            break;
                        }
                        b'\\' if line.get(i + 1) == Some(&b'\'') => {
                            arg.push(b'\'');
                            i += 2;
                        }
                        _ => {
                            arg.push(c);
                            i += 1;
                        }
                    }
                }
                if i < line.len() && !is_space(line[i]) {
                    return Err(unbalanced());
                }
            }
            _ => {
                while i < line.len() && !is_space(line[i]) {
                    arg.push(line[i]);
                    i += 1;
                }
            }
        }
        args.push(arg);
    }
    Ok(args)
}

/// The reply protocol a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// RESP2, the default.
    Resp2,
    /// RESP3, chosen with `HELLO 3`.
    Resp3,
}

impl Protocol {
    /// The protocol's version number, as `HELLO` reports it.
    pub fn version(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

/// A reply to one command.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// A status line, such as `OK` or `PONG`.
    Simple(Cow<'static, str>),
    /// An error; the text starts with its code, such as `ERR` or `WRONGPASS`.
    Error(Cow<'static, str>),
    /// An integer.
    Int(i64),
    /// A binary-safe string.
    Bulk(Vec<u8>),
    /// A missing value (RESP2 null bulk string).
    Nil,
    /// A missing array (RESP2 null array).
    NilArray,
    /// An ordered list of replies.
    Array(Vec<Reply>),
    /// Key/value pairs: a map in RESP3, a flat array in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// Text with a format tag (`txt`): verbatim in RESP3, bulk in RESP2.
    Verbatim(String),
}

impl Reply {
    /// `+OK`.
    pub const OK: Reply = Reply::Simple(Cow::Borrowed("OK"));

    /// An error reply from a fixed message.
    pub fn err(msg: &'static str) -> Reply {
        Reply::Error(Cow::Borrowed(msg))
    }

    /// An error reply from a formatted message.
    pub fn error(msg: String) -> Reply {
        Reply::Error(Cow::Owned(msg))
    }

    /// A bulk string reply from text.
    pub fn text(s: impl Into<String>) -> Reply {
        Reply::Bulk(s.into().into_bytes())
    }

    /// Whether this is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// About how many bytes the encoding takes.
    pub fn approx_len(&self) -> usize {
        match self {
            Reply::Simple(s) | Reply::Error(s) => s.len() + 3,
            Reply::Int(_) | Reply::Nil | Reply::NilArray => 8,
            Reply::Bulk(b) => b.len() + 16,
            Reply::Verbatim(t) => t.len() + 20,
            Reply::Array(items) => 16 + items.iter().map(Reply::approx_len).sum::<usize>(),
            Reply::Map(pairs) => {
                16 + pairs
                    .iter()
                    .map(|(k, v)| k.approx_len() + v.approx_len())
                    .sum::<usize>()
            }
        }
    }

    /// Appends the encoding of this reply in `proto` to `out`.
    pub fn encode(&self, proto: Protocol, out: &mut Vec<u8>) {
        match self {
            Reply::Simple(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(s) => line(out, b'-', s.as_bytes()),
            Reply::Int(n) => {
                let _ = write!(out, ":{n}\r\n");
            }
            Reply::Bulk(b) => bulk(out, b),
            Reply::Nil => match proto {
                Protocol::Resp2 => out.extend_from_slice(b"$-1\r\n"),
                Protocol::Resp3 => out.extend_from_slice(b"_\r\n"),
            },
            Reply::NilArray => match proto {
                Protocol::Resp2 => out.extend_from_slice(b"*-1\r\n"),
                Protocol::Resp3 => out.extend_from_slice(b"_\r\n"),
            },
            Reply::Array(items) => {
                let _ = write!(out, "*{}\r\n", items.len());
                for item in items {
                    item.encode(proto, out);
                }
            }
            Reply::Map(pairs) => {
                match proto {
                    Protocol::Resp2 => {
                        let _ = write!(out, "*{}\r\n", pairs.len() * 2);
                    }
                    Protocol::Resp3 => {
                        let _ = write!(out, "%{}\r\n", pairs.len());
                    }
                }
                for (k, v) in pairs {
                    k.encode(proto, out);
                    v.encode(proto, out);
                }
            }
            Reply::Verbatim(text) => match proto {
                Protocol::Resp2 => bulk(out, text.as_bytes()),
                Protocol::Resp3 => {
                    let _ = write!(out, "={}\r\ntxt:", text.len() + 4);
                    out.extend_from_slice(text.as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
            },
        }
    }
}

/// A status or error line; CR and LF inside are replaced by spaces so the
/// line cannot break the framing.
fn line(out: &mut Vec<u8>, tag: u8, text: &[u8]) {
    out.push(tag);
    out.extend(
        text.iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
}

fn bulk(out: &mut Vec<u8>, data: &[u8]) {
    let _ = write!(out, "${}\r\n", data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader() -> RequestReader {
        RequestReader::new(Limits {
            max_bulk_len: 16,
            max_inline_len: 32,
            max_args: 4,
            max_request_bytes: 40,
        })
    }

    fn all(r: &mut RequestReader) -> Result<Vec<Request>, ProtocolError> {
        let mut out = Vec::new();
        while let Some(req) = r.next_request()? {
            out.push(req);
        }
        Ok(out)
    }

    fn v(args: &[&str]) -> Request {
        args.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    #[test]
    fn multibulk_in_one_piece_and_byte_by_byte() {
        let wire = b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n*1\r\n$4\r\nPING\r\n";
        let mut r = reader();
        r.feed(wire);
        assert_eq!(all(&mut r).unwrap(), vec![v(&["GET", "key"]), v(&["PING"])]);
        assert!(!r.in_request());

        let mut r = reader();
        let mut got = Vec::new();
        for b in wire {
            r.feed(&[*b]);
            got.extend(all(&mut r).unwrap());
        }
        assert_eq!(got, vec![v(&["GET", "key"]), v(&["PING"])]);
    }

    #[test]
    fn binary_safe_bulk() {
        let mut r = reader();
        r.feed(b"*1\r\n$4\r\na\r\nb\r\n");
        assert_eq!(all(&mut r).unwrap(), vec![vec![b"a\r\nb".to_vec()]]);
    }

    #[test]
    fn empty_and_null_multibulk_are_skipped() {
        let mut r = reader();
        r.feed(b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n");
        assert_eq!(all(&mut r).unwrap(), vec![v(&["PING"])]);
    }

    #[test]
    fn limits_are_protocol_errors() {
        let cases: &[(&[u8], &str)] = &[
            (b"*5\r\n", "exceeds the limit of 4 arguments"),
            (b"*1\r\n$17\r\n", "bulk length 17 exceeds"),
            (b"*x\r\n", "invalid multibulk length"),
            (b"*1\r\n$-3\r\n", "invalid bulk length"),
            (b"*1\r\n$abc\r\n", "invalid bulk length"),
            (b"*1\r\n+PING\r\n", "expected '$', got '+'"),
            (b"*1\r\n$4\r\nPINGxx", "expected CRLF after bulk data"),
            (
                b"*3\r\n$16\r\n0123456789abcdef\r\n$16\r\n0123456789abcdef\r\n$16\r\n",
                "request exceeds",
            ),
            (
                b"*111111111111111111111111111111111111111",
                "too big mbulk count string",
            ),
            (
                b"*1\r\n$1111111111111111111111111111111111111",
                "too big bulk count string",
            ),
            (
                b"PING PING PING PING PING PING PING PING PING",
                "too big inline request",
            ),
            (b"GET \"abc\r\n", "unbalanced quotes"),
        ];
        for (wire, want) in cases {
            let mut r = reader();
            r.feed(wire);
            let err = all(&mut r).expect_err(want);
            assert!(
                err.0.contains(want),
                "{:?}: got {err}",
                String::from_utf8_lossy(wire)
            );
        }
    }

    #[test]
    fn huge_announced_lengths_do_not_allocate() {
        let mut r = RequestReader::new(Limits::default());
        r.feed(b"*1\r\n$999999999999\r\n");
        assert!(r.next_request().is_err());
        let mut r = RequestReader::new(Limits::default());
        r.feed(b"*9223372036854775807\r\n");
        assert!(r.next_request().is_err());
    }

    #[test]
    fn inline_commands() {
        let mut r = reader();
        r.feed(b"PING\r\n\r\n  set a 'b c'\nget \"x\\x41\\n\"\r\n");
        assert_eq!(
            all(&mut r).unwrap(),
            vec![v(&["PING"]), v(&["set", "a", "b c"]), v(&["get", "xA\n"])]
        );
        let mut r = reader();
        r.feed(b"PIN");
        assert_eq!(r.next_request().unwrap(), None);
        r.feed(b"G\n");
        assert_eq!(r.next_request().unwrap(), Some(v(&["PING"])));
    }

    #[test]
    fn reply_encoding() {
        let mut out = Vec::new();
        let r = Reply::Array(vec![
            Reply::OK,
            Reply::Int(-3),
            Reply::Bulk(b"hi".to_vec()),
            Reply::Nil,
            Reply::Map(vec![(Reply::text("k"), Reply::Int(1))]),
        ]);
        r.encode(Protocol::Resp2, &mut out);
        assert_eq!(
            out,
            b"*5\r\n+OK\r\n:-3\r\n$2\r\nhi\r\n$-1\r\n*2\r\n$1\r\nk\r\n:1\r\n"
        );
        out.clear();
        r.encode(Protocol::Resp3, &mut out);
        assert_eq!(
            out,
            b"*5\r\n+OK\r\n:-3\r\n$2\r\nhi\r\n_\r\n%1\r\n$1\r\nk\r\n:1\r\n"
        );
        out.clear();
        Reply::error("ERR a\r\nb".into()).encode(Protocol::Resp2, &mut out);
        assert_eq!(out, b"-ERR a  b\r\n");
        out.clear();
        Reply::Verbatim("x".into()).encode(Protocol::Resp3, &mut out);
        assert_eq!(out, b"=5\r\ntxt:x\r\n");
    }
}
