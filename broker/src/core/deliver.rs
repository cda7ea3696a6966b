//! Moving messages: routing, enqueueing with limits, dispatch to consumers,
//! requeue, dead-lettering, expiry and queue deletion.

use rustc_hash::FxHashSet as HashSet;
use std::sync::Arc;

use crate::proto::method::{BasicCancel, BasicDeliver};
use crate::proto::{ContentHeader, FieldTable, FieldValue, Method};

use super::channel::Unacked;
use super::exchange::Destination;
use super::message::{Message, QueuedMessage};
use super::outbox::HIGH_WATER;
use super::queue::Overflow;
use super::{Core, now_ms};

/// What putting one message into one queue did.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Enqueued {
    /// Journal position to wait for before confirming; 0 for none.
    pub journal_seq: u64,
    /// The queue refused it (x-overflow reject-publish).
    pub rejected: bool,
}

impl Core {
    /// The queues a message published to `exchange` with `key` reaches,
    /// following exchange-to-exchange bindings and alternate exchanges.
    pub(crate) fn route(
        &self,
        vname: &str,
        exchange: &str,
        key: &str,
        headers: Option<&FieldTable>,
    ) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let Some(vhost) = self.vhosts.get(vname) else {
            return out;
        };
        if exchange.is_empty() {
            if vhost.queues.contains_key(key) {
                out.push(key.to_owned());
            }
            return out;
        }
        let mut visited: HashSet<&str> = HashSet::default();
        let mut stack: Vec<&str> = vec![exchange];
        let mut hits = Vec::new();
        while let Some(name) = stack.pop() {
            if !visited.insert(name) {
                continue;
            }
            let Some(e) = vhost.exchanges.get(name) else {
                continue;
            };
            hits.clear();
            e.matching(key, headers, &mut hits);
            let before = out.len();
            let mut forwarded = false;
            for d in &hits {
                match d {
                    Destination::Queue(q) => {
                        if !out.iter().any(|x| x == q) && vhost.queues.contains_key(q) {
                            out.push(q.clone());
                        }
                    }
                    Destination::Exchange(x) => {
                        forwarded = true;
                        stack.push(x.as_str());
                    }
                }
            }
            if out.len() == before
                && !forwarded
                && let Some(ae) = e.alternate()
            {
                stack.push(ae);
            }
        }
        out
    }

    pub(super) fn enqueue(&mut self, vname: &str, qname: &str, msg: Arc<Message>) -> Enqueued {
        let now = now_ms();
        let id = self.next_id();
        let mut outcome = Enqueued::default();
        let size = msg.size();
        let mut dropped = Vec::new();
        {
            let Some(q) = self
                .vhosts
                .get_mut(vname)
                .and_then(|v| v.queues.get_mut(qname))
            else {
                return outcome;
            };
            if q.over_limit_with(size) {
                match q.settings.overflow.unwrap_or(Overflow::DropHead) {
                    Overflow::RejectPublish | Overflow::RejectPublishDlx => {
                        outcome.rejected = true;
                    }
                    Overflow::DropHead => {
                        while q.over_limit_with(size) {
                            match q.pop() {
                                Some(head) => {
                                    self.ready_bytes =
                                        self.ready_bytes.saturating_sub(head.msg.size() as u64);
                                    dropped.push(head);
                                }
                                None => break,
                            }
                        }
                    }
                }
            }
        }
        for head in dropped {
            self.dead_letter(vname, qname, head, "maxlen");
        }
        let Some(q) = self
            .vhosts
            .get_mut(vname)
            .and_then(|v| v.queues.get_mut(qname))
        else {
            return outcome;
        };
        let ttl = match (q.settings.message_ttl, msg.expiration_ms()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut qm = QueuedMessage {
            msg,
            id,
            enqueued_ms: now,
            expires_ms: ttl.map(|t| now + t),
            redelivered: false,
            persisted: false,
        };
        if outcome.rejected {
            if q.settings.overflow == Some(Overflow::RejectPublishDlx) {
                self.dead_letter(vname, qname, qm, "maxlen");
            }
            return outcome;
        }
        if q.durable
            && qm.msg.is_persistent()
            && let Some(j) = &self.journal
        {
            qm.persisted = true;
            outcome.journal_seq = j.append_enqueue(vname, qname, &qm);
        }
        q.stats.published += 1;
        q.push_back(qm);
        self.ready_bytes += size as u64;
        self.dispatch(vname, qname);
        if ttl == Some(0) {
            // TTL 0: delivered now to a consumer that can take it, or never.
            self.expire_queue(vname, qname, now + 1);
        }
        outcome
    }

    /// Hands ready messages to consumers with room, round robin.
    pub(crate) fn dispatch(&mut self, vname: &str, qname: &str) {
        let now = now_ms();
        let mut expired = Vec::new();
        let mut forget = Vec::new();
        {
            let Some(q) = self
                .vhosts
                .get_mut(vname)
                .and_then(|v| v.queues.get_mut(qname))
            else {
                return;
            };
            let conns = &mut self.conns;
            while q.ready_count() > 0 && !q.consumers.is_empty() {
                if q.peek()
                    .is_some_and(|h| h.expires_ms.is_some_and(|e| e <= now))
                {
                    if let Some(h) = q.pop() {
                        self.ready_bytes = self.ready_bytes.saturating_sub(h.msg.size() as u64);
                        expired.push(h);
                    }
                    continue;
                }
                let n = q.consumers.len();
                let mut chosen = None;
                for i in 0..n {
                    let idx = (q.next_consumer + i) % n;
                    let r = &q.consumers[idx];
                    let Some(c) = conns.get_mut(&r.conn) else {
                        continue;
                    };
                    if c.throttled {
                        continue;
                    }
                    if c.outbox.len() > HIGH_WATER {
                        c.throttled = true;
                        c.outbox
                            .throttled
                            .store(true, std::sync::atomic::Ordering::Relaxed);
                        continue;
                    }
                    if c.channels
                        .get(&r.channel)
                        .is_some_and(|ch| ch.can_deliver_to(&r.tag))
                    {
                        chosen = Some(idx);
                        break;
                    }
                }
                let Some(idx) = chosen else { break };
                q.next_consumer = (idx + 1) % n;
                let Some(qm) = q.pop() else { break };
                self.ready_bytes = self.ready_bytes.saturating_sub(qm.msg.size() as u64);
                q.stats.delivered += 1;
                self.totals.delivered += 1;
                let r = &q.consumers[idx];
                let Some(c) = conns.get_mut(&r.conn) else {
                    break;
                };
                let Some(ch) = c.channels.get_mut(&r.channel) else {
                    break;
                };
                let Some(consumer) = ch.consumers.get_mut(&r.tag) else {
                    break;
                };
                let no_ack = consumer.no_ack;
                if !no_ack {
                    consumer.unacked += 1;
                }
                let delivery_tag = ch.next_delivery_tag();
                let deliver: Method = BasicDeliver {
                    consumer_tag: r.tag.clone(),
                    delivery_tag,
                    redelivered: qm.redelivered,
                    exchange: qm.msg.exchange.clone(),
                    routing_key: qm.msg.routing_key.clone(),
                }
                .into();
                c.outbox
                    .content(r.channel, &deliver, &qm.msg.header, &qm.msg.body);
                c.stats.delivered += 1;
                if no_ack {
                    forget.push(qm);
                } else {
                    q.unacked += 1;
                    ch.unacked.insert(
                        delivery_tag,
                        Unacked {
                            queue: qname.to_owned(),
                            qm,
                            consumer: Some(r.tag.clone()),
                        },
                    );
                }
            }
        }
        for qm in forget {
            self.forget(qm);
        }
        for qm in expired {
            self.totals.expired += 1;
            self.dead_letter(vname, qname, qm, "expired");
        }
    }

    /// The message is gone for good: write its tombstone.
    pub(super) fn forget(&mut self, qm: QueuedMessage) {
        if qm.persisted
            && let Some(j) = &self.journal
        {
            j.append_remove(qm.id);
        }
    }

    pub(super) fn requeue(&mut self, vname: &str, qname: &str, mut qm: QueuedMessage) {
        match self
            .vhosts
            .get_mut(vname)
            .and_then(|v| v.queues.get_mut(qname))
        {
            Some(q) => {
                qm.redelivered = true;
                self.ready_bytes += qm.msg.size() as u64;
                q.push_front(qm);
            }
            None => self.forget(qm),
        }
    }

    /// Republishes a message its queue gave up on to the queue's
    /// dead-letter exchange, with an `x-death` record; drops it otherwise.
    pub(super) fn dead_letter(
        &mut self,
        vname: &str,
        qname: &str,
        qm: QueuedMessage,
        reason: &str,
    ) {
        let settings = self
            .vhosts
            .get(vname)
            .and_then(|v| v.queues.get(qname))
            .map(|q| q.settings.clone());
        let msg = qm.msg.clone();
        self.forget(qm);
        let Some(settings) = settings else { return };
        let Some(dlx) = settings.dead_letter_exchange else {
            return;
        };
        if !self
            .vhosts
            .get(vname)
            .is_some_and(|v| v.exchanges.contains_key(&dlx))
        {
            return;
        }
        let mut props = msg.header.properties.clone();
        let mut headers = props.headers.take().unwrap_or_default();
        let original_expiration = props.expiration.take();
        record_death(&mut headers, qname, reason, &msg, original_expiration);
        props.headers = Some(headers);
        let key = settings
            .dead_letter_routing_key
            .unwrap_or_else(|| msg.routing_key.clone());
        let header = ContentHeader::new(msg.body.len() as u64, props);
        let dead = Arc::new(Message {
            exchange: dlx.clone(),
            routing_key: key.clone(),
            header,
            body: msg.body.clone(),
        });
        let targets = self.route(vname, &dlx, &key, dead.header.properties.headers.as_ref());
        self.totals.dead_lettered += 1;
        for target in targets {
            // A cycle with no rejection in it would loop forever: drop it.
            if target == qname && reason != "rejected" {
                continue;
            }
            self.enqueue(vname, &target, dead.clone());
        }
    }

    /// Deletes a queue: tombstones its messages, cancels its consumers,
    /// removes its bindings. Returns the number of ready messages it had.
    pub(crate) fn delete_queue(&mut self, vname: &str, qname: &str) -> usize {
        let Some(mut q) = self
            .vhosts
            .get_mut(vname)
            .and_then(|v| v.queues.remove(qname))
        else {
            return 0;
        };
        let drained = q.drain();
        let count = drained.len();
        for qm in drained {
            self.ready_bytes = self.ready_bytes.saturating_sub(qm.msg.size() as u64);
            self.forget(qm);
        }
        for r in q.consumers.drain(..) {
            let Some(c) = self.conns.get_mut(&r.conn) else {
                continue;
            };
            let notify = c.caps.consumer_cancel_notify;
            if let Some(ch) = c.channels.get_mut(&r.channel) {
                ch.consumers.remove(&r.tag);
                if notify {
                    c.outbox.method(
                        r.channel,
                        &BasicCancel {
                            consumer_tag: r.tag.clone(),
                            nowait: true,
                        }
                        .into(),
                    );
                }
            }
        }
        let dest = Destination::Queue(qname.to_owned());
        let mut emptied = Vec::new();
        if let Some(v) = self.vhosts.get_mut(vname) {
            for e in v.exchanges.values_mut() {
                let before = e.bindings.len();
                e.bindings.retain(|b| b.destination != dest);
                if before != e.bindings.len() && e.bindings.is_empty() && e.auto_delete {
                    emptied.push(e.name.clone());
                }
            }
        }
        for e in emptied {
            self.remove_exchange(vname, &e);
        }
        if q.durable && q.exclusive_owner.is_none() {
            self.mark_topology_dirty();
        }
        count
    }

    pub(super) fn maybe_auto_delete(&mut self, vname: &str, qname: &str) {
        let doomed = self
            .vhosts
            .get(vname)
            .and_then(|v| v.queues.get(qname))
            .is_some_and(|q| q.auto_delete && q.had_consumer && q.consumers.is_empty());
        if doomed {
            self.delete_queue(vname, qname);
        }
    }

    /// Drops (or dead-letters) expired messages at the head of one queue.
    pub(super) fn expire_queue(&mut self, vname: &str, qname: &str, now: u64) {
        let mut expired = Vec::new();
        if let Some(q) = self
            .vhosts
            .get_mut(vname)
            .and_then(|v| v.queues.get_mut(qname))
        {
            while q
                .peek()
                .is_some_and(|h| h.expires_ms.is_some_and(|e| e <= now))
            {
                match q.pop() {
                    Some(h) => {
                        self.ready_bytes = self.ready_bytes.saturating_sub(h.msg.size() as u64);
                        expired.push(h);
                    }
                    None => break,
                }
            }
        }
        for qm in expired {
            self.totals.expired += 1;
            self.dead_letter(vname, qname, qm, "expired");
        }
    }

    /// TTL expiry for every queue, and x-expires for unused ones.
    pub(super) fn expire_all(&mut self, now: u64) {
        let mut heads = Vec::new();
        let mut unused = Vec::new();
        for (vname, v) in &self.vhosts {
            for (qname, q) in &v.queues {
                if q.peek()
                    .is_some_and(|h| h.expires_ms.is_some_and(|e| e <= now))
                {
                    heads.push((vname.clone(), qname.clone()));
                }
                if let Some(ttl) = q.settings.expires
                    && q.consumers.is_empty()
                    && now.saturating_sub(q.last_used_ms) >= ttl
                {
                    unused.push((vname.clone(), qname.clone()));
                }
            }
        }
        for (v, q) in heads {
            self.expire_queue(&v, &q, now);
        }
        for (v, q) in unused {
            self.delete_queue(&v, &q);
        }
    }
}

