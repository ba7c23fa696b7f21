//! A stand-in for the user's drill validator: a local endpoint that answers
//! Lambda's `Invoke` (`POST /2015-03-31/functions/<name>/invocations`) as
//! the user's function would, with a given answer, and keeps what it was
//! sent. moto cannot run a Lambda function, and the validator is the
//! user's own code: what Lifeboat owes it is the call and the reading of
//! its answer, which this exercises through the real SDK client.

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use serde_json::Value;

use crate::runtime::read_request;

/// One invocation received: the function named, and its payload.
pub type Received = (String, Value);

pub struct ValidatorStandIn {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl ValidatorStandIn {
    /// Answers every invocation with `answer`; with `raises`, as a function
    /// that raised an error (`X-Amz-Function-Error: Unhandled`).
    pub fn start(answer: Value, raises: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the validator stand-in");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = received.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (answer, kept) = (answer.clone(), kept.clone());
                thread::spawn(move || serve(stream, &answer, raises, &kept));
            }
        });
        ValidatorStandIn { url, received }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

fn serve(stream: TcpStream, answer: &Value, raises: bool, kept: &Mutex<Vec<Received>>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let function = request
            .path
            .strip_prefix("/2015-03-31/functions/")
            .and_then(|rest| rest.strip_suffix("/invocations"))
            .unwrap_or_default()
            .to_string();
        let payload = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        kept.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((function, payload));
        let body = answer.to_string();
        let error = if raises {
            "X-Amz-Function-Error: Unhandled\r\n"
        } else {
            ""
        };
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Amz-Executed-Version: $LATEST\r\n{error}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}
