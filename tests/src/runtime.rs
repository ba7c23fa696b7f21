//! A local Lambda Runtime API: runs a function binary the way Lambda does.
//!
//! The binary is started with `AWS_LAMBDA_RUNTIME_API` pointing here and
//! long-polls `GET /2018-06-01/runtime/invocation/next`; each event is handed
//! out as the answer to one poll and its result comes back as
//! `POST .../invocation/<id>/response` or `.../error`. The timings are the
//! ones Lambda bills and reports: init is process start to the first poll,
//! handler time is event handed out to result received.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

const API: &str = "/2018-06-01/runtime";
/// How long one invocation may take before the run is declared stuck.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(300);

/// What one invocation returned.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub event: Value,
    /// `Ok(response)` or `Err(error body)` with `errorType`/`errorMessage`.
    pub result: Result<Value, Value>,
    pub handler_time: Duration,
}

impl Invocation {
    pub fn error_message(&self) -> String {
        match &self.result {
            Ok(_) => String::new(),
            Err(e) => format!(
                "{}: {}",
                e["errorType"].as_str().unwrap_or_default(),
                e["errorMessage"].as_str().unwrap_or_default()
            ),
        }
    }
}

/// Everything a run of a binary showed.
#[derive(Debug, Clone)]
pub struct Run {
    /// Process start to first poll of the runtime API; `None` if the process
    /// never polled (it failed at start-up).
    pub init_time: Option<Duration>,
    pub invocations: Vec<Invocation>,
    /// Peak resident set size of the process, KiB (`VmHWM`).
    pub peak_rss_kib: Option<u64>,
    /// An `/init/error` report, or the exit status of a process that ended
    /// before polling.
    pub init_error: Option<String>,
    /// What the function logged (stdout and stderr).
    pub logs: String,
}

#[derive(Default)]
struct State {
    /// The Lambda timeout each invocation gets: its deadline is handed out
    /// with it (`Lambda-Runtime-Deadline-Ms`).
    timeout: Duration,
    queue: Vec<(String, Value)>,
    handed_out: HashMap<String, Instant>,
    results: HashMap<String, (Result<Value, Value>, Duration)>,
    first_poll: Option<Instant>,
    init_error: Option<String>,
    shutdown: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

/// Runs `binary` with `env` and hands it `events` one at a time, in order.
pub fn run_function(binary: &Path, env: &[(String, String)], events: &[Value]) -> Run {
    run_chained(binary, env, INVOCATION_TIMEOUT, events.to_vec(), |_| None)
}

/// Runs `binary` with `env`, handing it `events` one at a time, then what
/// `next` makes of each invocation (a run's continuation, as the runs state
/// machine hands it back), each invocation with `timeout` as its Lambda
/// timeout (its deadline: when it is handed out, plus that).
pub fn run_chained(
    binary: &Path,
    env: &[(String, String)],
    timeout: Duration,
    events: Vec<Value>,
    mut next: impl FnMut(&Invocation) -> Option<Value>,
) -> Run {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the runtime API");
    let address = listener.local_addr().expect("runtime API address");
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            timeout,
            ..State::default()
        }),
        changed: Condvar::new(),
    });
    {
        let shared = shared.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                thread::spawn(move || serve(stream, &shared));
            }
        });
    }

    let name = binary
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("function")
        .to_string();
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
    let logs = collect_output(&mut child);

    let mut run = Run {
        init_time: None,
        invocations: Vec::new(),
        peak_rss_kib: None,
        init_error: None,
        logs: String::new(),
    };

    // Wait for the first poll, an init error, or the process to end.
    loop {
        let state = lock(&shared);
        if let Some(at) = state.first_poll {
            run.init_time = Some(at - started);
            break;
        }
        if let Some(err) = &state.init_error {
            run.init_error = Some(err.clone());
            break;
        }
        drop(state);
        if let Ok(Some(status)) = child.try_wait() {
            run.init_error = Some(format!("process exited before polling: {status}"));
            break;
        }
        assert!(
            started.elapsed() < INVOCATION_TIMEOUT,
            "{name} never polled the runtime API"
        );
        thread::sleep(Duration::from_millis(2));
    }

    if run.init_error.is_none() {
        let mut pending: std::collections::VecDeque<Value> = events.into();
        let mut n = 0;
        while let Some(event) = pending.pop_front() {
            let id = format!("00000000-0000-4000-8000-{n:012}");
            let mut state = lock(&shared);
            state.queue.push((id.clone(), event.clone()));
            shared.changed.notify_all();
            // Lambda ends an invocation at its deadline; a function still
            // busy a minute later is stuck.
            let stuck = timeout + Duration::from_secs(60);
            let deadline = Instant::now() + stuck;
            let (result, handler_time) = loop {
                if let Some(done) = state.results.remove(&id) {
                    break done;
                }
                if Instant::now() > deadline {
                    panic!("{name}: invocation {n} took longer than {stuck:?}");
                }
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("{name} exited during invocation {n}: {status}");
                }
                state = shared
                    .changed
                    .wait_timeout(state, Duration::from_millis(20))
                    .map(|(s, _)| s)
                    .unwrap_or_else(|e| e.into_inner().0);
            };
            drop(state);
            let invocation = Invocation {
                event,
                result,
                handler_time,
            };
            pending.extend(next(&invocation));
            run.invocations.push(invocation);
            n += 1;
        }
        run.peak_rss_kib = peak_rss_kib(child.id());
    }

    lock(&shared).shutdown = true;
    shared.changed.notify_all();
    let _ = child.kill();
    let _ = child.wait();
    run.logs = logs.join().unwrap_or_default();
    run
}

