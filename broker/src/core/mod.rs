//! The broker's state: vhosts, exchanges, queues, connections and channels,
//! owned by one [`Core`] behind one lock.
//!
//! Connection tasks decode frames without the lock, then take it once per
//! batch of frames to apply them. Handlers write every reply and delivery
//! straight into the target connection's [`Outbox`], so the order a client
//! sees (consume-ok before the first deliver, return before ack) is the order
//! the core decided.

mod basic;
mod channel;
mod deliver;
mod exchange;
mod message;
mod methods;
pub mod outbox;
mod queue;

// FxHash: the core hashes short strings and ids on every message; SipHash
// showed up at ~12% of a transient run.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::config::Config;
use crate::error::AmqpError;
use crate::persist::{Journal, Recovered, Topology};
use crate::proto::method::BasicPublish;
use crate::proto::{ContentHeader, Method};

pub use channel::Channel;
pub use exchange::{Destination, Exchange, ExchangeKind};
pub use message::{Message, QueuedMessage};
pub use outbox::Outbox;
pub use queue::{Queue, Rates};

pub type ConnId = u64;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What a connection's client said it understands.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientCaps {
    pub consumer_cancel_notify: bool,
    pub connection_blocked: bool,
}

/// A command from a connection to the core, on one channel.
#[derive(Debug)]
// Moved a few times per message; boxing the content would add an
// allocation per message on the hot path.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    Open,
    Method(Method),
    Publish {
        method: BasicPublish,
        header: ContentHeader,
        body: Bytes,
    },
    /// The client closed the channel (close-ok is sent by the core).
    Close,
    /// The channel is gone after a server-sent close (resources released).
    Closed,
}

#[derive(Debug, Default)]
pub struct VHost {
    pub exchanges: HashMap<String, Exchange>,
    pub queues: HashMap<String, Queue>,
}

impl VHost {
    fn with_defaults() -> Self {
        let mut v = VHost::default();
        v.exchanges
            .insert(String::new(), Exchange::new("", ExchangeKind::Direct, true));
        for (name, kind) in [
            ("amq.direct", ExchangeKind::Direct),
            ("amq.fanout", ExchangeKind::Fanout),
            ("amq.topic", ExchangeKind::Topic),
            ("amq.headers", ExchangeKind::Headers),
            ("amq.match", ExchangeKind::Headers),
        ] {
            v.exchanges
                .insert(name.to_owned(), Exchange::new(name, kind, true));
        }
        let mut trace = Exchange::new("amq.rabbitmq.trace", ExchangeKind::Topic, true);
        trace.internal = true;
        v.exchanges.insert(trace.name.clone(), trace);
        v
    }
}

