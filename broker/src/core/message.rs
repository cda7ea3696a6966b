//! Messages as queues hold them.

use std::sync::Arc;

use bytes::Bytes;

use crate::proto::ContentHeader;

/// A published message; shared, never changed, by every queue it reaches.
#[derive(Debug)]
pub struct Message {
    pub exchange: String,
    pub routing_key: String,
    pub header: ContentHeader,
    pub body: Bytes,
}

impl Message {
    pub fn is_persistent(&self) -> bool {
        self.header.properties.is_persistent()
    }

    /// Bytes counted against memory limits and `x-max-length-bytes`.
    pub fn size(&self) -> usize {
        self.body.len()
    }

    pub fn priority(&self) -> u8 {
        self.header.properties.priority.unwrap_or(0)
    }

    /// The per-message TTL from the `expiration` property, if valid.
    pub fn expiration_ms(&self) -> Option<u64> {
        self.header
            .properties
            .expiration
            .as_deref()?
            .trim()
            .parse()
            .ok()
    }
}

/// One copy of a message in one queue.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    pub msg: Arc<Message>,
    /// Broker-wide sequence number; also the journal id when persisted.
    pub id: u64,
    /// Milliseconds since the Unix epoch when it entered the queue.
    pub enqueued_ms: u64,
    /// Absolute expiry, from the queue's and the message's TTL.
    pub expires_ms: Option<u64>,
    pub redelivered: bool,
    /// Written to the journal, so its removal must be too.
    pub persisted: bool,
}
