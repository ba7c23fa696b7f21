//! A latency-injecting, counting HTTP/1.1 reverse proxy in front of moto,
//! which can also take a region down: the benchmark measures through it,
//! and the tests make outages with it.
//!
//! Real AWS answers in tens of milliseconds, moto in about one, so against
//! bare moto a one-call-at-a-time client looks as fast as a concurrent one.
//! The proxy holds every request for a set latency before forwarding it
//! (and a new connection for a set time before reading from it, as a TCP
//! and TLS handshake would), and counts what it forwards by AWS operation.
//!
//! One thread per client connection, each with its own keep-alive
//! connection to moto: the SDK reuses connections, and a slow request must
//! delay only its own connection, as a network round trip would. Request
//! bodies are read whole (by `Content-Length` or `Transfer-Encoding:
//! chunked`) and forwarded with a `Content-Length`; responses likewise.
//!
//! A region that is down (`Proxy::take_down`) gets no request through: a
//! request whose SigV4 credential scope names it is answered `503` with
//! error code `RegionUnavailable` and never reaches moto, as if the
//! region's endpoints were gone.
//!
//! Faults (`Proxy::inject`) make the rest of a bad night, per service and
//! operation, on every call, the Nth call or a share of calls: the
//! service's own throttling answer (RDS `Throttling`, S3 `SlowDown`,
//! EventBridge `ThrottlingException`), an HTTP 500, a connection reset
//! before any answer, an answer slower than the client waits, and an
//! answer lost after moto did the work.
//!
//! `Proxy::throttle_rds` enforces RDS's own API throttle, which moto lacks:
//! a token bucket per region (RDS: 300 calls, refilled at 12 a second) over
//! every RDS call, answering `Throttling` when it is empty.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;

/// One AWS operation as seen on the wire.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Call {
    /// From the SigV4 credential scope, e.g. `rds`; empty if unsigned.
    pub service: String,
    /// From the SigV4 credential scope, e.g. `us-west-2`; empty if unsigned.
    pub region: String,
    /// e.g. `CreateDBSnapshot`, `PutEvents`, `PutObject`.
    pub operation: String,
}

/// What the proxy does to a call a `Rule` picks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// The service's throttling answer, in its own words, without
    /// reaching moto: RDS (and any query-protocol service) `Throttling`
    /// "Rate exceeded" with HTTP 400, S3 `SlowDown` with 503, EventBridge
    /// (and any JSON-protocol service) `ThrottlingException` with 400.
    Throttle,
    /// HTTP 500 in the service's own words (`InternalFailure`, S3
    /// `InternalError`), without reaching moto.
    ServerError,
    /// The connection is closed before any answer; the request never
    /// reaches moto.
    Reset,
    /// Forwarded, and the answer held back this long (longer than the
    /// client's attempt timeout): the work is done, the client gives up and
    /// retries into it.
    Slow(Duration),
    /// Forwarded, and the answer dropped with the connection: the work is
    /// done, the client sees a broken connection, and its retry meets the
    /// work done ("already exists", 412).
    LostAnswer,
    /// For EventBridge's `PutEvents`: a 200 whose every entry failed
    /// (`FailedEntryCount` = all, `ErrorCode` `ThrottlingException`),
    /// without reaching moto: the call succeeded, the events did not.
    EntriesRefused,
}

impl Fault {
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Throttle => "throttle",
            Fault::ServerError => "server-error",
            Fault::Reset => "reset",
            Fault::Slow(_) => "slow",
            Fault::LostAnswer => "lost-answer",
            Fault::EntriesRefused => "entries-refused",
        }
    }
}

/// Which calls get a fault.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum When {
    Always,
    /// The Nth matching call only, from 1.
    Nth(u64),
    /// This share (0 to 1) of the matching calls, picked by a seeded hash
    /// of each call's number: the same calls in every run.
    Share(f64),
}

/// A fault and the calls it hits.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub fault: Fault,
    /// Only calls to this service (`rds`, `s3`, `events`).
    pub service: Option<String>,
    /// Only this operation (`CreateDBSnapshot`).
    pub operation: Option<String>,
    pub when: When,
}

impl Rule {
    /// `fault` on every call, until narrowed.
    pub fn new(fault: Fault) -> Self {
        Rule {
            fault,
            service: None,
            operation: None,
            when: When::Always,
        }
    }

    pub fn service(mut self, service: &str) -> Self {
        self.service = Some(service.to_string());
        self
    }

    pub fn operation(mut self, operation: &str) -> Self {
        self.operation = Some(operation.to_string());
        self
    }

    pub fn nth(mut self, n: u64) -> Self {
        self.when = When::Nth(n);
        self
    }

