//! The AWS emulator the tests and the demo talk to: moto's server on
//! 127.0.0.1, over real HTTP.
//!
//! `scripts/test` starts one and exports its address as
//! `LIFEBOAT_TEST_ENDPOINT`; without it (plain `cargo test`), the first test
//! that needs it starts one from the project's `.venv`. A test that cannot
//! reach or start moto fails; it is never skipped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const ENDPOINT_VAR: &str = "LIFEBOAT_TEST_ENDPOINT";

static ENDPOINT: OnceLock<String> = OnceLock::new();

/// The emulator's base URL, e.g. `http://127.0.0.1:45123`.
pub fn endpoint() -> &'static str {
    ENDPOINT.get_or_init(|| match std::env::var(ENDPOINT_VAR) {
        Ok(url) if !url.is_empty() => {
            wait_until_up(&url, Duration::from_secs(30))
                .unwrap_or_else(|e| panic!("{ENDPOINT_VAR}={url} but moto is not answering: {e}"));
            url
        }
        _ => {
            let (url, child) = start();
            // Leaked on purpose: its stdin pipe must stay open until this
            // process ends, and then closing it stops moto (see `start`).
            Box::leak(Box::new(child));
            url
        }
    })
}

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// Starts moto on a free port. The server lives as long as this process: it
/// is started through a shell that kills it when our end of its stdin closes,
/// which happens however this process ends.
pub fn start() -> (String, Child) {
    let server = repo_root().join(".venv/bin/moto_server");
    assert!(
        server.exists(),
        "{} not found: run scripts/bootstrap (scripts/test does) to install the pinned moto",
        server.display()
    );
    let port = free_port();
    let script = format!(
        "'{}' -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; cat >/dev/null; kill $pid",
        server.display()
    );
    let child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("MOTO_ALLOW_NONEXISTENT_REGION", "false")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start moto: {e}"));
    let url = format!("http://127.0.0.1:{port}");
    wait_until_up(&url, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("moto did not start on {url}: {e}"));
    (url, child)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("find a free port: {e}"))
}

fn wait_until_up(url: &str, patience: Duration) -> Result<(), String> {
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < patience {
        // The dashboard: it answers whatever the state (`data.json` dumps
        // all of it, slowly, and fails on some of moto's RDS models).
        match http("GET", url, "/moto-api/", &[], "") {
            Ok((200, _)) => return Ok(()),
            Ok((status, _)) => last = format!("HTTP {status}"),
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(last)
}

/// A minimal HTTP/1.1 request, for the few calls to moto that no SDK client
/// makes (account set-up). Returns status and body.
pub fn http(
    method: &str,
    url: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(u16, String), String> {
    let host = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no HTTP status in {response:?}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}
