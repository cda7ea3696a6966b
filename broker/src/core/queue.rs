//! Queues: ready messages (by priority), settings from x-arguments,
//! consumers in round-robin order.

use std::collections::VecDeque;

use crate::error::AmqpError;
use crate::proto::{FieldTable, FieldValue};

use super::ConnId;
use super::message::QueuedMessage;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    DropHead,
    RejectPublish,
    RejectPublishDlx,
}

/// What a queue's x-arguments ask for, validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    pub message_ttl: Option<u64>,
    pub expires: Option<u64>,
    pub max_length: Option<u64>,
    pub max_length_bytes: Option<u64>,
    pub overflow: Option<Overflow>,
    pub dead_letter_exchange: Option<String>,
    pub dead_letter_routing_key: Option<String>,
    pub max_priority: Option<u8>,
}

/// The x-arguments whose values must match on re-declare.
const COMPARED_ARGS: &[&str] = &[
    "x-expires",
    "x-message-ttl",
    "x-dead-letter-exchange",
    "x-dead-letter-routing-key",
    "x-max-length",
    "x-max-length-bytes",
    "x-max-priority",
    "x-overflow",
    "x-queue-type",
    "x-queue-mode",
    "x-single-active-consumer",
];

impl Settings {
    pub fn from_args(queue: &str, vhost: &str, args: &FieldTable) -> Result<Settings, AmqpError> {
        let invalid = |arg: &str, detail: String| {
            AmqpError::precondition(format!(
                "invalid arg '{arg}' for queue '{queue}' in vhost '{vhost}': {detail}"
            ))
        };
        let int = |arg: &str, min: i64| -> Result<Option<u64>, AmqpError> {
            match args.get(arg) {
                None => Ok(None),
                Some(v) => match v.as_i64() {
                    Some(n) if n < min && min == 1 && n == 0 => {
                        Err(invalid(arg, "{value_zero,0}".into()))
                    }
                    Some(n) if n < min => Err(invalid(arg, format!("{{value_negative,{n}}}"))),
                    Some(n) => Ok(Some(n as u64)),
                    None => Err(invalid(
                        arg,
                        format!("{{unacceptable_type,{}}}", v.type_name()),
                    )),
                },
            }
        };
        let string = |arg: &str| -> Result<Option<String>, AmqpError> {
            match args.get(arg) {
                None => Ok(None),
                Some(v) => v.as_str().map(|s| Some(s.to_owned())).ok_or_else(|| {
                    invalid(arg, format!("{{unacceptable_type,{}}}", v.type_name()))
                }),
            }
        };
        let overflow = match string("x-overflow")?.as_deref() {
            None => None,
            Some("drop-head") => Some(Overflow::DropHead),
            Some("reject-publish") => Some(Overflow::RejectPublish),
            Some("reject-publish-dlx") => Some(Overflow::RejectPublishDlx),
            Some(other) => {
                return Err(invalid(
                    "x-overflow",
                    format!("{{invalid_overflow,<<\"{other}\">>}}"),
                ));
            }
        };
        let max_priority = match int("x-max-priority", 0)? {
            None | Some(0) => None,
            Some(n) if n > 255 => {
                return Err(invalid(
                    "x-max-priority",
                    format!("{{max_value_exceeded,{n}}}"),
                ));
            }
            Some(n) => Some(n as u8),
        };
        match string("x-queue-type")?.as_deref() {
            None | Some("classic") | Some("quorum") => {}
            Some(other) => {
                return Err(invalid(
                    "x-queue-type",
                    format!("unsupported queue type '{other}'"),
                ));
            }
        }
        Ok(Settings {
            message_ttl: int("x-message-ttl", 0)?,
            expires: int("x-expires", 1)?,
            max_length: int("x-max-length", 0)?,
            max_length_bytes: int("x-max-length-bytes", 0)?,
            overflow,
            dead_letter_exchange: string("x-dead-letter-exchange")?,
            dead_letter_routing_key: string("x-dead-letter-routing-key")?,
            max_priority,
        })
    }
}

/// A consumer's address: connection, channel, tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRef {
    pub conn: ConnId,
    pub channel: u16,
    pub tag: String,
    pub exclusive: bool,
}