    pub fn share(mut self, share: f64) -> Self {
        self.when = When::Share(share);
        self
    }

    fn matches(&self, call: &Call) -> bool {
        self.service.as_ref().is_none_or(|s| *s == call.service)
            && self.operation.as_ref().is_none_or(|o| *o == call.operation)
    }

    /// Whether the `n`th matching call (from 1) gets the fault.
    fn hits(&self, n: u64) -> bool {
        match self.when {
            When::Always => true,
            When::Nth(nth) => n == nth,
            When::Share(share) => (splitmix64(n) as f64 / u64::MAX as f64) < share,
        }
    }
}

/// A well-mixed hash of `n` (SplitMix64's finaliser): a reproducible
/// stand-in for a random draw.
fn splitmix64(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Injection {
    rule: Rule,
    matched: AtomicU64,
}

/// What went through the proxy since the last `take`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    pub requests: u64,
    /// Client connections accepted: with keep-alive working, about the
    /// client's concurrency, not its number of calls.
    pub connections: u64,
    #[serde(serialize_with = "calls_as_list")]
    pub calls: BTreeMap<Call, u64>,
    /// Answers other than 2xx, by operation and status.
    pub failures: BTreeMap<String, u64>,
    /// Requests refused because their region was down, by call.
    #[serde(serialize_with = "calls_as_list")]
    pub refused: BTreeMap<Call, u64>,
    /// Faults injected, by `<operation> <fault>`.
    pub faults: BTreeMap<String, u64>,
    /// Where the time went, by operation (all regions together).
    pub timing: BTreeMap<String, Timing>,
    /// When counting started: the origin of `Timing`'s times.
    #[serde(skip)]
    since: Option<Instant>,
    /// Answers other than 2xx (refusals included), by call.
    #[serde(skip)]
    answers_failed: BTreeMap<Call, u64>,
}

/// The time spent on one operation's calls.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Timing {
    /// Moto's time to answer them, summed, without the added latency.
    pub emulator_ms: f64,
    /// First request received, ms after counting started.
    pub first_ms: f64,
    /// Last answer sent, ms after counting started.
    pub last_ms: f64,
}

impl Timing {
    /// From the first request to the last answer: calls made one after
    /// another show as a long span, concurrent ones as a short one.
    pub fn span_ms(&self) -> f64 {
        self.last_ms - self.first_ms
    }
}

impl Tally {
    fn ms_since_start(&mut self, at: Instant) -> f64 {
        let since = *self.since.get_or_insert(at);
        at.saturating_duration_since(since).as_secs_f64() * 1000.0
    }

    fn received(&mut self, operation: &str, at: Instant) {
        let ms = self.ms_since_start(at);
        let fresh = !self.timing.contains_key(operation);
        let t = self.timing.entry(operation.to_string()).or_default();
        if fresh || ms < t.first_ms {
            t.first_ms = ms;
        }
    }

    fn answered(&mut self, operation: &str, emulator: Duration, at: Instant) {
        let ms = self.ms_since_start(at);
        let t = self.timing.entry(operation.to_string()).or_default();
        t.emulator_ms += emulator.as_secs_f64() * 1000.0;
        t.last_ms = t.last_ms.max(ms);
    }
}

impl Tally {
    /// Calls of `operation` in any region.
    pub fn count(&self, operation: &str) -> u64 {
        self.calls
            .iter()
            .filter(|(c, _)| c.operation == operation)
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests signed for `region`, forwarded or refused.
    pub fn in_region(&self, region: &str) -> u64 {
        self.calls
            .iter()
            .filter(|(c, _)| c.region == region)
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests for `region` that moto answered with a 2xx.
    pub fn succeeded_in(&self, region: &str) -> u64 {
        self.in_region(region) - self.failed_in(region)
    }

    fn failed_in(&self, region: &str) -> u64 {
        self.answers_failed
            .iter()
            .filter(|(c, _)| c.region == region)
            .map(|(_, n)| n)
            .sum()
    }
}

/// JSON objects need string keys: the calls go out as a list.
fn calls_as_list<S: serde::Serializer>(
    calls: &BTreeMap<Call, u64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Counted<'a> {
        #[serde(flatten)]
        call: &'a Call,
        count: u64,
    }
    serializer.collect_seq(calls.iter().map(|(call, &count)| Counted { call, count }))
}

struct Shared {
    upstream: String,
    latency: Duration,
    connect_latency: Duration,
    tally: Mutex<Tally>,
    down: Mutex<BTreeSet<String>>,
    faults: Mutex<Vec<Injection>>,
    rds_throttle: Mutex<Option<RdsThrottle>>,
}

/// RDS's API throttle: a bucket of `burst` calls per region, refilled at
/// `rate` a second.
struct RdsThrottle {
    burst: f64,
    rate: f64,
    regions: BTreeMap<String, (f64, Instant)>,
}

impl RdsThrottle {
    /// Whether a call to `region` now finds the bucket empty.
    fn refuses(&mut self, region: &str, now: Instant) -> bool {
        let (burst, rate) = (self.burst, self.rate);
        let (tokens, at) = self
            .regions
            .entry(region.to_string())
            .or_insert((burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            false
        } else {
            true
        }
    }
}

impl Shared {
    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The fault `call` gets: RDS's throttle if it is enforced and empty,
    /// else the first rule that picks it.
    fn fault_for(&self, call: &Call) -> Option<Fault> {
        let throttled = call.service == "rds"
            && self
                .rds_throttle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_mut()
                .is_some_and(|t| t.refuses(&call.region, Instant::now()));
        if throttled {
            self.count_fault(call, Fault::Throttle);
            return Some(Fault::Throttle);
        }
        let fault = self.rule_for(call)?;
        self.count_fault(call, fault);
        Some(fault)
    }