/// Adds or bumps the `x-death` entry for (queue, reason), newest first.
fn record_death(
    headers: &mut FieldTable,
    queue: &str,
    reason: &str,
    msg: &Message,
    original_expiration: Option<String>,
) {
    let mut deaths = match headers.remove("x-death") {
        Some(FieldValue::Array(items)) => items,
        _ => Vec::new(),
    };
    let same = |t: &FieldTable| {
        t.get("queue").and_then(FieldValue::as_str) == Some(queue)
            && t.get("reason").and_then(FieldValue::as_str) == Some(reason)
    };
    let existing = deaths
        .iter()
        .position(|d| matches!(d, FieldValue::Table(t) if same(t)));
    let now_s = now_ms() / 1000;
    let entry = match existing {
        Some(i) => {
            let mut t = match deaths.remove(i) {
                FieldValue::Table(t) => t,
                _ => FieldTable::new(),
            };
            let count = t.get("count").and_then(FieldValue::as_i64).unwrap_or(0);
            t.insert("count", FieldValue::I64(count + 1));
            t.insert("time", FieldValue::Timestamp(now_s));
            t
        }
        None => {
            let mut t = FieldTable::new();
            t.insert("count", FieldValue::I64(1));
            t.insert("reason", FieldValue::str(reason));
            t.insert("queue", FieldValue::str(queue));
            t.insert("time", FieldValue::Timestamp(now_s));
            t.insert("exchange", FieldValue::str(&msg.exchange));
            t.insert(
                "routing-keys",
                FieldValue::Array(vec![FieldValue::str(&msg.routing_key)]),
            );
            if let Some(exp) = original_expiration {
                t.insert("original-expiration", FieldValue::str(&exp));
            }
            t
        }
    };
    deaths.insert(0, FieldValue::Table(entry));
    headers.insert("x-death", FieldValue::Array(deaths));
    if headers.get("x-first-death-queue").is_none() {
        headers.insert("x-first-death-queue", FieldValue::str(queue));
        headers.insert("x-first-death-reason", FieldValue::str(reason));
        headers.insert("x-first-death-exchange", FieldValue::str(&msg.exchange));
    }
}