/// Builds the debug `lifeboat-<function>` and runs it with `env` and
/// `events`, off the async runtime's threads.
pub async fn run_debug(function: &str, env: Vec<(String, String)>, events: Vec<Value>) -> Run {
    let binary = crate::binaries::function(function, false);
    tokio::task::spawn_blocking(move || run_function(&binary, &env, &events))
        .await
        .unwrap_or_else(|e| panic!("running lifeboat-{function}: {e}"))
}

impl Run {
    /// Every invocation's response, in order. Panics, naming the event and
    /// showing the function's logs, if start-up or any invocation failed.
    pub fn responses(&self, names: &[String]) -> Vec<&Value> {
        assert!(
            self.init_error.is_none(),
            "init failed: {:?}\n{}",
            self.init_error,
            self.logs
        );
        assert_eq!(self.invocations.len(), names.len());
        self.invocations
            .iter()
            .zip(names)
            .map(|(i, name)| {
                i.result
                    .as_ref()
                    .unwrap_or_else(|_| panic!("{name}: {}\n{}", i.error_message(), self.logs))
            })
            .collect()
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    shared.state.lock().unwrap_or_else(|e| e.into_inner())
}

fn collect_output(child: &mut Child) -> thread::JoinHandle<String> {
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    thread::spawn(move || {
        let err_reader = thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut s) = stderr {
                let _ = s.read_to_string(&mut text);
            }
            text
        });
        let mut text = String::new();
        if let Some(mut s) = stdout {
            let _ = s.read_to_string(&mut text);
        }
        text.push_str(&err_reader.join().unwrap_or_default());
        text
    })
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Serves one keep-alive connection from the runtime client.
fn serve(stream: TcpStream, shared: &Shared) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let reply = route(&request.method, &request.path, &request.body, shared);
        if writer.write_all(&reply).is_err() {
            return;
        }
    }
}

/// One HTTP/1.1 request as a small local server reads it.
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
}

/// The next request on a keep-alive connection, or `None` once it is
/// closed (or cannot be read).
pub fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return None;
    }
    let mut content_length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                content_length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; content_length];
    reader.read_exact(&mut body).ok()?;
    let mut parts = request_line.split_whitespace();
    Some(Request {
        method: parts.next().unwrap_or_default().to_string(),
        path: parts.next().unwrap_or_default().to_string(),
        body,
    })
}

fn route(method: &str, path: &str, body: &[u8], shared: &Shared) -> Vec<u8> {
    let rest = path.strip_prefix(API).unwrap_or(path);
    if method == "GET" && rest == "/invocation/next" {
        let mut state = lock(shared);
        state.first_poll.get_or_insert_with(Instant::now);
        loop {
            if state.shutdown {
                return http(500, &[], b"{\"errorMessage\":\"shutting down\"}");
            }
            if !state.queue.is_empty() {
                let (id, event) = state.queue.remove(0);
                state.handed_out.insert(id.clone(), Instant::now());
                let deadline = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() + state.timeout.as_millis())
                    .unwrap_or_default()
                    .to_string();
                let headers = [
                    ("Lambda-Runtime-Aws-Request-Id", id.as_str()),
                    ("Lambda-Runtime-Deadline-Ms", deadline.as_str()),
                    (
                        "Lambda-Runtime-Invoked-Function-Arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:local",
                    ),
                    (
                        "Lambda-Runtime-Trace-Id",
                        "Root=1-00000000-000000000000000000000000;Sampled=0",
                    ),
                ];
                return http(200, &headers, event.to_string().as_bytes());
            }
            state = shared
                .changed
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
    if method == "POST" && rest == "/init/error" {
        lock(shared).init_error = Some(String::from_utf8_lossy(body).into_owned());
        shared.changed.notify_all();
        return http(202, &[], b"{\"status\":\"OK\"}");
    }
    if method == "POST" {
        if let Some(tail) = rest.strip_prefix("/invocation/") {
            if let Some((id, outcome)) = tail.split_once('/') {
                let parsed: Value = serde_json::from_slice(body)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
                let result = if outcome == "response" {
                    Ok(parsed)
                } else {
                    Err(parsed)
                };
                let mut state = lock(shared);
                let took = state
                    .handed_out
                    .remove(id)
                    .map(|t| t.elapsed())
                    .unwrap_or_default();
                state.results.insert(id.to_string(), (result, took));
                shared.changed.notify_all();
                return http(202, &[], b"{\"status\":\"OK\"}");
            }
        }
    }
    http(404, &[], b"{\"errorMessage\":\"not found\"}")
}

fn http(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        202 => "Accepted",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}
