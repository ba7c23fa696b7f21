//! The skeleton every event parser shares: the payload must be a JSON
//! object; `{}` is the empty request; `detail-type` names an EventBridge
//! event; a manual request is known by its fields; anything else is refused
//! with the fields it had and the forms the function accepts.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::Error;

/// An incoming event's top level, and the forms its function accepts (for
/// the errors).
#[derive(Debug, Clone, Copy)]
pub struct Payload<'a> {
    pub value: &'a Value,
    pub object: &'a Map<String, Value>,
    accepted: &'static str,
}

impl<'a> Payload<'a> {
    /// Refuses anything but a JSON object, naming what it was.
    pub fn new(value: &'a Value, accepted: &'static str) -> Result<Self, Error> {
        match value.as_object() {
            Some(object) => Ok(Payload {
                value,
                object,
                accepted,
            }),
            None => Err(Error::InvalidEvent(format!(
                "expected a JSON object, got {}; accepted: {accepted}",
                shape(value)
            ))),
        }
    }

    /// `{}`: what an EventBridge Scheduler target receives without input.
    pub fn is_empty(&self) -> bool {
        self.object.is_empty()
    }

    pub fn has(&self, field: &str) -> bool {
        self.object.contains_key(field)
    }

    /// The `detail-type` of an EventBridge event, if this is one.
    pub fn detail_type(&self) -> Option<&'a Value> {
        self.object.get("detail-type")
    }

    /// The payload as `T`; `what` names the form in the error.
    pub fn typed<T: DeserializeOwned>(&self, what: &str) -> Result<T, Error> {
        T::deserialize(self.value)
            .map_err(|e| Error::InvalidEvent(format!("malformed {what}: {e}")))
    }

    pub fn unsupported_detail_type(&self, detail_type: &Value) -> Error {
        Error::InvalidEvent(format!(
            "unsupported detail-type {detail_type}; accepted: {}",
            self.accepted
        ))
    }

    /// None of the forms the function accepts.
    pub fn unrecognised(&self) -> Error {
        let fields: Vec<&str> = self.object.keys().map(String::as_str).collect();
        Error::InvalidEvent(format!(
            "unrecognised event with fields {fields:?}; accepted: {}",
            self.accepted
        ))
    }
}

fn shape(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A sample event from `events/`, for the functions' tests: the samples
/// live once, there.
#[cfg(feature = "test-support")]
pub fn sample_event(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("sample event {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("sample event {name}: {e}"))
}