/// A live connection as the core sees it.
#[derive(Debug)]
pub struct Conn {
    pub outbox: Arc<Outbox>,
    pub user: String,
    pub vhost: String,
    pub peer: String,
    pub caps: ClientCaps,
    pub channels: HashMap<u16, Channel>,
    pub connected_ms: u64,
    /// Deliveries paused because the socket is not keeping up.
    pub throttled: bool,
    pub has_published: bool,
    pub blocked_sent: bool,
    pub stats: ConnStats,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct ConnStats {
    pub published: u64,
    pub delivered: u64,
}

/// The whole broker state.
pub struct Core {
    pub(crate) config: Arc<Config>,
    pub(crate) vhosts: HashMap<String, VHost>,
    pub(crate) conns: HashMap<ConnId, Conn>,
    next_conn: ConnId,
    next_msg_id: u64,
    pub(crate) journal: Option<Arc<Journal>>,
    topology_dirty: bool,
    /// Channels with confirms waiting for the journal.
    confirm_waiters: HashSet<(ConnId, u16)>,
    /// Direct reply-to tokens → (connection, channel).
    reply_tokens: HashMap<String, (ConnId, u16)>,
    pub(crate) ready_bytes: u64,
    pub(crate) blocked: bool,
    pub(crate) totals: Totals,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    pub published: u64,
    pub delivered: u64,
    pub acked: u64,
    pub returned: u64,
    pub dead_lettered: u64,
    pub expired: u64,
    pub rates: queue::Rates,
    sampled: (u64, u64, u64),
    sampled_ms: u64,
}

/// How often message rates are recomputed (RabbitMQ samples every 5 s).
const RATE_INTERVAL_MS: u64 = 5_000;

impl Core {
    pub(crate) fn new(
        config: Arc<Config>,
        journal: Option<Arc<Journal>>,
        recovered: Recovered,
    ) -> Core {
        let mut vhosts: HashMap<String, VHost> = config
            .vhosts
            .iter()
            .map(|v| (v.clone(), VHost::with_defaults()))
            .collect();
        let now = now_ms();
        let mut next_msg_id = recovered.max_id + 1;
        for (vname, topo) in recovered.topology.vhosts {
            let vhost = vhosts.entry(vname).or_insert_with(VHost::with_defaults);
            for x in topo.exchanges {
                let Some(kind) = ExchangeKind::parse(&x.kind) else {
                    continue;
                };
                let mut e = Exchange::new(&x.name, kind, true);
                e.auto_delete = x.auto_delete;
                e.internal = x.internal;
                e.arguments = x.arguments.to_table();
                vhost.exchanges.insert(x.name, e);
            }
            for q in topo.queues {
                let args = q.arguments.to_table();
                let settings = queue::Settings::from_args(&q.name, "", &args).unwrap_or_default();
                vhost.queues.insert(
                    q.name.clone(),
                    Queue::new(q.name, true, None, q.auto_delete, args, settings, now),
                );
            }
            for b in topo.bindings {
                let dest = if b.to_exchange {
                    Destination::Exchange(b.destination)
                } else {
                    Destination::Queue(b.destination)
                };
                if let (Some(e), Ok(binding)) = (
                    vhost.exchanges.get_mut(&b.source),
                    exchange::Binding::new(dest, b.routing_key, b.arguments.to_table()),
                ) {
                    e.bindings.push(binding);
                    e.had_binding = true;
                }
            }
        }
        let mut orphans = Vec::new();
        let mut ready_bytes = 0;
        for m in recovered.messages {
            next_msg_id = next_msg_id.max(m.qm.id + 1);
            match vhosts
                .get_mut(&m.vhost)
                .and_then(|v| v.queues.get_mut(&m.queue))
            {
                Some(q) => {
                    ready_bytes += m.qm.msg.size() as u64;
                    q.push_back(m.qm);
                }
                None => orphans.push(m.qm.id),
            }
        }
        if let Some(j) = &journal {
            for id in orphans {
                j.append_remove(id);
            }
        }
        Core {
            config,
            vhosts,
            conns: HashMap::default(),
            next_conn: 1,
            next_msg_id,
            journal,
            topology_dirty: false,
            confirm_waiters: HashSet::default(),
            reply_tokens: HashMap::default(),
            ready_bytes,
            blocked: false,
            totals: Totals::default(),
        }
    }

    /// Registers an authenticated, opened connection.
    pub fn connect(
        &mut self,
        outbox: Arc<Outbox>,
        user: String,
        vhost: String,
        peer: String,
        caps: ClientCaps,
    ) -> ConnId {
        let id = self.next_conn;
        self.next_conn += 1;
        self.conns.insert(
            id,
            Conn {
                outbox,
                user,
                vhost,
                peer,
                caps,
                channels: HashMap::default(),
                connected_ms: now_ms(),
                throttled: false,
                has_published: false,
                blocked_sent: false,
                stats: ConnStats::default(),
            },
        );
        id
    }

    /// Applies one command; a channel-level error leaves the connection
    /// usable, a connection-level one does not.
    pub fn handle(&mut self, conn: ConnId, channel: u16, cmd: Command) -> Result<(), AmqpError> {
        let result = match cmd {
            Command::Open => self.channel_open(conn, channel),
            Command::Method(m) => {
                let ids = m.ids();
                self.method(conn, channel, m)
                    .map_err(|e| if e.ids == (0, 0) { e.with_ids(ids) } else { e })
            }
            Command::Publish {
                method,
                header,
                body,
            } => self
                .publish(conn, channel, method, header, body)
                .map_err(|e| {
                    if e.ids == (0, 0) {
                        e.with_ids((60, 40))
                    } else {
                        e
                    }
                }),
            Command::Close => {
                self.channel_release(conn, channel);
                self.send(
                    conn,
                    channel,
                    crate::proto::method::ChannelCloseOk {}.into(),
                );
                Ok(())
            }
            Command::Closed => {
                self.channel_release(conn, channel);
                Ok(())
            }
        };
        if result.is_err() {
            // A failed channel is closed by the caller; release it now so
            // that its unacked messages go back at once, as RabbitMQ does.
            if let Err(e) = &result
                && !e.is_connection_level()
            {
                self.channel_release(conn, channel);
            }
        }
        self.after_change();
        result
    }