#[derive(Debug)]
pub struct Queue {
    pub name: String,
    pub durable: bool,
    pub exclusive_owner: Option<ConnId>,
    pub auto_delete: bool,
    pub arguments: FieldTable,
    pub settings: Settings,
    /// One deque per priority level (index = priority); one for plain queues.
    ready: Vec<VecDeque<QueuedMessage>>,
    ready_count: usize,
    ready_bytes: usize,
    pub consumers: Vec<ConsumerRef>,
    pub next_consumer: usize,
    /// Deliveries out to consumers or basic.get and not yet settled.
    pub unacked: usize,
    pub had_consumer: bool,
    /// For x-expires: when the queue was last used.
    pub last_used_ms: u64,
    pub stats: QueueStats,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct QueueStats {
    pub published: u64,
    pub delivered: u64,
    pub acked: u64,
    /// Messages per second over the last sampling interval.
    pub rates: Rates,
    sampled: (u64, u64, u64),
}

/// Per-second rates, as RabbitMQ's management API reports them.
#[derive(Debug, Default, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Rates {
    pub publish: f64,
    pub deliver: f64,
    pub ack: f64,
}

impl QueueStats {
    /// Updates the rates from the counters' change over `secs`.
    pub fn sample(&mut self, secs: f64) {
        let now = (self.published, self.delivered, self.acked);
        self.rates = rates_between(self.sampled, now, secs);
        self.sampled = now;
    }
}

/// Rates from two (published, delivered, acked) samples `secs` apart.
pub fn rates_between(before: (u64, u64, u64), after: (u64, u64, u64), secs: f64) -> Rates {
    if secs <= 0.0 {
        return Rates::default();
    }
    let per = |a: u64, b: u64| b.saturating_sub(a) as f64 / secs;
    Rates {
        publish: per(before.0, after.0),
        deliver: per(before.1, after.1),
        ack: per(before.2, after.2),
    }
}

impl Queue {
    pub fn new(
        name: String,
        durable: bool,
        exclusive_owner: Option<ConnId>,
        auto_delete: bool,
        arguments: FieldTable,
        settings: Settings,
        now_ms: u64,
    ) -> Self {
        let levels = settings.max_priority.map_or(1, |p| p as usize + 1);
        Queue {
            name,
            durable,
            exclusive_owner,
            auto_delete,
            arguments,
            settings,
            ready: (0..levels).map(|_| VecDeque::new()).collect(),
            ready_count: 0,
            ready_bytes: 0,
            consumers: Vec::new(),
            next_consumer: 0,
            unacked: 0,
            had_consumer: false,
            last_used_ms: now_ms,
            stats: QueueStats::default(),
        }
    }

    pub fn ready_count(&self) -> usize {
        self.ready_count
    }

    pub fn ready_bytes(&self) -> usize {
        self.ready_bytes
    }

    fn level(&self, m: &QueuedMessage) -> usize {
        (m.msg.priority() as usize).min(self.ready.len() - 1)
    }

    pub fn push_back(&mut self, m: QueuedMessage) {
        self.ready_count += 1;
        self.ready_bytes += m.msg.size();
        let level = self.level(&m);
        self.ready[level].push_back(m);
    }

    /// Returns a message to the front (requeue keeps the original order when
    /// callers requeue newest first).
    pub fn push_front(&mut self, m: QueuedMessage) {
        self.ready_count += 1;
        self.ready_bytes += m.msg.size();
        let level = self.level(&m);
        self.ready[level].push_front(m);
    }

    pub fn peek(&self) -> Option<&QueuedMessage> {
        self.ready.iter().rev().find_map(|q| q.front())
    }

    pub fn pop(&mut self) -> Option<QueuedMessage> {
        let m = self.ready.iter_mut().rev().find_map(|q| q.pop_front())?;
        self.ready_count -= 1;
        self.ready_bytes -= m.msg.size();
        Some(m)
    }

    /// Removes every ready message.
    pub fn drain(&mut self) -> Vec<QueuedMessage> {
        self.ready_count = 0;
        self.ready_bytes = 0;
        self.ready.iter_mut().flat_map(|q| q.drain(..)).collect()
    }

    /// Whether a new message would exceed `x-max-length` or `-bytes`.
    pub fn over_limit_with(&self, extra_bytes: usize) -> bool {
        let s = &self.settings;
        s.max_length
            .is_some_and(|max| self.ready_count as u64 + 1 > max)
            || s.max_length_bytes
                .is_some_and(|max| (self.ready_bytes + extra_bytes) as u64 > max)
    }

