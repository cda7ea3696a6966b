//! Handlers for the channel-level methods: exchange, queue, basic, confirm, tx.

use crate::error::AmqpError;
use crate::proto::method::*;
use crate::proto::{FieldTable, Method};

use super::channel::{Channel, Confirms, Consumer, Settle, Tx};
use super::exchange::{Binding, Destination, Exchange, ExchangeKind};
use super::queue::{ConsumerRef, Queue, Settings};
use super::{ConnId, Core, now_ms};

/// The pseudo-queue of RabbitMQ's direct reply-to.
pub const REPLY_TO: &str = "amq.rabbitmq.reply-to";

fn random_suffix() -> String {
    use rand::RngCore;
    let mut raw = [0u8; 16];
    rand::rng().fill_bytes(&mut raw);
    base64url(&raw)
}

fn base64url(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(data.len() * 4 / 3 + 2);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

impl Core {
    pub(super) fn channel_open(&mut self, conn: ConnId, channel: u16) -> Result<(), AmqpError> {
        let c = self
            .conns
            .get_mut(&conn)
            .ok_or_else(|| AmqpError::channel_error("connection is gone"))?;
        c.channels.insert(channel, Channel::default());
        c.outbox.method(channel, &ChannelOpenOk::default().into());
        Ok(())
    }

    /// Cancels the channel's consumers and requeues its unacked deliveries.
    pub(super) fn channel_release(&mut self, conn: ConnId, channel: u16) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let Some(mut ch) = c.channels.remove(&channel) else {
            return;
        };
        let vhost = c.vhost.clone();
        if let Some(token) = ch.reply_token.take() {
            self.reply_tokens.remove(&token);
        }
        self.confirm_waiters.remove(&(conn, channel));
        let mut touched: Vec<String> = Vec::new();
        for (tag, consumer) in ch.consumers.drain() {
            self.detach_consumer(&vhost, &consumer.queue, conn, channel, &tag);
            touched.push(consumer.queue);
        }
        let unacked: Vec<_> = std::mem::take(&mut ch.unacked).into_iter().rev().collect();
        for (_, u) in unacked {
            touched.push(u.queue.clone());
            self.requeue(&vhost, &u.queue, u.qm);
        }
        touched.sort();
        touched.dedup();
        for q in touched {
            self.maybe_auto_delete(&vhost, &q);
            self.dispatch(&vhost, &q);
        }
    }

    fn detach_consumer(&mut self, vhost: &str, queue: &str, conn: ConnId, channel: u16, tag: &str) {
        if let Some(q) = self
            .vhosts
            .get_mut(vhost)
            .and_then(|v| v.queues.get_mut(queue))
        {
            q.consumers
                .retain(|c| !(c.conn == conn && c.channel == channel && c.tag == tag));
            q.last_used_ms = now_ms();
        }
    }

    pub(super) fn method(
        &mut self,
        conn: ConnId,
        channel: u16,
        m: Method,
    ) -> Result<(), AmqpError> {
        match m {
            Method::ExchangeDeclare(m) => self.exchange_declare(conn, channel, m),
            Method::ExchangeDelete(m) => self.exchange_delete(conn, channel, m),
            m @ (Method::ExchangeBind(_)
            | Method::ExchangeUnbind(_)
            | Method::QueueBind(_)
            | Method::QueueUnbind(_)) => self.exchange_binding_method(conn, channel, m),
            Method::QueueDeclare(m) => self.queue_declare(conn, channel, m),
            Method::QueuePurge(m) => self.queue_purge(conn, channel, m),
            Method::QueueDelete(m) => self.queue_delete_method(conn, channel, m),
            Method::BasicQos(m) => self.basic_qos(conn, channel, m),
            Method::BasicConsume(m) => self.basic_consume(conn, channel, m),
            Method::BasicCancel(m) => self.basic_cancel(conn, channel, m),
            Method::BasicGet(m) => self.basic_get(conn, channel, m),
            Method::BasicAck(m) => self.settle_or_buffer(
                conn,
                channel,
                Settle::Ack {
                    tag: m.delivery_tag,
                    multiple: m.multiple,
                },
            ),
            Method::BasicNack(m) => self.settle_or_buffer(
                conn,
                channel,
                Settle::Nack {
                    tag: m.delivery_tag,
                    multiple: m.multiple,
                    requeue: m.requeue,
                },
            ),
            Method::BasicReject(m) => self.settle_or_buffer(
                conn,
                channel,
                Settle::Nack {
                    tag: m.delivery_tag,
                    multiple: false,
                    requeue: m.requeue,
                },
            ),
            Method::BasicRecover(m) => self.basic_recover(conn, channel, m.requeue, true),
            Method::BasicRecoverAsync(m) => self.basic_recover(conn, channel, m.requeue, false),
            Method::ConfirmSelect(m) => self.confirm_select(conn, channel, m),
            Method::TxSelect(_) => self.tx_select(conn, channel),
            Method::TxCommit(_) => self.tx_commit(conn, channel),
            Method::TxRollback(_) => self.tx_rollback(conn, channel),
            Method::AccessRequest(_) => {
                self.send(conn, channel, AccessRequestOk { ticket: 1 }.into());
                Ok(())
            }
            Method::ChannelFlow(f) => {
                if !f.active {
                    return Err(AmqpError::not_implemented("active=false"));
                }
                self.send(conn, channel, ChannelFlowOk { active: true }.into());
                Ok(())
            }
            other => Err(AmqpError::channel_error(format!(
                "unexpected method {} on a channel",
                other.name()
            ))),
        }
    }

    pub(super) fn conn_vhost(&self, conn: ConnId) -> Result<String, AmqpError> {
        self.conns
            .get(&conn)
            .map(|c| c.vhost.clone())
            .ok_or_else(|| AmqpError::channel_error("connection is gone"))
    }

    pub(super) fn channel_mut(
        &mut self,
        conn: ConnId,
        channel: u16,
    ) -> Result<&mut Channel, AmqpError> {
        self.conns
            .get_mut(&conn)
            .and_then(|c| c.channels.get_mut(&channel))
            .ok_or_else(|| {
                AmqpError::channel_error(format!("expected 'channel.open' on channel {channel}"))
            })
    }

    fn exchange_declare(
        &mut self,
        conn: ConnId,
        channel: u16,
        m: ExchangeDeclare,
    ) -> Result<(), AmqpError> {
        let vname = self.conn_vhost(conn)?;
        if m.exchange.is_empty() {
            return Err(AmqpError::access_refused(
                "operation not permitted on the default exchange",
            ));
        }
        let vhost = self
            .vhosts
            .get_mut(&vname)
            .ok_or_else(|| AmqpError::not_found("vhost is gone"))?;
        if m.passive {
            if !vhost.exchanges.contains_key(&m.exchange) {
                return Err(AmqpError::not_found(format!(
                    "no exchange '{}' in vhost '{vname}'",
                    m.exchange
                )));
            }
        } else {
            let kind = ExchangeKind::parse(&m.kind).ok_or_else(|| {
                AmqpError::new(
                    crate::proto::constants::COMMAND_INVALID,
                    format!("invalid exchange type '{}'", m.kind),
                )
            })?;
            if let Some(ae) = m.arguments.get("alternate-exchange")
                && ae.as_str().is_none()
            {
                return Err(AmqpError::precondition(format!(
                    "invalid type '{}' for arg 'alternate-exchange' for exchange '{}' in vhost '{vname}'",
                    ae.type_name(),
                    m.exchange
                )));
            }
            match vhost.exchanges.get(&m.exchange) {
                Some(e) => {
                    let ineq = |arg: &str, got: &str, cur: &str| {
                        AmqpError::precondition(format!(
                            "inequivalent arg '{arg}' for exchange '{}' in vhost '{vname}': received '{got}' but current is '{cur}'",
                            m.exchange
                        ))
                    };
                    if e.kind != kind {
                        return Err(ineq("type", kind.as_str(), e.kind.as_str()));
                    }
                    if e.durable != m.durable {
                        return Err(ineq(
                            "durable",
                            &m.durable.to_string(),
                            &e.durable.to_string(),
                        ));
                    }
                    if e.auto_delete != m.auto_delete {
                        return Err(ineq(
                            "auto_delete",
                            &m.auto_delete.to_string(),
                            &e.auto_delete.to_string(),
                        ));
                    }
                }
                None => {
                    if m.exchange.starts_with("amq.") {
                        return Err(AmqpError::access_refused(format!(
                            "exchange name '{}' contains reserved prefix 'amq.*'",
                            m.exchange
                        )));
                    }
                    let mut e = Exchange::new(&m.exchange, kind, m.durable);
                    e.auto_delete = m.auto_delete;
                    e.internal = m.internal;
                    e.arguments = m.arguments;
                    vhost.exchanges.insert(m.exchange.clone(), e);
                    if m.durable {
                        self.mark_topology_dirty();
                    }
                }
            }
        }
        if !m.nowait {
            self.send(conn, channel, ExchangeDeclareOk {}.into());
        }
        Ok(())
    }

    fn exchange_delete(
        &mut self,
        conn: ConnId,
        channel: u16,
        m: ExchangeDelete,
    ) -> Result<(), AmqpError> {
        let vname = self.conn_vhost(conn)?;
        if m.exchange.is_empty() || m.exchange.starts_with("amq.") {
            return Err(AmqpError::access_refused(format!(
                "operation not permitted on exchange '{}'",
                m.exchange
            )));
        }
        let vhost = self
            .vhosts
            .get_mut(&vname)
            .ok_or_else(|| AmqpError::not_found("vhost is gone"))?;
        if let Some(e) = vhost.exchanges.get(&m.exchange) {
            if m.if_unused && !e.bindings.is_empty() {
                return Err(AmqpError::precondition(format!(
                    "exchange '{}' in vhost '{vname}' in use",
                    m.exchange
                )));
            }
            self.remove_exchange(&vname, &m.exchange);
        }
        if !m.nowait {
            self.send(conn, channel, ExchangeDeleteOk {}.into());
        }
        Ok(())
    }

    /// Removes an exchange and every binding that points at it.
    pub(super) fn remove_exchange(&mut self, vname: &str, name: &str) {
        let Some(vhost) = self.vhosts.get_mut(vname) else {
            return;
        };
        let Some(e) = vhost.exchanges.remove(name) else {
            return;
        };
        let dest = Destination::Exchange(name.to_owned());
        let mut emptied = Vec::new();
        for other in vhost.exchanges.values_mut() {
            let before = other.bindings.len();
            other.bindings.retain(|b| b.destination != dest);
            if before != other.bindings.len() && other.bindings.is_empty() && other.auto_delete {
                emptied.push(other.name.clone());
            }
        }
        if e.durable {
            self.mark_topology_dirty();
        }
        for x in emptied {
            self.remove_exchange(vname, &x);
        }
    }

    /// Adds or removes a binding; the caller sends the matching -ok.
    fn bind(
        &mut self,
        conn: ConnId,
        source: &str,
        dest: Destination,
        key: String,
        args: FieldTable,
        bind: bool,
    ) -> Result<(), AmqpError> {
        let vname = self.conn_vhost(conn)?;
        let vhost = self
            .vhosts
            .get(&vname)
            .ok_or_else(|| AmqpError::not_found("vhost is gone"))?;
        if source.is_empty() || matches!(&dest, Destination::Exchange(d) if d.is_empty()) {
            return Err(AmqpError::access_refused(
                "operation not permitted on the default exchange",
            ));
        }
        let dest_durable = match &dest {
            Destination::Exchange(d) => match vhost.exchanges.get(d) {
                None => {
                    return Err(AmqpError::not_found(format!(
                        "no exchange '{d}' in vhost '{vname}'"
                    )));
                }
                Some(e) => e.durable,
            },
            Destination::Queue(q) => match vhost.queues.get(q) {
                None => {
                    return Err(AmqpError::not_found(format!(
                        "no queue '{q}' in vhost '{vname}'"
                    )));
                }
                Some(queue) => {
                    check_exclusive(queue, conn, &vname)?;
                    queue.durable && queue.exclusive_owner.is_none()
                }
            },
        };
        let vhost = self
            .vhosts
            .get_mut(&vname)
            .ok_or_else(|| AmqpError::not_found("vhost is gone"))?;
        let Some(e) = vhost.exchanges.get_mut(source) else {
            return Err(AmqpError::not_found(format!(
                "no exchange '{source}' in vhost '{vname}'"
            )));
        };
        let durable = e.durable && dest_durable;
        let mut delete_source = false;
        let mut changed = false;
        if bind {
            if !e.bindings.iter().any(|b| b.same_as(&dest, &key, &args)) {
                e.bindings.push(Binding::new(dest, key, args)?);
                e.had_binding = true;
                changed = true;
            }
        } else {
            let before = e.bindings.len();
            e.bindings.retain(|b| !b.same_as(&dest, &key, &args));
            if before != e.bindings.len() {
                changed = true;
                delete_source = e.auto_delete && e.bindings.is_empty();
            }
        }
        if changed && durable {
            self.mark_topology_dirty();
        }
        if delete_source {
            self.remove_exchange(&vname, source);
        }
        Ok(())
    }

    fn queue_declare(
        &mut self,
        conn: ConnId,
        channel: u16,
        m: QueueDeclare,
    ) -> Result<(), AmqpError> {
        let vname = self.conn_vhost(conn)?;
        let now = now_ms();
        if m.queue == REPLY_TO {
            let consumers = u32::from(self.channel_mut(conn, channel)?.reply_consumer.is_some());
            if !m.nowait {
                self.send(
                    conn,
                    channel,
                    QueueDeclareOk {
                        queue: m.queue,
                        message_count: 0,
                        consumer_count: consumers,
                    }
                    .into(),
                );
            }
            return Ok(());
        }
        if m.queue.starts_with("amq.") && !m.passive {
            return Err(AmqpError::access_refused(format!(
                "queue name '{}' contains reserved prefix 'amq.*'",
                m.queue
            )));
        }
        let vhost = self
            .vhosts
            .get_mut(&vname)
            .ok_or_else(|| AmqpError::not_found("vhost is gone"))?;
        let name = if m.queue.is_empty() && !m.passive {
            format!("amq.gen-{}", random_suffix())
        } else {
            m.queue.clone()
        };
        let (message_count, consumer_count) = match vhost.queues.get_mut(&name) {
            Some(q) => {
                check_exclusive(q, conn, &vname)?;
                if !m.passive {
                    q.check_equivalent(
                        &vname,
                        m.durable,
                        m.exclusive,
                        m.auto_delete,
                        &m.arguments,
                    )?;
                }
                q.last_used_ms = now;
                (q.ready_count() as u32, q.consumers.len() as u32)
            }
            None if m.passive => {
                return Err(AmqpError::not_found(format!(
                    "no queue '{name}' in vhost '{vname}'"
                )));
            }
            None => {
                let settings = Settings::from_args(&name, &vname, &m.arguments)?;
                let owner = m.exclusive.then_some(conn);
                let q = Queue::new(
                    name.clone(),
                    m.durable,
                    owner,
                    m.auto_delete,
                    m.arguments,
                    settings,
                    now,
                );
                if q.durable && q.exclusive_owner.is_none() {
                    self.mark_topology_dirty();
                }
                let vhost = self
                    .vhosts
                    .get_mut(&vname)
                    .ok_or_else(|| AmqpError::not_found("vhost is gone"))?;
                vhost.queues.insert(name.clone(), q);
                (0, 0)
            }
        };
        if !m.nowait {
            self.send(
                conn,
                channel,
                QueueDeclareOk {
                    queue: name,
                    message_count,
                    consumer_count,
                }
                .into(),
            );
        }
        Ok(())
    }

    fn queue_purge(&mut self, conn: ConnId, channel: u16, m: QueuePurge) -> Result<(), AmqpError> {
        let vname = self.conn_vhost(conn)?;
        let q = self.queue_for(conn, &vname, &m.queue)?;
        let purged = q.drain();
        let count = purged.len() as u32;
        for qm in purged {
            self.ready_bytes = self.ready_bytes.saturating_sub(qm.msg.size() as u64);
            self.forget(qm);
        }
        if !m.nowait {
            self.send(
                conn,
                channel,
                QueuePurgeOk {
                    message_count: count,
                }
                .into(),
            );
        }
        Ok(())
    }

    fn queue_delete_method(
        &mut self,
        conn: ConnId,
        channel: u16,
        m: QueueDelete,
    ) -> Result<(), AmqpError> {
        let vname = self.conn_vhost(conn)?;
        let count = match self.vhosts.get(&vname).and_then(|v| v.queues.get(&m.queue)) {
            None => 0,
            Some(q) => {
                check_exclusive(q, conn, &vname)?;
                if m.if_unused && !q.consumers.is_empty() {
                    return Err(AmqpError::precondition(format!(
                        "queue '{}' in vhost '{vname}' in use",
                        m.queue
                    )));
                }
                if m.if_empty && q.ready_count() > 0 {
                    return Err(AmqpError::precondition(format!(
                        "queue '{}' in vhost '{vname}' is not empty",
                        m.queue
                    )));
                }
                self.delete_queue(&vname, &m.queue)
            }
        };
        if !m.nowait {
            self.send(
                conn,
                channel,
                QueueDeleteOk {
                    message_count: count as u32,
                }
                .into(),
            );
        }
        Ok(())
    }

    /// The queue `name`, if this connection may use it (exclusivity).
    pub(super) fn queue_for(
        &mut self,
        conn: ConnId,
        vname: &str,
        name: &str,
    ) -> Result<&mut Queue, AmqpError> {
        let q = self
            .vhosts
            .get_mut(vname)
            .and_then(|v| v.queues.get_mut(name))
            .ok_or_else(|| AmqpError::not_found(format!("no queue '{name}' in vhost '{vname}'")))?;
        check_exclusive(q, conn, vname)?;
        Ok(q)
    }

    fn exchange_binding_method(
        &mut self,
        conn: ConnId,
        channel: u16,
        m: Method,
    ) -> Result<(), AmqpError> {
        let (reply, nowait): (Method, bool) = match m {
            Method::ExchangeBind(b) => {
                let nowait = b.nowait;
                self.bind(
                    conn,
                    &b.source,
                    Destination::Exchange(b.destination),
                    b.routing_key,
                    b.arguments,
                    true,
                )?;
                (ExchangeBindOk {}.into(), nowait)
            }
            Method::ExchangeUnbind(b) => {
                let nowait = b.nowait;
                self.bind(
                    conn,
                    &b.source,
                    Destination::Exchange(b.destination),
                    b.routing_key,
                    b.arguments,
                    false,
                )?;
                (ExchangeUnbindOk {}.into(), nowait)
            }
            Method::QueueBind(b) => {
                let nowait = b.nowait;
                self.bind(
                    conn,
                    &b.exchange,
                    Destination::Queue(b.queue),
                    b.routing_key,
                    b.arguments,
                    true,
                )?;
                (QueueBindOk {}.into(), nowait)
            }
            Method::QueueUnbind(b) => {
                let vname = self.conn_vhost(conn)?;
                let missing_queue = !self
                    .vhosts
                    .get(&vname)
                    .is_some_and(|v| v.queues.contains_key(&b.queue));
                let missing_exchange = !self
                    .vhosts
                    .get(&vname)
                    .is_some_and(|v| v.exchanges.contains_key(&b.exchange));
                // Unbinding what does not exist is not an error in RabbitMQ 3.x.
                if !(missing_queue || missing_exchange) {
                    self.bind(
                        conn,
                        &b.exchange,
                        Destination::Queue(b.queue),
                        b.routing_key,
                        b.arguments,
                        false,
                    )?;
                } else if b.exchange.is_empty() {
                    return Err(AmqpError::access_refused(
                        "operation not permitted on the default exchange",
                    ));
                }
                (QueueUnbindOk {}.into(), false)
            }
            other => {
                return Err(AmqpError::channel_error(format!(
                    "unexpected {}",
                    other.name()
                )));
            }
        };
        if !nowait {
            self.send(conn, channel, reply);
        }
        Ok(())
    }
}