    /// Releases everything a closed connection held.
    pub fn disconnect(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let channels: Vec<u16> = c.channels.keys().copied().collect();
        for ch in channels {
            self.channel_release(conn, ch);
        }
        self.conns.remove(&conn);
        // Exclusive queues die with their owner.
        let mut doomed = Vec::new();
        for (vname, v) in &self.vhosts {
            for (qname, q) in &v.queues {
                if q.exclusive_owner == Some(conn) {
                    doomed.push((vname.clone(), qname.clone()));
                }
            }
        }
        for (v, q) in doomed {
            self.delete_queue(&v, &q);
        }
        self.after_change();
    }

    /// Periodic work: message TTL at queue heads, x-expires, memory alarm.
    pub fn tick(&mut self) {
        let now = now_ms();
        self.expire_all(now);
        self.sample_rates(now);
        self.after_change();
    }

    fn sample_rates(&mut self, now: u64) {
        let t = &mut self.totals;
        if t.sampled_ms == 0 {
            t.sampled_ms = now;
            return;
        }
        let elapsed = now.saturating_sub(t.sampled_ms);
        if elapsed < RATE_INTERVAL_MS {
            return;
        }
        let secs = elapsed as f64 / 1000.0;
        let current = (t.published, t.delivered, t.acked);
        t.rates = queue::rates_between(t.sampled, current, secs);
        t.sampled = current;
        t.sampled_ms = now;
        for v in self.vhosts.values_mut() {
            for q in v.queues.values_mut() {
                q.stats.sample(secs);
            }
        }
    }

    /// The journal has made everything up to `seq` durable.
    pub fn journal_synced(&mut self, seq: u64) {
        let waiters: Vec<(ConnId, u16)> = self.confirm_waiters.iter().copied().collect();
        for (conn, ch) in waiters {
            if !self.flush_confirms(conn, ch, seq) {
                self.confirm_waiters.remove(&(conn, ch));
            }
        }
    }

    /// A throttled connection's writer caught up: resume its consumers.
    pub fn resume(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !c.throttled {
            return;
        }
        c.throttled = false;
        let vhost = c.vhost.clone();
        let queues: HashSet<String> = c
            .channels
            .values()
            .flat_map(|ch| ch.consumers.values().map(|k| k.queue.clone()))
            .collect();
        for q in queues {
            self.dispatch(&vhost, &q);
        }
        self.after_change();
    }

    fn after_change(&mut self) {
        if self.topology_dirty {
            self.topology_dirty = false;
            if let Some(j) = &self.journal
                && let Err(e) = j.save_topology(&self.topology())
            {
                tracing::error!(error = %e, "cannot save broker topology");
            }
        }
        self.check_memory();
    }

    fn check_memory(&mut self) {
        let high = self.config.memory_high_watermark;
        let now_blocked = if self.blocked {
            self.ready_bytes > high / 2
        } else {
            self.ready_bytes > high
        };
        if now_blocked == self.blocked {
            return;
        }
        self.blocked = now_blocked;
        tracing::warn!(
            ready_bytes = self.ready_bytes,
            blocked = now_blocked,
            "memory alarm"
        );
        for c in self.conns.values_mut() {
            if !c.caps.connection_blocked {
                continue;
            }
            if now_blocked && c.has_published && !c.blocked_sent {
                c.blocked_sent = true;
                c.outbox.method(
                    0,
                    &crate::proto::method::ConnectionBlocked {
                        reason: "low on memory".into(),
                    }
                    .into(),
                );
            } else if !now_blocked && c.blocked_sent {
                c.blocked_sent = false;
                c.outbox
                    .method(0, &crate::proto::method::ConnectionUnblocked {}.into());
            }
        }
    }

    /// Whether publishers should stop being read.
    pub fn is_blocked(&self) -> bool {
        self.blocked
    }

    pub(crate) fn send(&self, conn: ConnId, channel: u16, m: Method) {
        if let Some(c) = self.conns.get(&conn) {
            c.outbox.method(channel, &m);
        }
    }

    pub(crate) fn mark_topology_dirty(&mut self) {
        self.topology_dirty = true;
    }

    pub(crate) fn next_id(&mut self) -> u64 {
        let id = self.next_msg_id;
        self.next_msg_id += 1;
        id
    }

    fn topology(&self) -> Topology {
        Topology::capture(&self.vhosts)
    }
}
