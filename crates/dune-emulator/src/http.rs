//! A small HTTP/1.1 server on std::net, written for the emulator so that it can misbehave on
//! purpose (stall, cut a body short, reset a connection) in ways a polished server would not.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread;
use std::time::Duration;

const MAX_HEAD: usize = 64 * 1024;
/// The largest request body read (a CSV upload may be up to 200 MB; inserts are sent in
/// batches); past it the connection is closed.
const MAX_BODY: usize = 256 * 1024 * 1024;

/// One parsed request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub raw_query: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The number of the connection it came on (`Gate`).
    pub conn: u64,
}

impl Request {
    /// A header's value; names compare case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a query-string parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A list's `limit` (1 to `max`, `default` when absent) and `offset` (0 when absent); a
    /// 400 naming the parameter when one is not a whole number or the limit is out of range.
    pub fn limit_offset(&self, default: u64, max: u64) -> Result<(u64, u64), Response> {
        let number = |name: &str, default: u64| match self.param(name) {
            None | Some("") => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| Response::error(400, &format!("invalid value for {name}: {v}"))),
        };
        let (limit, offset) = (number("limit", default)?, number("offset", 0)?);
        if limit == 0 || limit > max {
            return Err(Response::error(
                400,
                &format!("invalid value for limit: {limit} (1 to {max})"),
            ));
        }
        Ok((limit, offset))
    }
}

/// How a response misbehaves, when a fault asks it to.
#[derive(Debug, Clone, PartialEq)]
pub enum Misbehave {
    /// Wait this long before writing anything.
    Stall(Duration),
    /// Announce the whole body, send this many bytes of it, then close.
    CutAfter(usize),
    /// Close the connection without answering (with a TCP reset where the OS allows).
    Reset,
    /// Announce the whole body, send this many bytes of it, then reset the connection (RST).
    ResetAfter(usize),
    /// Answer, close this connection, then refuse new connections for a while (see [`Gate`]).
    CloseAndRefuse(Duration),
}

/// Lets the server stop listening for a while, so that clients meet "connection refused"
/// exactly as they would while a server restarts: the listening socket is closed, then bound
/// again on the same address, and the connections open at that moment are shut (a client
/// with several requests in flight, or idle connections in its pool, loses them all).
#[derive(Default)]
pub struct Gate {
    addr: OnceLock<SocketAddr>,
    /// A refusal asked for and not yet begun; `true` once the listener is closed.
    pending: Mutex<(Option<Duration>, bool)>,
    closed: Condvar,
    /// The open connections, by a number of their own.
    open: Mutex<HashMap<u64, TcpStream>>,
    next: AtomicU64,
}

impl Gate {
    /// Closes the listener for `d` and shuts the open connections but `keep` (the one that
    /// asked, when it must still be answered); returns once it is closed (or after a second). A refusal
    /// asked for while the listener is already closed (two requests in flight, both told to
    /// refuse) is part of that one: it is dropped, not left to close the listener again on
    /// the next connection, which would reset that connection.
    pub fn refuse(&self, d: Duration, keep: Option<u64>) {
        let Some(addr) = self.addr.get() else { return };
        *self.pending.lock().unwrap() = (Some(d), false);
        // wakes the accept loop; refused: the listener is closed already
        if TcpStream::connect(addr).is_err() {
            self.pending.lock().unwrap().0 = None;
            self.shut_all(keep);
            return;
        }
        let guard = self.pending.lock().unwrap();
        let (mut p, _) = self
            .closed
            .wait_timeout_while(guard, Duration::from_secs(1), |p| !p.1)
            .unwrap();
        if !p.1 {
            p.0 = None;
        }
        drop(p);
        self.shut_all(keep);
    }

