//! Per-channel consumption state: consumers, unacked deliveries, prefetch,
//! publisher confirms and transactions.

use std::collections::{BTreeMap, VecDeque};

use rustc_hash::FxHashMap as HashMap;

use bytes::Bytes;

use crate::proto::ContentHeader;
use crate::proto::method::BasicPublish;

use super::message::QueuedMessage;

#[derive(Debug)]
pub struct Consumer {
    pub queue: String,
    pub no_ack: bool,
    /// Per-consumer prefetch (basic.qos global=false before consume); 0 = none.
    pub prefetch: u16,
    pub unacked: u32,
}

/// A delivery waiting for ack, nack or reject.
#[derive(Debug)]
pub struct Unacked {
    pub queue: String,
    pub qm: QueuedMessage,
    pub consumer: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmOutcome {
    Ack,
    Nack,
}

#[derive(Debug)]
pub struct PendingConfirm {
    pub seq: u64,
    /// Journal position that must be on disk first; 0 when none.
    pub journal_seq: u64,
    pub outcome: ConfirmOutcome,
}

#[derive(Debug, Default)]
pub struct Confirms {
    pub next_seq: u64,
    pub pending: VecDeque<PendingConfirm>,
}

#[derive(Debug)]
pub struct PendingPublish {
    pub method: BasicPublish,
    pub header: ContentHeader,
    pub body: Bytes,
}

#[derive(Debug, Clone, Copy)]
pub enum Settle {
    Ack {
        tag: u64,
        multiple: bool,
    },
    Nack {
        tag: u64,
        multiple: bool,
        requeue: bool,
    },
}

#[derive(Debug, Default)]
pub struct Tx {
    pub publishes: Vec<PendingPublish>,
    pub settles: Vec<Settle>,
}

#[derive(Debug, Default)]
pub struct Channel {
    pub next_tag: u64,
    pub unacked: BTreeMap<u64, Unacked>,
    pub consumers: HashMap<String, Consumer>,
    /// basic.qos global=true: limit over all consumers of the channel.
    pub prefetch_global: u16,
    /// basic.qos global=false: limit for consumers created afterwards.
    pub prefetch_default: u16,
    pub confirm: Option<Confirms>,
    pub tx: Option<Tx>,
    /// Tag of the direct reply-to consumer, and the token naming it.
    pub reply_consumer: Option<String>,
    pub reply_token: Option<String>,
}

impl Channel {
    pub fn next_delivery_tag(&mut self) -> u64 {
        self.next_tag += 1;
        self.next_tag
    }

    /// Whether the consumer `tag` may take one more delivery.
    pub fn can_deliver_to(&self, tag: &str) -> bool {
        let Some(c) = self.consumers.get(tag) else {
            return false;
        };
        if c.no_ack {
            return true;
        }
        let per_consumer = c.prefetch == 0 || c.unacked < u32::from(c.prefetch);
        let global = self.prefetch_global == 0
            || self.unacked_by_consumers() < usize::from(self.prefetch_global);
        per_consumer && global
    }

    fn unacked_by_consumers(&self) -> usize {
        self.consumers.values().map(|c| c.unacked as usize).sum()
    }

    /// Removes the deliveries `tag` settles (all up to it when `multiple`).
    /// `None` means the tag is unknown.
    pub fn take_unacked(&mut self, tag: u64, multiple: bool) -> Option<Vec<(u64, Unacked)>> {
        let taken: Vec<(u64, Unacked)> = if multiple {
            let keys: Vec<u64> = if tag == 0 {
                self.unacked.keys().copied().collect()
            } else {
                self.unacked.range(..=tag).map(|(k, _)| *k).collect()
            };
            if keys.is_empty() && tag != 0 {
                return None;
            }
            keys.into_iter()
                .filter_map(|k| self.unacked.remove(&k).map(|u| (k, u)))
                .collect()
        } else {
            let u = self.unacked.remove(&tag)?;
            vec![(tag, u)]
        };
        for (_, u) in &taken {
            if let Some(c) = u.consumer.as_ref().and_then(|t| self.consumers.get_mut(t)) {
                c.unacked = c.unacked.saturating_sub(1);
            }
        }
        Some(taken)
    }
}