/// Another connection's exclusive queue is locked (publishing excepted).
pub(super) fn check_exclusive(q: &Queue, conn: ConnId, vname: &str) -> Result<(), AmqpError> {
    match q.exclusive_owner {
        Some(owner) if owner != conn => Err(AmqpError::locked(format!(
            "cannot obtain exclusive access to locked queue '{}' in vhost '{vname}'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.",
            q.name
        ))),
        _ => Ok(()),
    }
}

pub(super) fn consumer_ref(conn: ConnId, channel: u16, tag: &str, exclusive: bool) -> ConsumerRef {
    ConsumerRef {
        conn,
        channel,
        tag: tag.to_owned(),
        exclusive,
    }
}

pub(super) fn new_consumer(queue: &str, no_ack: bool, prefetch: u16) -> Consumer {
    Consumer {
        queue: queue.to_owned(),
        no_ack,
        prefetch,
        unacked: 0,
    }
}

pub(super) fn new_tx() -> Tx {
    Tx::default()
}

pub(super) fn new_confirms() -> Confirms {
    Confirms {
        next_seq: 0,
        pending: Default::default(),
    }
}

pub(super) fn server_tag() -> String {
    format!("amq.ctag-{}", random_suffix())
}

pub(super) fn reply_token() -> String {
    random_suffix()
}

#[cfg(test)]
mod tests {
    use super::base64url;

    #[test]
    fn base64url_of_16_bytes_is_22_chars() {
        assert_eq!(base64url(&[0u8; 16]).len(), 22);
        assert_eq!(base64url(b"Man"), "TWFu");
        assert_eq!(base64url(b"Ma"), "TWE");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }
}