    fn shut_all(&self, keep: Option<u64>) {
        let mut open = self.open.lock().unwrap();
        for (_, conn) in open.extract_if(|n, _| Some(*n) != keep) {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }

    /// Counts a connection as open (until `forget`); its number.
    fn remember(&self, stream: &TcpStream) -> u64 {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone() {
            self.open.lock().unwrap().insert(n, clone);
        }
        n
    }

    fn forget(&self, n: u64) {
        self.open.lock().unwrap().remove(&n);
    }

    /// Called by the accept loop after each accept: the refusal to begin now, if any.
    fn take(&self) -> Option<Duration> {
        let mut p = self.pending.lock().unwrap();
        let d = p.0.take()?;
        p.1 = true;
        self.closed.notify_all();
        Some(d)
    }
}

/// Requests being answered at once (from the end of a request to the end of its answer, the
/// emulated network's delay included), and the most seen since the last reset: what a test
/// reads to see how many requests a client really had in flight.
#[derive(Default)]
pub struct Busy {
    now: AtomicU64,
    most: AtomicU64,
}

/// A request being answered; leaving (even by a panic) counts it out.
struct Answering<'a>(&'a Busy);

impl Drop for Answering<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Busy {
    fn enter(&self) -> Answering<'_> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        Answering(self)
    }

    /// The most requests answered at once since the last reset.
    pub fn most(&self) -> u64 {
        self.most.load(Ordering::SeqCst)
    }

    /// Starts counting the most again from the requests in progress.
    pub fn reset(&self) {
        self.most
            .store(self.now.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

/// Makes the next close of `stream` send a TCP reset instead of a FIN.
fn linger_zero(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid open socket descriptor and a correctly sized, initialized option value.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// One response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub misbehave: Option<Misbehave>,
    /// The emulated network this answer crosses.
    pub network: Network,
}

/// An emulated network between the client and Dune: a delay before the first byte of each
/// answer, and the body paced to a bandwidth (0: unlimited). Each connection is paced on its
/// own, as a real server's would be.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Network {
    pub latency: Duration,
    pub bytes_per_second: u64,
}

impl Network {
    /// Writes `body` at the network's pace.
    fn write_body(&self, stream: &mut TcpStream, body: &[u8]) -> io::Result<()> {
        if self.bytes_per_second == 0 {
            return stream.write_all(body);
        }
        let chunk = (self.bytes_per_second / 50).max(1024) as usize; // about 20 ms a chunk
        let start = std::time::Instant::now();
        for (i, piece) in body.chunks(chunk).enumerate() {
            stream.write_all(piece)?;
            let due =
                Duration::from_secs_f64(((i + 1) * chunk) as f64 / self.bytes_per_second as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                thread::sleep(wait);
            }
        }
        Ok(())
    }
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
            misbehave: None,
            network: Network::default(),
        }
    }

    pub fn json(status: u16, body: String) -> Self {
        Self::new(status, "application/json", body.into_bytes())
    }

    /// Dune's error body: `{"error": "<message>"}`.
    pub fn error(status: u16, message: &str) -> Self {
        Self::json(status, serde_json::json!({ "error": message }).to_string())
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// Percent-decoding for paths and form-encoded query strings (`+` is a space).
pub fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Form encoding of a query-string value, as Dune writes its next_uri (`a b` → `a+b`).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Splits `a=1&b=x+y` into decoded pairs.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (url_decode(k), url_decode(v)),
            None => (url_decode(p), String::new()),
        })
        .collect()
}

fn too_large() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "request body too large")
}

/// A body sent with `Transfer-Encoding: chunked` (as a client streaming an upload sends it).
fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        reader.by_ref().take(1024).read_line(&mut line)?;
        let size = line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        if size == 0 {
            // trailers, up to the blank line
            loop {
                line.clear();
                reader.by_ref().take(MAX_HEAD as u64).read_line(&mut line)?;
                if line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(too_large());
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = reader
            .by_ref()
            .take(MAX_HEAD as u64)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        if line == b"\r\n" || line == b"\n" {
            if head.is_empty() {
                continue; // tolerate stray blank lines between requests
            }
            break;
        }
        head.push(String::from_utf8_lossy(&line).trim_end().to_string());
        if head.len() > 200 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "too many header lines",
            ));
        }
    }
    let mut parts = head[0].split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let headers: Vec<(String, String)> = head[1..]
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let (path, raw_query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.clone(), String::new()),
    };
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        read_chunked(reader)?
    } else {
        let length = header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        if length > MAX_BODY {
            return Err(too_large());
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    };
    Ok(Some(Request {
        method,
        path: url_decode(&path.replace('+', "%2B")),
        query: parse_query(&raw_query),
        raw_query,
        headers,
        body,
        conn: 0,
    }))
}