    fn count_fault(&self, call: &Call, fault: Fault) {
        *self
            .tally()
            .faults
            .entry(format!("{} {}", call.operation, fault.name()))
            .or_insert(0) += 1;
    }

    fn rule_for(&self, call: &Call) -> Option<Fault> {
        let faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        let fault = faults.iter().find_map(|f| {
            if !f.rule.matches(call) {
                return None;
            }
            let n = f.matched.fetch_add(1, Ordering::SeqCst) + 1;
            f.rule.hits(n).then_some(f.rule.fault)
        })?;
        Some(fault)
    }

    fn is_down(&self, region: &str) -> bool {
        self.down
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(region)
    }
}

/// A running proxy. Its threads live as long as the process.
pub struct Proxy {
    address: SocketAddr,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream`
    /// (`http://host:port`), holding each request for `latency` and each new
    /// connection for `connect_latency`.
    pub fn start(upstream: &str, latency: Duration, connect_latency: Duration) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let shared = Arc::new(Shared {
            upstream,
            latency,
            connect_latency,
            tally: Mutex::new(Tally::default()),
            down: Mutex::new(BTreeSet::new()),
            faults: Mutex::new(Vec::new()),
            rds_throttle: Mutex::new(None),
        });
        let accepting = shared.clone();
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let shared = accepting.clone();
                thread::spawn(move || {
                    // A connection that breaks ends its thread; the client
                    // sees the error and retries, as it would on a network.
                    let _ = serve(client, &shared);
                });
            }
        });
        Ok(Proxy { address, shared })
    }

    /// The URL to give a client as its endpoint.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn latency(&self) -> Duration {
        self.shared.latency
    }

    pub fn connect_latency(&self) -> Duration {
        self.shared.connect_latency
    }

    /// Takes `region` down: from now on no request signed for it reaches
    /// moto.
    pub fn take_down(&self, region: &str) {
        self.shared
            .down
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(region.to_string());
    }

    /// Brings `region` back.
    pub fn bring_up(&self, region: &str) {
        self.shared
            .down
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(region);
    }

    /// Adds a fault: from now on the calls `rule` picks get it. Rules are
    /// tried in the order they were added; a call gets the first fault
    /// that picks it.
    pub fn inject(&self, rule: Rule) {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Injection {
                rule,
                matched: AtomicU64::new(0),
            });
    }

    /// Enforces RDS's API throttle from now on: per region, `burst` calls,
    /// refilled at `rate` a second; a call that finds the bucket empty is
    /// answered `Throttling` and never reaches moto (and counts as a
    /// `throttle` fault).
    pub fn throttle_rds(&self, burst: u32, rate: f64) {
        *self
            .shared
            .rds_throttle
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(RdsThrottle {
            burst: f64::from(burst),
            rate,
            regions: BTreeMap::new(),
        });
    }

    /// Removes every fault: from now on calls go through untouched.
    pub fn heal(&self) {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// What was counted since the last call, and a fresh count from now.
    pub fn take(&self) -> Tally {
        let mut tally = self.shared.tally();
        let fresh = Tally {
            since: Some(Instant::now()),
            ..Tally::default()
        };
        std::mem::replace(&mut *tally, fresh)
    }
}

/// A request or response head: the start line and the header fields.
#[derive(Debug, Clone, PartialEq)]
struct Head {
    start: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// Reads a head; `None` on a clean end of stream before its first byte.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut start = String::new();
    // Tolerate blank lines between messages (RFC 9112, 2.2).
    loop {
        if reader.read_line(&mut start)? == 0 {
            return Ok(None);
        }
        if !start.trim().is_empty() {
            break;
        }
        start.clear();
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(invalid("connection closed inside a message head"));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("malformed header line {line:?}")))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok(Some(Head {
        start: start.trim_end().to_string(),
        headers,
    }))
}

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Framing {
    Empty,
    Length(usize),
    Chunked,
    UntilClose,
}

