//! Counts for the admin API: overview, queues, exchanges, connections.

use serde::Serialize;

use crate::Broker;
use crate::core::Rates;

#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub product: String,
    pub version: String,
    pub connections: usize,
    pub channels: usize,
    pub queues: usize,
    pub exchanges: usize,
    pub consumers: usize,
    pub messages_ready: u64,
    pub messages_unacknowledged: u64,
    /// Bytes of ready messages as the memory alarm counts them.
    pub ready_bytes: u64,
    pub published: u64,
    pub delivered: u64,
    pub acked: u64,
    pub returned: u64,
    pub dead_lettered: u64,
    pub expired: u64,
    pub memory_alarm: bool,
    pub rates: Rates,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueInfo {
    pub vhost: String,
    pub name: String,
    pub durable: bool,
    pub exclusive: bool,
    pub auto_delete: bool,
    pub messages_ready: u64,
    pub messages_unacknowledged: u64,
    pub message_bytes_ready: u64,
    pub consumers: usize,
    pub published: u64,
    pub delivered: u64,
    pub acked: u64,
    pub rates: Rates,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExchangeInfo {
    pub vhost: String,
    pub name: String,
    pub kind: String,
    pub durable: bool,
    pub auto_delete: bool,
    pub internal: bool,
    pub bindings: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectionInfo {
    pub name: String,
    pub user: String,
    pub vhost: String,
    pub channels: usize,
    pub connected_at_ms: u64,
    pub published: u64,
    pub delivered: u64,
}

impl Broker {
    pub fn overview(&self) -> Overview {
        let core = self.inner.core.lock();
        let mut o = Overview {
            product: self.inner.config.product.clone(),
            version: self.inner.config.version.clone(),
            connections: core.conns.len(),
            channels: core.conns.values().map(|c| c.channels.len()).sum(),
            queues: 0,
            exchanges: 0,
            consumers: 0,
            messages_ready: 0,
            messages_unacknowledged: 0,
            ready_bytes: core.ready_bytes,
            published: core.totals.published,
            delivered: core.totals.delivered,
            acked: core.totals.acked,
            returned: core.totals.returned,
            dead_lettered: core.totals.dead_lettered,
            expired: core.totals.expired,
            memory_alarm: core.is_blocked(),
            rates: core.totals.rates,
        };
        for v in core.vhosts.values() {
            o.exchanges += v.exchanges.len();
            for q in v.queues.values() {
                o.queues += 1;
                o.consumers += q.consumers.len();
                o.messages_ready += q.ready_count() as u64;
                o.messages_unacknowledged += q.unacked as u64;
            }
        }
        o
    }

    pub fn queues(&self) -> Vec<QueueInfo> {
        let core = self.inner.core.lock();
        let mut out: Vec<QueueInfo> = core
            .vhosts
            .iter()
            .flat_map(|(vname, v)| {
                v.queues.values().map(move |q| QueueInfo {
                    vhost: vname.clone(),
                    name: q.name.clone(),
                    durable: q.durable,
                    exclusive: q.exclusive_owner.is_some(),
                    auto_delete: q.auto_delete,
                    messages_ready: q.ready_count() as u64,
                    messages_unacknowledged: q.unacked as u64,
                    message_bytes_ready: q.ready_bytes() as u64,
                    consumers: q.consumers.len(),
                    published: q.stats.published,
                    delivered: q.stats.delivered,
                    acked: q.stats.acked,
                    rates: q.stats.rates,
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.vhost, &a.name).cmp(&(&b.vhost, &b.name)));
        out
    }

    pub fn exchanges(&self) -> Vec<ExchangeInfo> {
        let core = self.inner.core.lock();
        let mut out: Vec<ExchangeInfo> = core
            .vhosts
            .iter()
            .flat_map(|(vname, v)| {
                v.exchanges.values().map(move |e| ExchangeInfo {
                    vhost: vname.clone(),
                    name: e.name.clone(),
                    kind: e.kind.as_str().to_owned(),
                    durable: e.durable,
                    auto_delete: e.auto_delete,
                    internal: e.internal,
                    bindings: e.bindings.len(),
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.vhost, &a.name).cmp(&(&b.vhost, &b.name)));
        out
    }

    pub fn connections(&self) -> Vec<ConnectionInfo> {
        let core = self.inner.core.lock();
        let mut out: Vec<ConnectionInfo> = core
            .conns
            .values()
            .map(|c| ConnectionInfo {
                name: c.peer.clone(),
                user: c.user.clone(),
                vhost: c.vhost.clone(),
                channels: c.channels.len(),
                connected_at_ms: c.connected_ms,
                published: c.stats.published,
                delivered: c.stats.delivered,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}
