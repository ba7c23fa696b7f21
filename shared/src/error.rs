//! Errors a person can act on: each names the thing that is wrong.

use aws_sdk_rds::error::{DisplayErrorContext, ProvideErrorMetadata};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("setting {0} is required but not set")]
    MissingSetting(&'static str),

    #[error("setting {name} is malformed ({value:?}): {problem}")]
    MalformedSetting {
        name: &'static str,
        value: String,
        problem: String,
    },

    #[error("invalid event: {0}")]
    InvalidEvent(String),

    #[error("invalid {what} identifier {value:?}: {problem}")]
    InvalidIdentifier {
        what: String,
        value: String,
        problem: &'static str,
    },

    #[error("unknown database {0:?}: no DB instance or DB cluster has that identifier")]
    UnknownDatabase(String),

    #[error("{operation} failed: {code}: {message}")]
    Aws {
        operation: &'static str,
        code: String,
        message: String,
    },

    #[error("catalog record {key}: {problem}")]
    CatalogRecord { key: String, problem: String },

    #[error("restore refused: {0}")]
    RestoreRefused(String),

    #[error("restore failed: {0}")]
    RestoreFailed(String),

    /// A drill would have touched a DB it did not make.
    #[error("drill refused: {0}")]
    DrillRefused(String),

    /// A restore that stopped before the Lambda deadline with part of it
    /// made: recorded, and resumed by the same request.
    #[error("restore incomplete: {0}")]
    RestoreIncomplete(String),

    #[error("{failed} of {total} failed: {details}")]
    PartialFailure {
        failed: usize,
        total: usize,
        details: String,
    },
}

impl Error {
    /// A short, stable name for the kind of error: the `errorType` Lambda
    /// reports, so alarms and on-failure destinations can route on it.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::MissingSetting(_) => "MissingSetting",
            Error::MalformedSetting { .. } => "MalformedSetting",
            Error::InvalidEvent(_) => "InvalidEvent",
            Error::InvalidIdentifier { .. } => "InvalidIdentifier",
            Error::UnknownDatabase(_) => "UnknownDatabase",
            Error::Aws { .. } => "AwsError",
            Error::CatalogRecord { .. } => "CatalogRecord",
            Error::PartialFailure { .. } => "PartialFailure",
            Error::RestoreRefused(_) => "RestoreRefused",
            Error::RestoreFailed(_) => "RestoreFailed",
            Error::RestoreIncomplete(_) => "RestoreIncomplete",
            Error::DrillRefused(_) => "DrillRefused",
        }
    }

    /// Maps an SDK error once, here, keeping AWS's error code and message.
    /// Errors without a service response (timeouts, connection refused) carry
    /// the whole error chain instead.
    pub fn aws<E>(operation: &'static str, err: E) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match err.code() {
            Some(code) => Error::Aws {
                operation,
                code: code.to_string(),
                message: err.message().unwrap_or_default().to_string(),
            },
            None => Error::Aws {
                operation,
                code: "NoServiceResponse".to_string(),
                message: DisplayErrorContext(&err).to_string(),
            },
        }
    }

    /// The AWS error code, for errors that came back from AWS.
    pub fn aws_code(&self) -> Option<&str> {
        match self {
            Error::Aws { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(err: Error) -> Self {
        lambda_runtime::Diagnostic {
            error_type: err.kind().to_string(),
            error_message: err.to_string(),
        }
    }
}