fn framing(headers: &[(String, String)], otherwise: Framing) -> io::Result<Framing> {
    if header(headers, "transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"))
    {
        return Ok(Framing::Chunked);
    }
    match header(headers, "content-length") {
        Some(n) => n
            .trim()
            .parse()
            .map(Framing::Length)
            .map_err(|_| invalid(format!("bad Content-Length {n:?}"))),
        None => Ok(otherwise),
    }
}

fn read_body(reader: &mut impl BufRead, framing: Framing) -> io::Result<Vec<u8>> {
    match framing {
        Framing::Empty => Ok(Vec::new()),
        Framing::Length(n) => {
            let mut body = vec![0; n];
            reader.read_exact(&mut body)?;
            Ok(body)
        }
        Framing::UntilClose => {
            let mut body = Vec::new();
            reader.read_to_end(&mut body)?;
            Ok(body)
        }
        Framing::Chunked => read_chunked(reader),
    }
}

/// Decodes a `Transfer-Encoding: chunked` body; trailers are dropped.
fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(invalid("connection closed inside a chunked body"));
        }
        let size = line.trim().split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| invalid(format!("bad chunk size line {line:?}")))?;
        if size == 0 {
            loop {
                let mut trailer = String::new();
                if reader.read_line(&mut trailer)? == 0 || trailer.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let from = body.len();
        body.resize(from + size, 0);
        reader.read_exact(&mut body[from..])?;
        let mut crlf = [0; 2];
        reader.read_exact(&mut crlf)?;
    }
}

