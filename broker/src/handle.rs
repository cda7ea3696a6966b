//! The in-process client: a connection registered with the core that has no
//! socket. The manager declares, publishes, consumes and acks through it;
//! deliveries reach it through its outbox exactly as they would reach a TCP
//! client, so both paths share every rule of the broker.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::Inner;
use crate::core::outbox::{LOW_WATER, Outbox};
use crate::core::{ClientCaps, Command, ConnId};
use crate::error::AmqpError;
use crate::proto::frame::decode_frame;
use crate::proto::method::*;
use crate::proto::{ContentHeader, FieldTable, Frame, Method, Properties};

const CHANNEL: u16 = 1;

/// A message handed to an in-process consumer.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub consumer_tag: String,
    pub delivery_tag: u64,
    pub redelivered: bool,
    pub exchange: String,
    pub routing_key: String,
    pub properties: Properties,
    pub body: Bytes,
}

type Consumers = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Delivery>>>>;

/// An in-process connection with one channel.
pub struct Handle {
    inner: Arc<Inner>,
    conn: ConnId,
    vhost: String,
    outbox: Arc<Outbox>,
    consumers: Consumers,
    reader: tokio::task::JoinHandle<()>,
}

impl Handle {
    /// Must be called inside a tokio runtime (a task decodes deliveries).
    pub(crate) fn open(inner: Arc<Inner>, user: &str, vhost: &str) -> Result<Handle, AmqpError> {
        let outbox = Arc::new(Outbox::new(u32::MAX / 2));
        let caps = ClientCaps {
            consumer_cancel_notify: true,
            connection_blocked: false,
        };
        let conn = inner.core.lock().connect(
            outbox.clone(),
            user.to_owned(),
            vhost.to_owned(),
            "in-process".into(),
            caps,
        );
        let consumers: Consumers = Arc::default();
        let reader = tokio::spawn(read_deliveries(
            inner.clone(),
            conn,
            outbox.clone(),
            consumers.clone(),
        ));
        let handle = Handle {
            inner,
            conn,
            vhost: vhost.to_owned(),
            outbox,
            consumers,
            reader,
        };
        handle.run(Command::Open)?;
        Ok(handle)
    }

    fn run(&self, cmd: Command) -> Result<(), AmqpError> {
        let mut core = self.inner.core.lock();
        let result = core.handle(self.conn, CHANNEL, cmd);
        if result.is_err() {
            // The failed channel is released; open a fresh one.
            let _ = core.handle(self.conn, CHANNEL, Command::Open);
        }
        result
    }

    pub fn declare_exchange(
        &self,
        name: &str,
        kind: &str,
        durable: bool,
        auto_delete: bool,
    ) -> Result<(), AmqpError> {
        self.run(Command::Method(
            ExchangeDeclare {
                exchange: name.into(),
                kind: kind.into(),
                durable,
                auto_delete,
                nowait: true,
                ..Default::default()
            }
            .into(),
        ))
    }

    pub fn declare_queue(
        &self,
        name: &str,
        durable: bool,
        auto_delete: bool,
        arguments: FieldTable,
    ) -> Result<(), AmqpError> {
        self.run(Command::Method(
            QueueDeclare {
                queue: name.into(),
                durable,
                auto_delete,
                nowait: true,
                arguments,
                ..Default::default()
            }
            .into(),
        ))
    }

    pub fn bind(&self, queue: &str, exchange: &str, routing_key: &str) -> Result<(), AmqpError> {
        self.run(Command::Method(
            QueueBind {
                queue: queue.into(),
                exchange: exchange.into(),
                routing_key: routing_key.into(),
                nowait: true,
                ..Default::default()
            }
            .into(),
        ))
    }