    /// Redeclare equivalence as RabbitMQ checks it.
    pub fn check_equivalent(
        &self,
        vhost: &str,
        durable: bool,
        exclusive: bool,
        auto_delete: bool,
        args: &FieldTable,
    ) -> Result<(), AmqpError> {
        let ineq = |arg: &str, got: String, cur: String| {
            AmqpError::precondition(format!(
                "inequivalent arg '{arg}' for queue '{}' in vhost '{vhost}': received {got} but current is {cur}",
                self.name
            ))
        };
        let flag = |b: bool| format!("'{b}'");
        if self.durable != durable {
            return Err(ineq("durable", flag(durable), flag(self.durable)));
        }
        if self.exclusive_owner.is_some() != exclusive {
            return Err(ineq(
                "exclusive",
                flag(exclusive),
                flag(self.exclusive_owner.is_some()),
            ));
        }
        if self.auto_delete != auto_delete {
            return Err(ineq(
                "auto_delete",
                flag(auto_delete),
                flag(self.auto_delete),
            ));
        }
        for arg in COMPARED_ARGS {
            let (new, cur) = (args.get(arg), self.arguments.get(arg));
            if !arg_equal(new, cur) {
                return Err(ineq(arg, describe(new), describe(cur)));
            }
        }
        Ok(())
    }
}

fn arg_equal(a: Option<&FieldValue>, b: Option<&FieldValue>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_str().is_some() && x.as_str() == y.as_str() || x == y,
        },
        _ => false,
    }
}

fn describe(v: Option<&FieldValue>) -> String {
    match v {
        None => "none".into(),
        Some(v) => match (v.as_i64(), v.as_str()) {
            (Some(n), _) => format!("the value '{n}' of type '{}'", v.type_name()),
            (_, Some(s)) => format!("the value '{s}' of type 'longstr'"),
            _ => format!("a value of type '{}'", v.type_name()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, FieldValue)]) -> FieldTable {
        FieldTable(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn x_arguments_are_validated() {
        let bad = [
            args(&[("x-expires", FieldValue::I32(0))]),
            args(&[("x-message-ttl", FieldValue::I32(-1))]),
            args(&[("x-max-priority", FieldValue::I32(256))]),
            args(&[("x-overflow", FieldValue::str("nope"))]),
            args(&[("x-expires", FieldValue::str("10"))]),
            args(&[("x-queue-type", FieldValue::str("stream"))]),
        ];
        for a in bad {
            let e = Settings::from_args("q", "/", &a).unwrap_err();
            assert_eq!(e.code, 406, "{a:?}");
            assert!(e.text.contains("invalid arg"), "{}", e.text);
        }
        let ok = Settings::from_args(
            "q",
            "/",
            &args(&[
                ("x-message-ttl", FieldValue::I64(0)),
                ("x-max-priority", FieldValue::U8(10)),
            ]),
        )
        .unwrap();
        assert_eq!(ok.message_ttl, Some(0));
        assert_eq!(ok.max_priority, Some(10));
    }

    #[test]
    fn rates_are_per_second_deltas() {
        let r = rates_between((10, 0, 0), (60, 20, 5), 5.0);
        assert_eq!(
            r,
            Rates {
                publish: 10.0,
                deliver: 4.0,
                ack: 1.0
            }
        );
        assert_eq!(rates_between((0, 0, 0), (5, 5, 5), 0.0), Rates::default());
    }

    #[test]
    fn redeclare_compares_integers_by_value() {
        let a = args(&[("x-expires", FieldValue::I32(10_000))]);
        let q = Queue::new("q".into(), true, None, false, a, Settings::default(), 0);
        q.check_equivalent(
            "/",
            true,
            false,
            false,
            &args(&[("x-expires", FieldValue::I64(10_000))]),
        )
        .unwrap();
        q.check_equivalent(
            "/",
            true,
            false,
            false,
            &args(&[
                ("x-expires", FieldValue::I64(10_000)),
                ("foo", FieldValue::I8(1)),
            ]),
        )
        .unwrap();
        let e = q
            .check_equivalent(
                "/",
                true,
                false,
                false,
                &args(&[("x-expires", FieldValue::I32(20_000))]),
            )
            .unwrap_err();
        assert!(
            e.text.contains("inequivalent arg 'x-expires'"),
            "{}",
            e.text
        );
        assert!(
            q.check_equivalent(
                "/",
                false,
                false,
                false,
                &args(&[("x-expires", FieldValue::I32(10_000))])
            )
            .is_err()
        );
    }
}
