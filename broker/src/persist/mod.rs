//! Durability: the message journal and the topology file.
//!
//! Layout under the broker's data directory:
//! - `topology.json`: durable exchanges, queues and bindings, rewritten
//!   atomically (temp file, fsync, rename) whenever one of them changes.
//! - `journal/NNNNNNNN.seg`: append-only segments of message records
//!   (enqueue, and remove tombstones), written by one thread with group
//!   commit: every fsync covers all records appended while the previous one
//!   ran, and confirms wait for the fsync that covers their message.

mod journal;
pub mod record;
mod topology;

pub use journal::{Journal, SEGMENT_BYTES};
pub use record::RecoveredMessage;
pub use topology::Topology;

/// What a restart finds on disk.
#[derive(Debug, Default)]
pub struct Recovered {
    pub topology: Topology,
    pub messages: Vec<RecoveredMessage>,
    pub max_id: u64,
}
