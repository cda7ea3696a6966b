//! Errors: AMQP reply-code errors sent to clients, and errors opening a broker.

use crate::proto::constants::{self, is_connection_level};

/// An error a client is told about with channel.close or connection.close.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} - {text}", constants::reply_name(*code))]
pub struct AmqpError {
    pub code: u16,
    pub text: String,
    /// The offending method's (class, method), or (0, 0).
    pub ids: (u16, u16),
}

impl AmqpError {
    pub fn new(code: u16, text: impl Into<String>) -> Self {
        AmqpError {
            code,
            text: text.into(),
            ids: (0, 0),
        }
    }

    pub fn with_ids(mut self, ids: (u16, u16)) -> Self {
        self.ids = ids;
        self
    }

    /// Whether this closes the connection rather than one channel.
    pub fn is_connection_level(&self) -> bool {
        is_connection_level(self.code)
    }

    /// The reply text as RabbitMQ writes it: `NOT_FOUND - no queue 'q' …`.
    pub fn reply_text(&self) -> String {
        let text = format!("{} - {}", constants::reply_name(self.code), self.text);
        // A short string holds at most 255 bytes.
        let mut end = text.len().min(255);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].to_owned()
    }

    pub fn not_found(text: impl Into<String>) -> Self {
        AmqpError::new(constants::NOT_FOUND, text)
    }
    pub fn precondition(text: impl Into<String>) -> Self {
        AmqpError::new(constants::PRECONDITION_FAILED, text)
    }
    pub fn access_refused(text: impl Into<String>) -> Self {
        AmqpError::new(constants::ACCESS_REFUSED, text)
    }
    pub fn locked(text: impl Into<String>) -> Self {
        AmqpError::new(constants::RESOURCE_LOCKED, text)
    }
    pub fn not_implemented(text: impl Into<String>) -> Self {
        AmqpError::new(constants::NOT_IMPLEMENTED, text)
    }
    pub fn channel_error(text: impl Into<String>) -> Self {
        AmqpError::new(constants::CHANNEL_ERROR, text)
    }
    pub fn not_allowed(text: impl Into<String>) -> Self {
        AmqpError::new(constants::NOT_ALLOWED, text)
    }
}

/// Why a broker could not be opened or a persistence operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("broker storage at {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("broker topology file {path} is corrupt: {reason}")]
    CorruptTopology {
        path: std::path::PathBuf,
        reason: String,
    },
}