    pub fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        properties: Properties,
        body: Bytes,
    ) -> Result<(), AmqpError> {
        let header = ContentHeader::new(body.len() as u64, properties);
        self.run(Command::Publish {
            method: BasicPublish {
                exchange: exchange.into(),
                routing_key: routing_key.into(),
                ..Default::default()
            },
            header,
            body,
        })
    }

    /// Limits unacknowledged deliveries over all consumers of the handle.
    pub fn qos(&self, prefetch: u16) -> Result<(), AmqpError> {
        self.run(Command::Method(
            BasicQos {
                prefetch_count: prefetch,
                global: true,
                ..Default::default()
            }
            .into(),
        ))
    }

    /// Starts a consumer; deliveries arrive on the returned receiver.
    pub fn consume(
        &self,
        queue: &str,
        tag: &str,
        no_ack: bool,
    ) -> Result<mpsc::UnboundedReceiver<Delivery>, AmqpError> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.consumers.lock().insert(tag.to_owned(), tx);
        let res = self.run(Command::Method(
            BasicConsume {
                queue: queue.into(),
                consumer_tag: tag.into(),
                no_ack,
                nowait: true,
                ..Default::default()
            }
            .into(),
        ));
        if res.is_err() {
            self.consumers.lock().remove(tag);
        }
        res.map(|_| rx)
    }

    /// Stops a consumer started with [`Handle::consume`].
    pub fn cancel(&self, tag: &str) -> Result<(), AmqpError> {
        self.consumers.lock().remove(tag);
        self.run(Command::Method(
            BasicCancel {
                consumer_tag: tag.into(),
                nowait: true,
            }
            .into(),
        ))
    }

    /// How many consumers `queue` of this handle's vhost has; `None` when
    /// there is no such queue.
    pub fn consumer_count(&self, queue: &str) -> Option<usize> {
        let core = self.inner.core.lock();
        core.vhosts
            .get(&self.vhost)
            .and_then(|v| v.queues.get(queue))
            .map(|q| q.consumers.len())
    }

    pub fn ack(&self, delivery_tag: u64) -> Result<(), AmqpError> {
        self.run(Command::Method(
            BasicAck {
                delivery_tag,
                multiple: false,
            }
            .into(),
        ))
    }

    pub fn nack(&self, delivery_tag: u64, requeue: bool) -> Result<(), AmqpError> {
        self.run(Command::Method(
            BasicNack {
                delivery_tag,
                multiple: false,
                requeue,
            }
            .into(),
        ))
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.inner.core.lock().disconnect(self.conn);
        self.outbox.close();
        self.reader.abort();
    }
}

/// Decodes the handle's outbox: deliveries go to their consumer, replies
/// (declare-ok and such, all nowait here) are dropped. Like a socket
/// writer, it resumes the connection's consumers once the core throttled
/// them (outbox above its high-water mark) and the backlog is taken.
async fn read_deliveries(
    inner: Arc<Inner>,
    conn: ConnId,
    outbox: Arc<Outbox>,
    consumers: Consumers,
) {
    let mut buf = BytesMut::new();
    let mut pending: Option<(BasicDeliver, Option<ContentHeader>, BytesMut)> = None;
    loop {
        if outbox.is_closed() {
            return;
        }
        let chunk = outbox.take(BytesMut::new());
        if chunk.is_empty() {
            outbox.wait().await;
            continue;
        }
        buf.extend_from_slice(&chunk);
        if outbox.throttled.load(Ordering::Relaxed) && outbox.len() < LOW_WATER {
            outbox.throttled.store(false, Ordering::Relaxed);
            inner.core.lock().resume(conn);
        }
        while let Ok(Some(frame)) = decode_frame(&mut buf, u32::MAX) {
            match frame {
                Frame::Method {
                    method: Method::BasicDeliver(d),
                    ..
                } => pending = Some((d, None, BytesMut::new())),
                Frame::Method {
                    method: Method::BasicCancel(c),
                    ..
                } => {
                    consumers.lock().remove(&c.consumer_tag);
                }
                Frame::Header { header, .. } => {
                    if let Some(p) = pending.as_mut() {
                        p.1 = Some(header);
                    }
                }
                Frame::Body { payload, .. } => {
                    if let Some(p) = pending.as_mut() {
                        p.2.extend_from_slice(&payload);
                    }
                }
                _ => {}
            }
            let done = pending
                .as_ref()
                .is_some_and(|(_, h, b)| h.as_ref().is_some_and(|h| h.body_size == b.len() as u64));
            if done && let Some((d, Some(h), body)) = pending.take() {
                let delivery = Delivery {
                    consumer_tag: d.consumer_tag,
                    delivery_tag: d.delivery_tag,
                    redelivered: d.redelivered,
                    exchange: d.exchange,
                    routing_key: d.routing_key,
                    properties: h.properties,
                    body: body.freeze(),
                };
                if let Some(tx) = consumers.lock().get(&delivery.consumer_tag) {
                    let _ = tx.send(delivery);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Broker, Config};

    /// More unacknowledged bytes than the outbox's high-water mark: the
    /// core throttles the in-process consumer, and the reader must resume
    /// it (a stall here once stopped the event pipeline at ~4 MiB).
    #[tokio::test]
    async fn a_large_prefetch_backlog_keeps_flowing() {
        let broker = Broker::open(Config::temporary()).unwrap();
        let h = broker.handle("guest", "/").unwrap();
        h.declare_queue("q", false, false, Default::default())
            .unwrap();
        const N: usize = 12_000;
        let body = bytes::Bytes::from(vec![b'x'; 1024]);
        for _ in 0..N {
            h.publish("", "q", Default::default(), body.clone())
                .unwrap();
        }
        h.qos(u16::MAX).unwrap();
        let mut rx = h.consume("q", "c", false).unwrap();
        for i in 0..N {
            let d = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
                .await
                .unwrap_or_else(|_| panic!("stalled after {i} deliveries"))
                .unwrap();
            h.ack(d.delivery_tag).unwrap();
        }
    }
}