/// Connection-level fields the proxy owns on each side.
fn is_hop_by_hop(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "expect",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

/// A message with its body re-framed by `Content-Length`. `keep_length`
/// keeps the original `Content-Length` (the answer to a HEAD request
/// describes a body it does not carry).
fn encode(start: &str, headers: &[(String, String)], body: &[u8], keep_length: bool) -> Vec<u8> {
    let mut out = String::with_capacity(256 + body.len());
    out.push_str(start);
    out.push_str("\r\n");
    for (k, v) in headers {
        if is_hop_by_hop(k) || (!keep_length && k.eq_ignore_ascii_case("content-length")) {
            continue;
        }
        out.push_str(k);
        out.push_str(": ");
        out.push_str(v);
        out.push_str("\r\n");
    }
    if !keep_length {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn wants_close(head: &Head) -> bool {
    let close = head
        .header("connection")
        .is_some_and(|c| c.to_ascii_lowercase().contains("close"));
    close || head.start.ends_with("HTTP/1.0") || head.start.starts_with("HTTP/1.0")
}

/// The keep-alive connection to moto of one client connection.
struct Upstream {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Upstream {
    fn connect(address: &str) -> io::Result<Self> {
        let stream = TcpStream::connect(address)?;
        stream.set_nodelay(true)?;
        Ok(Upstream {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }
}

/// An answer from moto.
struct Response {
    head: Head,
    body: Vec<u8>,
    /// Moto closes the connection after this answer.
    closes: bool,
}

impl Response {
    fn status(&self) -> u16 {
        self.head
            .start
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }
}

fn exchange(upstream: &mut Upstream, request: &[u8], head_request: bool) -> io::Result<Response> {
    upstream.writer.write_all(request)?;
    loop {
        let head = read_head(&mut upstream.reader)?
            .ok_or_else(|| invalid("moto closed the connection without answering"))?;
        let status: u16 = head
            .start
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid(format!("no status in {:?}", head.start)))?;
        if (100..200).contains(&status) {
            continue;
        }
        let framing = if head_request || status == 204 || status == 304 {
            Framing::Empty
        } else {
            framing(&head.headers, Framing::UntilClose)?
        };
        let body = read_body(&mut upstream.reader, framing)?;
        let closes = framing == Framing::UntilClose || wants_close(&head);
        return Ok(Response { head, body, closes });
    }
}

/// Serves one client connection until it closes.
fn serve(client: TcpStream, shared: &Shared) -> io::Result<()> {
    shared.tally().connections += 1;
    if !shared.connect_latency.is_zero() {
        thread::sleep(shared.connect_latency);
    }
    client.set_nodelay(true)?;
    let mut writer = client.try_clone()?;
    let mut reader = BufReader::new(client);
    let mut upstream: Option<Upstream> = None;
    while let Some(head) = read_head(&mut reader)? {
        if head
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
        {
            writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let body = read_body(&mut reader, framing(&head.headers, Framing::Empty)?)?;
        let mut parts = head.start.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let call = classify(&method, &target, &head.headers, &body);
        {
            let mut tally = shared.tally();
            tally.requests += 1;
            *tally.calls.entry(call.clone()).or_insert(0) += 1;
            tally.received(&call.operation, Instant::now());
        }
        if !shared.latency.is_zero() {
            thread::sleep(shared.latency);
        }
        if shared.is_down(&call.region) {
            {
                let mut tally = shared.tally();
                *tally.refused.entry(call.clone()).or_insert(0) += 1;
                *tally.answers_failed.entry(call.clone()).or_insert(0) += 1;
            }
            let message = format!(
                "<Error><Code>RegionUnavailable</Code><Message>{} is down (the test proxy refuses every request for it)</Message></Error>",
                call.region
            );
            writer.write_all(&encode(
                "HTTP/1.1 503 Service Unavailable",
                &[("Content-Type".to_string(), "text/xml".to_string())],
                message.as_bytes(),
                false,
            ))?;
            continue;
        }

        let fault = shared.fault_for(&call);
        match fault {
            Some(Fault::Reset) => {
                *shared
                    .tally()
                    .answers_failed
                    .entry(call.clone())
                    .or_insert(0) += 1;
                return Ok(());
            }
            Some(Fault::EntriesRefused) => {
                writer.write_all(&encode(
                    "HTTP/1.1 200 OK",
                    &[(
                        "Content-Type".to_string(),
                        "application/x-amz-json-1.1".to_string(),
                    )],
                    refused_entries(&body).as_bytes(),
                    false,
                ))?;
                continue;
            }
            Some(f @ (Fault::Throttle | Fault::ServerError)) => {
                let (status, content_type, body) = error_answer(f, &call, &head);
                {
                    let mut tally = shared.tally();
                    *tally.answers_failed.entry(call.clone()).or_insert(0) += 1;
                    *tally
                        .failures
                        .entry(format!("{} HTTP {}", call.operation, &status[..3]))
                        .or_insert(0) += 1;
                }
                writer.write_all(&encode(
                    &format!("HTTP/1.1 {status}"),
                    &[("Content-Type".to_string(), content_type.to_string())],
                    body.as_bytes(),
                    false,
                ))?;
                continue;
            }
            _ => {}
        }

        let request = encode(
            &format!("{method} {target} HTTP/1.1"),
            &head.headers,
            &body,
            false,
        );
        let head_request = method.eq_ignore_ascii_case("HEAD");
        let sent = Instant::now();
        // A kept-alive connection to moto may have been closed while idle;
        // then the request never reached it, and one retry on a fresh
        // connection is safe.
        let response = match upstream.as_mut() {
            Some(up) => match exchange(up, &request, head_request) {
                Ok(r) => Ok(r),
                Err(_) => {
                    let mut fresh = Upstream::connect(&shared.upstream)?;
                    let r = exchange(&mut fresh, &request, head_request);
                    upstream = Some(fresh);
                    r
                }
            },
            None => {
                let mut fresh = Upstream::connect(&shared.upstream)?;
                let r = exchange(&mut fresh, &request, head_request);
                upstream = Some(fresh);
                r
            }
        };
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                let message = format!("proxy: moto did not answer: {e}");
                writer.write_all(&encode(
                    "HTTP/1.1 502 Bad Gateway",
                    &[],
                    message.as_bytes(),
                    false,
                ))?;
                {
                    let mut tally = shared.tally();
                    *tally
                        .failures
                        .entry(format!("{} HTTP 502", call.operation))
                        .or_insert(0) += 1;
                    *tally.answers_failed.entry(call.clone()).or_insert(0) += 1;
                }
                upstream = None;
                continue;
            }
        };
        let status = response.status();
        {
            // Recorded before the answer goes out, so a client that has
            // its answer finds the call fully counted.
            let mut tally = shared.tally();
            tally.answered(&call.operation, sent.elapsed(), Instant::now());
            if !(200..300).contains(&status) {
                *tally.answers_failed.entry(call.clone()).or_insert(0) += 1;
                *tally
                    .failures
                    .entry(format!("{} HTTP {status}", call.operation))
                    .or_insert(0) += 1;
            }
        }
        match fault {
            // moto did the work; the client never hears of it.
            Some(Fault::LostAnswer) => return Ok(()),
            Some(Fault::Slow(hold)) => thread::sleep(hold),
            _ => {}
        }
        if response.closes {
            upstream = None;
        }
        let start = match response.head.start.split_once(' ') {
            Some((_, rest)) => format!("HTTP/1.1 {rest}"),
            None => response.head.start.clone(),
        };
        writer.write_all(&encode(
            &start,
            &response.head.headers,
            &response.body,
            head_request,
        ))?;
        if wants_close(&head) {
            return Ok(());
        }
    }
    Ok(())
}

/// The answer a service gives for `fault`: status line, content type and
/// body, in the protocol the request spoke (S3's REST XML, the JSON
/// protocol's `__type`, the query protocol's `ErrorResponse`).
fn error_answer(fault: Fault, call: &Call, head: &Head) -> (&'static str, &'static str, String) {
    let throttle = fault == Fault::Throttle;
    if call.service == "s3" {
        let (status, code, message) = if throttle {
            (
                "503 Slow Down",
                "SlowDown",
                "Please reduce your request rate.",
            )
        } else {
            (
                "500 Internal Server Error",
                "InternalError",
                "We encountered an internal error. Please try again.",
            )
        };
        let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>lifeboat-proxy</RequestId><HostId>lifeboat-proxy</HostId></Error>");
        return (status, "application/xml", body);
    }
    let (status, code, message) = if throttle {
        ("400 Bad Request", "Throttling", "Rate exceeded")
    } else {
        (
            "500 Internal Server Error",
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    };
    if head.header("x-amz-target").is_some() {
        let code = if throttle {
            "ThrottlingException"
        } else {
            "InternalException"
        };
        let body = serde_json::json!({ "__type": code, "message": message }).to_string();
        return (status, "application/x-amz-json-1.1", body);
    }
    let kind = if throttle { "Sender" } else { "Receiver" };
    let body = format!("<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>lifeboat-proxy</RequestId></ErrorResponse>");
    (status, "text/xml", body)
}

/// A `PutEvents` answer in which every entry of the request `body` failed.
fn refused_entries(body: &[u8]) -> String {
    let request: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let n = request["Entries"].as_array().map_or(0, Vec::len);
    let entry = serde_json::json!({
        "ErrorCode": "ThrottlingException",
        "ErrorMessage": "Rate exceeded (refused by the test proxy)",
    });
    serde_json::json!({ "FailedEntryCount": n, "Entries": vec![entry; n] }).to_string()
}

/// Names the AWS operation of a request: query protocol (`Action=` in the
/// form body or the query string), JSON protocol (`X-Amz-Target`), or S3's
/// REST protocol (method and path shape).
pub fn classify(method: &str, target: &str, headers: &[(String, String)], body: &[u8]) -> Call {
    let (service, region) = header(headers, "authorization")
        .and_then(credential_scope)
        .unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let operation = if let Some(t) = header(headers, "x-amz-target") {
        t.rsplit('.').next().unwrap_or(t).to_string()
    } else if let Some(action) = form_value(query, "Action").or_else(|| {
        let form = header(headers, "content-type")
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        form.then(|| form_value(&String::from_utf8_lossy(body), "Action"))
            .flatten()
    }) {
        action
    } else if service == "s3" {
        s3_operation(method, path, query, headers)
    } else if service == "lambda" && method == "POST" && path.ends_with("/invocations") {
        // Lambda's REST protocol: POST /2015-03-31/functions/<name>/invocations.
        "Invoke".to_string()
    } else {
        format!("{method} {path}")
    };
    Call {
        service,
        region,
        operation,
    }
}

/// `(service, region)` from `Credential=AKID/date/region/service/aws4_request`.
fn credential_scope(authorization: &str) -> Option<(String, String)> {
    let credential = authorization.split("Credential=").nth(1)?;
    let scope = credential.split([',', ' ']).next()?;
    let parts: Vec<&str> = scope.split('/').collect();
    match parts.as_slice() {
        [_, _, region, service, "aws4_request"] => Some((service.to_string(), region.to_string())),
        _ => None,
    }
}

fn form_value(form: &str, name: &str) -> Option<String> {
    form.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// S3's REST operations as path-style requests show them.
fn s3_operation(method: &str, path: &str, query: &str, headers: &[(String, String)]) -> String {
    let mut segments = path.trim_start_matches('/').splitn(2, '/');
    let bucket = segments.next().unwrap_or_default();
    let key = segments.next().unwrap_or_default();
    let has = |name: &str| {
        query
            .split('&')
            .any(|p| p == name || p.starts_with(&format!("{name}=")))
    };
    let op = match (method, bucket.is_empty(), key.is_empty()) {
        ("GET", true, _) => "ListBuckets",
        ("PUT", false, false) if header(headers, "x-amz-copy-source").is_some() => "CopyObject",
        ("PUT", false, false) if has("partNumber") => "UploadPart",
        ("PUT", false, false) if has("tagging") => "PutObjectTagging",
        ("PUT", false, false) => "PutObject",
        ("PUT", false, true) if query.is_empty() => "CreateBucket",
        ("GET", false, false) => "GetObject",
        ("GET", false, true) if has("list-type") => "ListObjectsV2",
        ("GET", false, true) if has("versions") => "ListObjectVersions",
        ("GET", false, true) if query.is_empty() || has("prefix") || has("marker") => "ListObjects",
        ("HEAD", false, false) => "HeadObject",
        ("HEAD", false, true) => "HeadBucket",
        ("DELETE", false, false) => "DeleteObject",
        ("DELETE", false, true) if query.is_empty() => "DeleteBucket",
        ("POST", false, true) if has("delete") => "DeleteObjects",
        ("POST", false, false) if has("uploads") => "CreateMultipartUpload",
        ("POST", false, false) if has("uploadId") => "CompleteMultipartUpload",
        _ => {
            let what = if key.is_empty() { "bucket" } else { "object" };
            let sub = query.split(['=', '&']).next().unwrap_or_default();
            return format!("{method} {what}?{sub}");
        }
    };
    op.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn headers(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn auth(region: &str, service: &str) -> String {
        format!("AWS4-HMAC-SHA256 Credential=AKIA/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0")
    }

    #[test]
    fn query_protocol_calls_are_named_by_their_action() {
        let h = headers(&[
            ("Authorization", &auth("us-west-2", "rds")),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ]);
        let call = classify(
            "POST",
            "/",
            &h,
            b"Action=CopyDBSnapshot&Version=2014-10-31&SourceDBSnapshotIdentifier=x",
        );
        assert_eq!(
            call,
            Call {
                service: "rds".into(),
                region: "us-west-2".into(),
                operation: "CopyDBSnapshot".into()
            }
        );
    }

    #[test]
    fn json_protocol_calls_are_named_by_their_target() {
        let h = headers(&[
            ("authorization", &auth("us-east-1", "events")),
            ("x-amz-target", "AWSEvents.PutEvents"),
        ]);
        assert_eq!(classify("POST", "/", &h, b"{}").operation, "PutEvents");
    }

    #[test]
    fn s3_calls_are_named_by_method_and_path() {
        let s3 = headers(&[("Authorization", &auth("us-east-1", "s3"))]);
        let op = |method, target| classify(method, target, &s3, b"").operation;
        assert_eq!(op("PUT", "/bucket/snapshots/a/b.json"), "PutObject");
        assert_eq!(
            op("PUT", "/bucket/snapshots/a/b.json?x-id=PutObject"),
            "PutObject"
        );
        assert_eq!(op("PUT", "/bucket"), "CreateBucket");
        assert_eq!(op("GET", "/bucket?list-type=2&prefix=x"), "ListObjectsV2");
        assert_eq!(op("GET", "/bucket/k?x-id=GetObject"), "GetObject");
        assert_eq!(op("HEAD", "/bucket/k"), "HeadObject");
        assert_eq!(op("DELETE", "/bucket/k"), "DeleteObject");
        assert_eq!(op("POST", "/bucket?delete"), "DeleteObjects");
        assert_eq!(op("PUT", "/bucket?versioning"), "PUT bucket?versioning");
    }

    #[test]
    fn a_share_of_calls_is_the_same_share_in_every_run() {
        let rule = Rule::new(Fault::Throttle).share(0.2);
        let hits = (1..=10_000).filter(|n| rule.hits(*n)).count();
        assert!((1_800..2_200).contains(&hits), "{hits} of 10000");
        let again = (1..=10_000).filter(|n| rule.hits(*n)).count();
        assert_eq!(hits, again);
        assert!(Rule::new(Fault::Reset).nth(3).hits(3));
        assert!(!Rule::new(Fault::Reset).nth(3).hits(4));
    }

    #[test]
    fn faults_are_answered_in_each_protocol_s_own_words() {
        let call = |service: &str| Call {
            service: service.into(),
            region: "us-east-1".into(),
            operation: "X".into(),
        };
        let plain = Head {
            start: "POST / HTTP/1.1".into(),
            headers: vec![],
        };
        let json = Head {
            start: "POST / HTTP/1.1".into(),
            headers: headers(&[("X-Amz-Target", "AWSEvents.PutEvents")]),
        };
        let (status, _, body) = error_answer(Fault::Throttle, &call("rds"), &plain);
        assert_eq!(status, "400 Bad Request");
        assert!(body.contains("<Code>Throttling</Code><Message>Rate exceeded</Message>"));
        let (status, _, body) = error_answer(Fault::Throttle, &call("s3"), &plain);
        assert_eq!(status, "503 Slow Down");
        assert!(body.contains("<Code>SlowDown</Code>"));
        let (status, _, body) = error_answer(Fault::Throttle, &call("events"), &json);
        assert_eq!(status, "400 Bad Request");
        assert!(body.contains(r#""__type":"ThrottlingException""#));
        let (status, _, body) = error_answer(Fault::ServerError, &call("rds"), &plain);
        assert_eq!(status, "500 Internal Server Error");
        assert!(body.contains("<Code>InternalFailure</Code>"));
    }

    #[test]
    fn chunked_bodies_are_decoded() {
        let wire =
            b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32: AAAA\r\n\r\nNEXT";
        let mut reader = BufReader::new(&wire[..]);
        assert_eq!(read_chunked(&mut reader).unwrap(), b"hello world");
        let mut rest = String::new();
        reader.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "NEXT");
    }

    #[test]
    fn messages_are_reframed_by_length_without_hop_by_hop_fields() {
        let h = headers(&[
            ("Host", "127.0.0.1:1"),
            ("Transfer-Encoding", "chunked"),
            ("Expect", "100-continue"),
            ("Connection", "keep-alive"),
            ("X-Amz-Date", "20260101T000000Z"),
        ]);
        let out = String::from_utf8(encode("PUT /b/k HTTP/1.1", &h, b"abc", false)).unwrap();
        assert_eq!(
            out,
            "PUT /b/k HTTP/1.1\r\nHost: 127.0.0.1:1\r\nX-Amz-Date: 20260101T000000Z\r\nContent-Length: 3\r\n\r\nabc"
        );
    }

    /// A stand-in for moto: answers each request on a keep-alive
    /// connection, alternating chunked and sized responses.
    fn echo_server() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                thread::spawn(move || {
                    let mut writer = stream.try_clone().unwrap();
                    let mut reader = BufReader::new(stream);
                    let mut n = 0;
                    while let Ok(Some(head)) = read_head(&mut reader) {
                        let f = framing(&head.headers, Framing::Empty).unwrap();
                        let body = read_body(&mut reader, f).unwrap();
                        let answer = format!("{} got {}", head.start, body.len());
                        n += 1;
                        let reply = if n % 2 == 0 {
                            format!(
                                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{answer}\r\n0\r\n\r\n",
                                answer.len()
                            )
                        } else {
                            format!(
                                "HTTP/1.1 412 Precondition Failed\r\nContent-Length: {}\r\n\r\n{answer}",
                                answer.len()
                            )
                        };
                        writer.write_all(reply.as_bytes()).unwrap();
                    }
                });
            }
        });
        format!("http://{address}")
    }

    #[test]
    fn the_proxy_forwards_counts_and_keeps_connections_alive() {
        let upstream = echo_server();
        let proxy = Proxy::start(&upstream, Duration::ZERO, Duration::ZERO).unwrap();
        let stream = TcpStream::connect(proxy.url().trim_start_matches("http://")).unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let s3 = auth("us-east-1", "s3");

        // A chunked upload that waits for 100 Continue, as S3 clients may.
        let put = format!(
            "PUT /bucket/key HTTP/1.1\r\nHost: x\r\nAuthorization: {s3}\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        writer.write_all(put.as_bytes()).unwrap();
        let continued = read_head(&mut reader).unwrap().unwrap();
        assert_eq!(continued.start, "HTTP/1.1 100 Continue");
        writer
            .write_all(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            .unwrap();
        let first = read_head(&mut reader).unwrap().unwrap();
        assert!(first.start.starts_with("HTTP/1.1 412"), "{first:?}");
        let f = framing(&first.headers, Framing::Empty).unwrap();
        let body = read_body(&mut reader, f).unwrap();
        assert_eq!(body, b"PUT /bucket/key HTTP/1.1 got 5");

        // The same connection again; moto's chunked answer arrives sized.
        let rds = auth("us-west-2", "rds");
        let form = "Action=DescribeDBSnapshots&Version=2014-10-31";
        let post = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: {rds}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        );
        writer.write_all(post.as_bytes()).unwrap();
        let second = read_head(&mut reader).unwrap().unwrap();
        assert_eq!(second.start, "HTTP/1.1 200 OK");
        assert_eq!(second.header("transfer-encoding"), None);
        let f = framing(&second.headers, Framing::Empty).unwrap();
        let body = read_body(&mut reader, f).unwrap();
        assert_eq!(
            body,
            format!("POST / HTTP/1.1 got {}", form.len()).as_bytes()
        );

        drop(writer);
        drop(reader);
        // The tally is written before the answer is sent.
        let tally = proxy.take();
        assert_eq!(tally.requests, 2);
        assert_eq!(tally.connections, 1);
        assert_eq!(tally.count("PutObject"), 1);
        assert_eq!(tally.count("DescribeDBSnapshots"), 1);
        assert_eq!(tally.failures.get("PutObject HTTP 412"), Some(&1));
        assert_eq!(proxy.take().requests, 0);
    }
}