fn write_response(stream: &mut TcpStream, resp: &Response, keep_alive: bool) -> io::Result<bool> {
    match &resp.misbehave {
        Some(Misbehave::Stall(d)) => thread::sleep(*d),
        Some(Misbehave::Reset) => {
            linger_zero(stream);
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(false);
        }
        _ => {}
    }
    let keep_alive = keep_alive && !matches!(resp.misbehave, Some(Misbehave::CloseAndRefuse(_)));
    if !resp.network.latency.is_zero() {
        thread::sleep(resp.network.latency);
    }
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in &resp.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
    head.push_str(if keep_alive {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    stream.write_all(head.as_bytes())?;
    if let Some(Misbehave::ResetAfter(n)) = resp.misbehave {
        stream.write_all(&resp.body[..n.min(resp.body.len())])?;
        stream.flush()?;
        thread::sleep(Duration::from_millis(20)); // let the bytes leave before the reset
        linger_zero(stream);
        return Ok(false);
    }
    if let Some(Misbehave::CutAfter(n)) = resp.misbehave {
        stream.write_all(&resp.body[..n.min(resp.body.len())])?;
        stream.flush()?;
        let _ = stream.shutdown(Shutdown::Both);
        return Ok(false);
    }
    resp.network.write_body(stream, &resp.body)?;
    stream.flush()?;
    Ok(keep_alive)
}

type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

fn serve_connection(
    stream: TcpStream,
    n: u64,
    handler: Handler,
    stop: Arc<AtomicBool>,
    busy: Arc<Busy>,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(120)));
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::with_capacity(64 * 1024, read_half);
    let mut writer = stream;
    while !stop.load(Ordering::Relaxed) {
        let req = match read_request(&mut reader) {
            Ok(Some(r)) => Request { conn: n, ..r },
            Ok(None) | Err(_) => return,
        };
        let keep_alive = !req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let answering = busy.enter();
        let resp = handler(&req);
        let written = write_response(&mut writer, &resp, keep_alive);
        drop(answering);
        match written {
            Ok(true) => continue,
            _ => return,
        }
    }
}

/// Accepts connections until `stop` is set; one thread per connection. While `gate` asks, the
/// listener is closed (connections are refused), then bound again.
pub fn serve(
    mut listener: TcpListener,
    handler: Handler,
    stop: Arc<AtomicBool>,
    gate: Arc<Gate>,
    busy: Arc<Busy>,
) {
    if let Ok(addr) = listener.local_addr() {
        let _ = gate.addr.set(addr);
    }
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if let Some(d) = gate.take() {
            let Some(addr) = gate.addr.get().copied() else {
                break;
            };
            drop(accepted);
            drop(listener);
            thread::sleep(d);
            listener = match TcpListener::bind(addr) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("dune-emulator: cannot listen again on {addr}: {e}");
                    break;
                }
            };
            continue;
        }
        let Ok((stream, _)) = accepted else { continue };
        let handler = handler.clone();
        let stop = stop.clone();
        let busy = busy.clone();
        let gate = gate.clone();
        let n = gate.remember(&stream);
        thread::spawn(move || {
            serve_connection(stream, n, handler, stop, busy);
            gate.forget(n);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_encodes_query_values() {
        let q = parse_query(
            "filters=block_time+%3E+%272024-03-01%27&limit=10&params.Time%20Period=day",
        );
        assert_eq!(q[0], ("filters".into(), "block_time > '2024-03-01'".into()));
        assert_eq!(q[2], ("params.Time Period".into(), "day".into()));
        assert_eq!(
            url_encode("block_time > '2024-03-01'"),
            "block_time+%3E+%272024-03-01%27"
        );
        assert_eq!(url_decode("100%"), "100%");
    }

    #[test]
    fn reads_chunked_bodies() {
        let mut wire: &[u8] = b"4\r\nid,n\r\n6;ext=1\r\n\n1,two\r\n0\r\nX-Trailer: y\r\n\r\nnext";
        assert_eq!(read_chunked(&mut wire).unwrap(), b"id,n\n1,two");
        assert_eq!(wire, b"next");
        let mut bad: &[u8] = b"zz\r\n";
        assert!(read_chunked(&mut bad).is_err());
    }
}
