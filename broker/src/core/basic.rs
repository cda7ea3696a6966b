//! Handlers for basic.*, confirm.select and tx.*: the message paths.

use std::sync::Arc;

use bytes::Bytes;

use crate::error::AmqpError;
use crate::proto::method::*;
use crate::proto::{ContentHeader, Method};

use super::channel::{ConfirmOutcome, PendingConfirm, PendingPublish, Settle};
use super::message::Message;
use super::methods::{
    REPLY_TO, consumer_ref, new_confirms, new_consumer, new_tx, reply_token, server_tag,
};
use super::{ConnId, Core, now_ms};

impl Core {
    pub(super) fn basic_qos(
        &mut self,
        conn: ConnId,
        channel: u16,
        m: BasicQos,
    ) -> Result<(), AmqpError> {
        if m.prefetch_size != 0 {
            return Err(AmqpError::not_implemented(format!(
                "prefetch_size!=0 ({})",
                m.prefetch_size
            )));
        }
        let vname = self.conn_vhost(conn)?;
        let ch = self.channel_mut(conn, channel)?;
        let queues: Vec<String> = if m.global {
            ch.prefetch_global = m.prefetch_count;
            ch.consumers.values().map(|c| c.queue.clone()).collect()
        } else {
            ch.prefetch_default = m.prefetch_count;
            Vec::new()
        };
        self.send(conn, channel, BasicQosOk {}.into());
        // A raised global limit applies at once to existing consumers.
        for q in queues {
            self.dispatch(&vname, &q);
        }
        Ok(())
    }

    pub(super) fn basic_consume(
        &mut self,
        conn: ConnId,
        channel: u16,
        m: BasicConsume,
    ) -> Result<(), AmqpError> {
        let vname = self.conn_vhost(conn)?;
        let ch = self.channel_mut(conn, channel)?;
        let tag = if m.consumer_tag.is_empty() {
            server_tag()
        } else {
            m.consumer_tag.clone()
        };
        if ch.consumers.contains_key(&tag) {
            return Err(AmqpError::not_allowed(format!(
                "attempt to reuse consumer tag '{tag}'"
            )));
        }
        if m.queue == REPLY_TO {
            if !m.no_ack {
                return Err(AmqpError::precondition("reply consumer cannot acknowledge"));
            }
            if ch.reply_consumer.is_some() {
                return Err(AmqpError::precondition("reply consumer already set"));
            }
            let token = reply_token();
            ch.reply_consumer = Some(tag.clone());
            ch.reply_token = Some(token.clone());
            ch.consumers
                .insert(tag.clone(), new_consumer(REPLY_TO, true, 0));
            self.reply_tokens.insert(token, (conn, channel));
            if !m.nowait {
                self.send(conn, channel, BasicConsumeOk { consumer_tag: tag }.into());
            }
            return Ok(());
        }
        let prefetch = ch.prefetch_default;
        let q = self.queue_for(conn, &vname, &m.queue)?;
        if q.consumers.iter().any(|c| c.exclusive) || (m.exclusive && !q.consumers.is_empty()) {
            return Err(AmqpError::access_refused(format!(
                "queue '{}' in vhost '{vname}' in exclusive use",
                m.queue
            )));
        }
        q.consumers
            .push(consumer_ref(conn, channel, &tag, m.exclusive));
        q.had_consumer = true;
        q.last_used_ms = now_ms();
        let ch = self.channel_mut(conn, channel)?;
        ch.consumers
            .insert(tag.clone(), new_consumer(&m.queue, m.no_ack, prefetch));
        if !m.nowait {
            self.send(conn, channel, BasicConsumeOk { consumer_tag: tag }.into());
        }
        self.dispatch(&vname, &m.queue);
        Ok(())
    }

    pub(super) fn basic_cancel(
        &mut self,
        conn: ConnId,
        channel: u16,
        m: BasicCancel,
    ) -> Result<(), AmqpError> {
        let vname = self.conn_vhost(conn)?;
        let ch = self.channel_mut(conn, channel)?;
        let removed = ch.consumers.remove(&m.consumer_tag);
        if ch.reply_consumer.as_deref() == Some(m.consumer_tag.as_str()) {
            ch.reply_consumer = None;
            if let Some(t) = ch.reply_token.take() {
                self.reply_tokens.remove(&t);
            }
        }
        if !m.nowait {
            self.send(
                conn,
                channel,
                BasicCancelOk {
                    consumer_tag: m.consumer_tag.clone(),
                }
                .into(),
            );
        }
        if let Some(c) = removed
            && c.queue != REPLY_TO
        {
            if let Some(q) = self
                .vhosts
                .get_mut(&vname)
                .and_then(|v| v.queues.get_mut(&c.queue))
            {
                q.consumers.retain(|r| {
                    !(r.conn == conn && r.channel == channel && r.tag == m.consumer_tag)
                });
                q.last_used_ms = now_ms();
            }
            self.maybe_auto_delete(&vname, &c.queue);
            self.dispatch(&vname, &c.queue);
        }
        Ok(())
    }

    pub(super) fn basic_get(
        &mut self,
        conn: ConnId,
        channel: u16,
        m: BasicGet,
    ) -> Result<(), AmqpError> {
        let vname = self.conn_vhost(conn)?;
        let now = now_ms();
        self.expire_queue(&vname, &m.queue, now);
        let q = self.queue_for(conn, &vname, &m.queue)?;
        q.last_used_ms = now;
        let Some(qm) = q.pop() else {
            self.send(conn, channel, BasicGetEmpty::default().into());
            return Ok(());
        };
        q.stats.delivered += 1;
        if !m.no_ack {
            q.unacked += 1;
        }
        // No expired message is left at the head after a fetch.
        self.expire_queue(&vname, &m.queue, now);
        let remaining = self
            .vhosts
            .get(&vname)
            .and_then(|v| v.queues.get(&m.queue))
            .map_or(0, |q| q.ready_count() as u32);
        self.ready_bytes = self.ready_bytes.saturating_sub(qm.msg.size() as u64);
        let ch = self.channel_mut(conn, channel)?;
        let tag = ch.next_delivery_tag();
        let msg = qm.msg.clone();
        let redelivered = qm.redelivered;
        if m.no_ack {
            self.forget(qm);
        } else {
            ch.unacked.insert(
                tag,
                super::channel::Unacked {
                    queue: m.queue.clone(),
                    qm,
                    consumer: None,
                },
            );
        }
        self.totals.delivered += 1;
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats.delivered += 1;
            let method: Method = BasicGetOk {
                delivery_tag: tag,
                redelivered,
                exchange: msg.exchange.clone(),
                routing_key: msg.routing_key.clone(),
                message_count: remaining,
            }
            .into();
            c.outbox.content(channel, &method, &msg.header, &msg.body);
        }
        Ok(())
    }

    pub(super) fn settle_or_buffer(
        &mut self,
        conn: ConnId,
        channel: u16,
        s: Settle,
    ) -> Result<(), AmqpError> {
        let ch = self.channel_mut(conn, channel)?;
        // Unknown tags fail at once, even inside a transaction.
        let (tag, multiple) = match s {
            Settle::Ack { tag, multiple } | Settle::Nack { tag, multiple, .. } => (tag, multiple),
        };
        let known = if multiple {
            tag == 0 || ch.unacked.range(..=tag).next().is_some()
        } else {
            ch.unacked.contains_key(&tag)
        };
        if !known {
            return Err(AmqpError::precondition(format!(
                "unknown delivery tag {tag}"
            )));
        }
        if let Some(tx) = ch.tx.as_mut() {
            tx.settles.push(s);
            return Ok(());
        }
        self.settle(conn, channel, s)
    }

    pub(super) fn settle(
        &mut self,
        conn: ConnId,
        channel: u16,
        s: Settle,
    ) -> Result<(), AmqpError> {
        let vname = self.conn_vhost(conn)?;
        let ch = self.channel_mut(conn, channel)?;
        let (tag, multiple, requeue, ack) = match s {
            Settle::Ack { tag, multiple } => (tag, multiple, false, true),
            Settle::Nack {
                tag,
                multiple,
                requeue,
            } => (tag, multiple, requeue, false),
        };
        let taken = ch
            .take_unacked(tag, multiple)
            .ok_or_else(|| AmqpError::precondition(format!("unknown delivery tag {tag}")))?;
        let mut touched: Vec<String> = Vec::with_capacity(1);
        // Newest first, so that requeued messages regain their order.
        for (_, u) in taken.into_iter().rev() {
            if let Some(q) = self
                .vhosts
                .get_mut(&vname)
                .and_then(|v| v.queues.get_mut(&u.queue))
            {
                q.unacked = q.unacked.saturating_sub(1);
                if ack {
                    q.stats.acked += 1;
                }
            }
            if !touched.contains(&u.queue) {
                touched.push(u.queue.clone());
            }
            if ack {
                self.totals.acked += 1;
                self.forget(u.qm);
            } else if requeue {
                self.requeue(&vname, &u.queue, u.qm);
            } else {
                self.dead_letter(&vname, &u.queue, u.qm, "rejected");
            }
        }
        for q in touched {
            self.dispatch(&vname, &q);
        }
        Ok(())
    }

    pub(super) fn basic_recover(
        &mut self,
        conn: ConnId,
        channel: u16,
        requeue: bool,
        reply: bool,
    ) -> Result<(), AmqpError> {
        if !requeue {
            return Err(AmqpError::not_implemented("requeue=false"));
        }
        let ch = self.channel_mut(conn, channel)?;
        if !ch.unacked.is_empty() {
            self.settle(
                conn,
                channel,
                Settle::Nack {
                    tag: 0,
                    multiple: true,
                    requeue: true,
                },
            )?;
        }
        if reply {
            self.send(conn, channel, BasicRecoverOk {}.into());
        }
        Ok(())
    }

    pub(super) fn confirm_select(
        &mut self,
        conn: ConnId,
        channel: u16,
        m: ConfirmSelect,
    ) -> Result<(), AmqpError> {
        let ch = self.channel_mut(conn, channel)?;
        if ch.tx.is_some() {
            return Err(AmqpError::precondition(
                "cannot switch from tx to confirm mode",
            ));
        }
        if ch.confirm.is_none() {
            ch.confirm = Some(new_confirms());
        }
        if !m.nowait {
            self.send(conn, channel, ConfirmSelectOk {}.into());
        }
        Ok(())
    }

    pub(super) fn tx_select(&mut self, conn: ConnId, channel: u16) -> Result<(), AmqpError> {
        let ch = self.channel_mut(conn, channel)?;
        if ch.confirm.is_some() {
            return Err(AmqpError::precondition(
                "cannot switch from confirm to tx mode",
            ));
        }
        if ch.tx.is_none() {
            ch.tx = Some(new_tx());
        }
        self.send(conn, channel, TxSelectOk {}.into());
        Ok(())
    }

    pub(super) fn tx_commit(&mut self, conn: ConnId, channel: u16) -> Result<(), AmqpError> {
        let ch = self.channel_mut(conn, channel)?;
        let Some(tx) = ch.tx.as_mut() else {
            return Err(AmqpError::precondition("channel is not transactional"));
        };
        let work = std::mem::take(tx);
        for p in work.publishes {
            self.route_publish(conn, channel, p.method, p.header, p.body)?;
        }
        for s in work.settles {
            // A tag settled twice within one transaction is unknown the second time.
            self.settle(conn, channel, s)?;
        }
        self.send(conn, channel, TxCommitOk {}.into());
        Ok(())
    }

    pub(super) fn tx_rollback(&mut self, conn: ConnId, channel: u16) -> Result<(), AmqpError> {
        let ch = self.channel_mut(conn, channel)?;
        let Some(tx) = ch.tx.as_mut() else {
            return Err(AmqpError::precondition("channel is not transactional"));
        };
        *tx = new_tx();
        self.send(conn, channel, TxRollbackOk {}.into());
        Ok(())
    }

    pub(super) fn publish(
        &mut self,
        conn: ConnId,
        channel: u16,
        m: BasicPublish,
        header: ContentHeader,
        body: Bytes,
    ) -> Result<(), AmqpError> {
        if m.immediate {
            return Err(AmqpError::not_implemented("immediate=true"));
        }
        let vname = self.conn_vhost(conn)?;
        let c = self
            .conns
            .get_mut(&conn)
            .ok_or_else(|| AmqpError::channel_error("connection is gone"))?;
        c.has_published = true;
        c.stats.published += 1;
        if let Some(uid) = &header.properties.user_id
            && *uid != c.user
        {
            return Err(AmqpError::precondition(format!(
                "user_id property set to '{uid}' but authenticated user was '{}'",
                c.user
            )));
        }
        let vhost = self
            .vhosts
            .get(&vname)
            .ok_or_else(|| AmqpError::not_found("vhost is gone"))?;
        match vhost.exchanges.get(&m.exchange) {
            None => {
                return Err(AmqpError::not_found(format!(
                    "no exchange '{}' in vhost '{vname}'",
                    m.exchange
                )));
            }
            Some(e) if e.internal => {
                return Err(AmqpError::access_refused(format!(
                    "cannot publish to internal exchange '{}' in vhost '{vname}'",
                    m.exchange
                )));
            }
            Some(_) => {}
        }
        let ch = self.channel_mut(conn, channel)?;
        if let Some(conf) = ch.confirm.as_mut() {
            conf.next_seq += 1;
        }
        if let Some(tx) = ch.tx.as_mut() {
            tx.publishes.push(PendingPublish {
                method: m,
                header,
                body,
            });
            return Ok(());
        }
        self.route_publish(conn, channel, m, header, body)
    }

    /// Routes one publish to its queues, handles returns and confirms.
    fn route_publish(
        &mut self,
        conn: ConnId,
        channel: u16,
        m: BasicPublish,
        mut header: ContentHeader,
        body: Bytes,
    ) -> Result<(), AmqpError> {
        let vname = self.conn_vhost(conn)?;
        self.totals.published += 1;
        let seq = self
            .channel_mut(conn, channel)?
            .confirm
            .as_ref()
            .map(|c| c.next_seq);

        // Direct reply-to: the requester's side rewrites reply_to.
        if header.properties.reply_to.as_deref() == Some(REPLY_TO) {
            let ch = self.channel_mut(conn, channel)?;
            let token = ch
                .reply_token
                .clone()
                .ok_or_else(|| AmqpError::precondition("fast reply consumer does not exist"))?;
            header.properties.reply_to = Some(format!("{REPLY_TO}.{token}"));
            header = ContentHeader::new(header.body_size, header.properties);
        }
        let msg = Arc::new(Message {
            exchange: m.exchange.clone(),
            routing_key: m.routing_key.clone(),
            header,
            body,
        });

        let mut routed = false;
        let mut journal_seq = 0;
        let mut rejected = false;
        if m.exchange.is_empty()
            && m.routing_key.starts_with(REPLY_TO)
            && m.routing_key.len() > REPLY_TO.len() + 1
        {
            routed = self.deliver_reply(&m.routing_key[REPLY_TO.len() + 1..], &msg);
        } else {
            let queues = self.route(
                &vname,
                &m.exchange,
                &m.routing_key,
                msg.header.properties.headers.as_ref(),
            );
            routed = !queues.is_empty() || routed;
            for q in queues {
                let outcome = self.enqueue(&vname, &q, msg.clone());
                journal_seq = journal_seq.max(outcome.journal_seq);
                rejected |= outcome.rejected;
            }
        }
        if !routed && m.mandatory {
            self.totals.returned += 1;
            if let Some(c) = self.conns.get(&conn) {
                let ret: Method = BasicReturn {
                    reply_code: crate::proto::constants::NO_ROUTE,
                    reply_text: "NO_ROUTE".into(),
                    exchange: m.exchange,
                    routing_key: m.routing_key,
                }
                .into();
                c.outbox.content(channel, &ret, &msg.header, &msg.body);
            }
        }
        if let Some(seq) = seq {
            let outcome = if rejected {
                ConfirmOutcome::Nack
            } else {
                ConfirmOutcome::Ack
            };
            let ch = self.channel_mut(conn, channel)?;
            if let Some(conf) = ch.confirm.as_mut() {
                conf.pending.push_back(PendingConfirm {
                    seq,
                    journal_seq,
                    outcome,
                });
            }
            let synced = self.journal.as_ref().map_or(u64::MAX, |j| j.synced());
            if self.flush_confirms(conn, channel, synced) {
                self.confirm_waiters.insert((conn, channel));
            }
        }
        Ok(())
    }

    /// Sends the confirms whose journal writes are durable, coalesced with
    /// `multiple`. Returns whether some are still waiting.
    pub(super) fn flush_confirms(&mut self, conn: ConnId, channel: u16, synced: u64) -> bool {
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        let Some(conf) = c
            .channels
            .get_mut(&channel)
            .and_then(|ch| ch.confirm.as_mut())
        else {
            return false;
        };
        let mut acked_upto: Option<u64> = None;
        while let Some(front) = conf.pending.front() {
            if front.journal_seq > synced {
                break;
            }
            let Some(p) = conf.pending.pop_front() else {
                break;
            };
            match p.outcome {
                ConfirmOutcome::Ack => acked_upto = Some(p.seq),
                ConfirmOutcome::Nack => {
                    if let Some(t) = acked_upto.take() {
                        c.outbox.method(
                            channel,
                            &BasicAck {
                                delivery_tag: t,
                                multiple: true,
                            }
                            .into(),
                        );
                    }
                    c.outbox.method(
                        channel,
                        &BasicNack {
                            delivery_tag: p.seq,
                            multiple: false,
                            requeue: false,
                        }
                        .into(),
                    );
                }
            }
        }
        if let Some(t) = acked_upto {
            c.outbox.method(
                channel,
                &BasicAck {
                    delivery_tag: t,
                    multiple: true,
                }
                .into(),
            );
        }
        !conf.pending.is_empty()
    }

    /// Delivers straight to a direct reply-to consumer; false if it is gone.
    fn deliver_reply(&mut self, token: &str, msg: &Arc<Message>) -> bool {
        let Some(&(conn, channel)) = self.reply_tokens.get(token) else {
            return false;
        };
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        let Some(ch) = c.channels.get_mut(&channel) else {
            return false;
        };
        let Some(tag) = ch.reply_consumer.clone() else {
            return false;
        };
        let delivery_tag = ch.next_delivery_tag();
        let deliver: Method = BasicDeliver {
            consumer_tag: tag,
            delivery_tag,
            redelivered: false,
            exchange: msg.exchange.clone(),
            routing_key: msg.routing_key.clone(),
        }
        .into();
        c.outbox.content(channel, &deliver, &msg.header, &msg.body);
        c.stats.delivered += 1;
        self.totals.delivered += 1;
        true
    }
}
