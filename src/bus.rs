//! The manager's message bus: the embedded broker through an in-process
//! [`broker::Handle`] (the default), or an external AMQP 0-9-1 broker such as
//! RabbitMQ when `broker.url` is set. Pipelines and agents talk to the
//! [`MessageBus`] trait and never know which one they have.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::mpsc;

/// A message taken from a queue.
#[derive(Debug, Clone)]
pub struct BusMessage {
    pub routing_key: String,
    pub content_type: Option<String>,
    pub body: Bytes,
    pub delivery_tag: u64,
    pub redelivered: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("broker refused: {0}")]
    Refused(String),
    #[error("broker url `{0}`: {1}")]
    BadUrl(String, &'static str),
    #[error("broker connection: {0}")]
    Connection(String),
}

/// AMQP properties a published message carries.
#[derive(Debug, Clone, Default)]
pub struct Props {
    pub persistent: bool,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub correlation_id: Option<String>,
}

impl Props {
    /// A persistent JSON message, as Celery publishes tasks and results.
    pub fn json(correlation_id: &str) -> Props {
        Props {
            persistent: true,
            content_type: Some("application/json".into()),
            content_encoding: Some("utf-8".into()),
            correlation_id: Some(correlation_id.to_owned()),
        }
    }
}

#[async_trait]
pub trait MessageBus: Send + Sync {
    async fn declare_exchange(
        &self,
        name: &str,
        kind: &str,
        durable: bool,
        auto_delete: bool,
    ) -> Result<(), BusError>;
    async fn declare_queue(
        &self,
        name: &str,
        durable: bool,
        auto_delete: bool,
    ) -> Result<(), BusError>;
    async fn bind(&self, queue: &str, exchange: &str, routing_key: &str) -> Result<(), BusError>;
    /// A queue that the broker deletes after `expires_ms` unused
    /// (`x-expires`, as Celery's result queues).
    async fn declare_queue_expiring(
        &self,
        name: &str,
        durable: bool,
        auto_delete: bool,
        expires_ms: u32,
    ) -> Result<(), BusError>;
    /// Publishes persistently when `persistent`.
    async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: Bytes,
        persistent: bool,
    ) -> Result<(), BusError> {
        let props = Props {
            persistent,
            ..Props::default()
        };
        self.publish_with(exchange, routing_key, body, &props).await
    }
    async fn publish_with(
        &self,
        exchange: &str,
        routing_key: &str,
        body: Bytes,
        props: &Props,
    ) -> Result<(), BusError>;
    /// Consumes without acknowledgements and without touching the
    /// prefetch of other consumers (for replies); returns the consumer tag.
    async fn subscribe(
        &self,
        queue: &str,
    ) -> Result<(String, mpsc::UnboundedReceiver<BusMessage>), BusError>;
    async fn unsubscribe(&self, tag: &str) -> Result<(), BusError>;
    /// How many consumers `queue` has; `None` when it does not exist.
    async fn consumer_count(&self, queue: &str) -> Result<Option<u32>, BusError>;
    /// Consumes with manual acks and at most `prefetch` unacked messages.
    async fn consume(
        &self,
        queue: &str,
        prefetch: u16,
    ) -> Result<mpsc::UnboundedReceiver<BusMessage>, BusError>;
    async fn ack(&self, delivery_tag: u64) -> Result<(), BusError>;
    /// What the bus is, for logs and `/status`.
    fn describe(&self) -> String;
}

/// Declares what every Cloudify 3.3 manager has on its broker
/// (cloudify-api.md §5.1): the log and event queues, the monitoring topic
/// exchange, and the management worker's Celery queue.
pub async fn declare_manager_topology(bus: &dyn MessageBus) -> Result<(), BusError> {
    bus.declare_queue("cloudify-events", true, true).await?;
    bus.declare_queue("cloudify-logs", true, true).await?;
    bus.declare_exchange("cloudify-monitoring", "topic", false, true)
        .await?;
    bus.declare_exchange("cloudify.management", "direct", true, false)
        .await?;
    bus.declare_queue("cloudify.management", true, false)
        .await?;
    bus.bind(
        "cloudify.management",
        "cloudify.management",
        "cloudify.management",
    )
    .await
}

/// The embedded broker, reached without a socket.
pub struct EmbeddedBus {
    handle: broker::Handle,
}

impl EmbeddedBus {
    pub fn new(broker: &broker::Broker, user: &str) -> Result<Arc<EmbeddedBus>, BusError> {
        let handle = broker
            .handle(user, "/")
            .map_err(|e| BusError::Refused(e.to_string()))?;
        Ok(Arc::new(EmbeddedBus { handle }))
    }
}

fn embedded_message(d: broker::Delivery) -> BusMessage {
    BusMessage {
        routing_key: d.routing_key,
        content_type: d.properties.content_type,
        body: d.body,
        delivery_tag: d.delivery_tag,
        redelivered: d.redelivered,
    }
}

fn refused(e: broker::AmqpError) -> BusError {
    BusError::Refused(e.to_string())
}

#[async_trait]
impl MessageBus for EmbeddedBus {
    async fn declare_exchange(
        &self,
        name: &str,
        kind: &str,
        durable: bool,
        auto_delete: bool,
    ) -> Result<(), BusError> {
        self.handle
            .declare_exchange(name, kind, durable, auto_delete)
            .map_err(refused)
    }
    async fn declare_queue(
        &self,
        name: &str,
        durable: bool,
        auto_delete: bool,
    ) -> Result<(), BusError> {
        self.handle
            .declare_queue(name, durable, auto_delete, Default::default())
            .map_err(refused)
    }
    async fn bind(&self, queue: &str, exchange: &str, routing_key: &str) -> Result<(), BusError> {
        self.handle
            .bind(queue, exchange, routing_key)
            .map_err(refused)
    }
    async fn declare_queue_expiring(
        &self,
        name: &str,
        durable: bool,
        auto_delete: bool,
        expires_ms: u32,
    ) -> Result<(), BusError> {
        let mut args = broker::proto::FieldTable::new();
        args.insert(
            "x-expires",
            broker::proto::FieldValue::I64(i64::from(expires_ms)),
        );
        self.handle
            .declare_queue(name, durable, auto_delete, args)
            .map_err(refused)
    }
    async fn publish_with(
        &self,
        exchange: &str,
        routing_key: &str,
        body: Bytes,
        props: &Props,
    ) -> Result<(), BusError> {
        let props = broker::proto::Properties {
            delivery_mode: Some(if props.persistent { 2 } else { 1 }),
            content_type: props.content_type.clone(),
            content_encoding: props.content_encoding.clone(),
            correlation_id: props.correlation_id.clone(),
            ..Default::default()
        };
        self.handle
            .publish(exchange, routing_key, props, body)
            .map_err(refused)
    }
    async fn subscribe(
        &self,
        queue: &str,
    ) -> Result<(String, mpsc::UnboundedReceiver<BusMessage>), BusError> {
        let tag = format!("cfyd.reply.{}", uuid::Uuid::new_v4().simple());
        let mut rx = self.handle.consume(queue, &tag, true).map_err(refused)?;
        let (tx, out) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(d) = rx.recv().await {
                if tx.send(embedded_message(d)).is_err() {
                    return;
                }
            }
        });
        Ok((tag, out))
    }
    async fn unsubscribe(&self, tag: &str) -> Result<(), BusError> {
        self.handle.cancel(tag).map_err(refused)
    }
    async fn consumer_count(&self, queue: &str) -> Result<Option<u32>, BusError> {
        Ok(self
            .handle
            .consumer_count(queue)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX)))
    }
    async fn consume(
        &self,
        queue: &str,
        prefetch: u16,
    ) -> Result<mpsc::UnboundedReceiver<BusMessage>, BusError> {
        self.handle.qos(prefetch).map_err(refused)?;
        let tag = format!("cfyd.{queue}");
        let mut rx = self.handle.consume(queue, &tag, false).map_err(refused)?;
        let (tx, out) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(d) = rx.recv().await {
                if tx.send(embedded_message(d)).is_err() {
                    return;
                }
            }
        });
        Ok(out)
    }
    async fn ack(&self, delivery_tag: u64) -> Result<(), BusError> {
        self.handle.ack(delivery_tag).map_err(refused)
    }
    fn describe(&self) -> String {
        "embedded broker (in-process)".to_owned()
    }
}

/// An external AMQP broker, through amqprs.
pub struct AmqpBus {
    url: String,
    conn: amqprs::connection::Connection,
    channel: amqprs::channel::Channel,
    /// Reply consumers (no acks) live on their own channel, so their
    /// prefetch never limits the acked consumers of `channel`.
    replies: amqprs::channel::Channel,
}

/// `amqp://user:pass@host:port/vhost`, with the vhost percent-decoded
/// (`/%2F` and an empty path both mean `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub vhost: String,
}

pub fn parse_url(url: &str) -> Result<BrokerUrl, BusError> {
    let bad = |why| BusError::BadUrl(url.to_owned(), why);
    let rest = url
        .strip_prefix("amqp://")
        .ok_or_else(|| bad("only amqp:// is supported"))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hostport) = authority
        .rsplit_once('@')
        .unwrap_or(("guest:guest", authority));
    let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad("bad port"))?),
        None => (hostport, 5672),
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let vhost = percent_decode(path).ok_or_else(|| bad("bad percent-encoding in the vhost"))?;
    let vhost = if vhost.is_empty() {
        "/".to_owned()
    } else {
        vhost
    };
    Ok(BrokerUrl {
        host: host.to_owned(),
        port,
        user: percent_decode(user).ok_or_else(|| bad("bad percent-encoding in the user"))?,
        password: percent_decode(pass)
            .ok_or_else(|| bad("bad percent-encoding in the password"))?,
        vhost,
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// amqprs deliveries as bus messages.
fn forward(
    mut rx: mpsc::UnboundedReceiver<amqprs::channel::ConsumerMessage>,
) -> mpsc::UnboundedReceiver<BusMessage> {
    let (tx, out) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            let (Some(d), Some(body)) = (m.deliver, m.content) else {
                continue;
            };
            let msg = BusMessage {
                routing_key: d.routing_key().to_string(),
                content_type: m
                    .basic_properties
                    .as_ref()
                    .and_then(|p| p.content_type().map(|c| c.to_string())),
                body: Bytes::from(body),
                delivery_tag: d.delivery_tag(),
                redelivered: d.redelivered(),
            };
            if tx.send(msg).is_err() {
                return;
            }
        }
    });
    out
}

fn conn_err(e: amqprs::error::Error) -> BusError {
    BusError::Connection(e.to_string())
}

impl AmqpBus {
    pub async fn connect(url: &str) -> Result<Arc<AmqpBus>, BusError> {
        let u = parse_url(url)?;
        let mut args =
            amqprs::connection::OpenConnectionArguments::new(&u.host, u.port, &u.user, &u.password);
        args.virtual_host(&u.vhost);
        let conn = amqprs::connection::Connection::open(&args)
            .await
            .map_err(conn_err)?;
        let channel = conn.open_channel(None).await.map_err(conn_err)?;
        let replies = conn.open_channel(None).await.map_err(conn_err)?;
        Ok(Arc::new(AmqpBus {
            url: url.to_owned(),
            conn,
            channel,
            replies,
        }))
    }

    /// Whether the connection is still up (an agent reconnects when not).
    pub fn is_open(&self) -> bool {
        self.conn.is_open() && self.channel.is_open()
    }
}

#[async_trait]
impl MessageBus for AmqpBus {
    async fn declare_exchange(
        &self,
        name: &str,
        kind: &str,
        durable: bool,
        auto_delete: bool,
    ) -> Result<(), BusError> {
        let args = amqprs::channel::ExchangeDeclareArguments::new(name, kind)
            .durable(durable)
            .auto_delete(auto_delete)
            .finish();
        self.channel.exchange_declare(args).await.map_err(conn_err)
    }
    async fn declare_queue(
        &self,
        name: &str,
        durable: bool,
        auto_delete: bool,
    ) -> Result<(), BusError> {
        let args = amqprs::channel::QueueDeclareArguments::new(name)
            .durable(durable)
            .auto_delete(auto_delete)
            .finish();
        self.channel
            .queue_declare(args)
            .await
            .map_err(conn_err)
            .map(|_| ())
    }
    async fn bind(&self, queue: &str, exchange: &str, routing_key: &str) -> Result<(), BusError> {
        let args = amqprs::channel::QueueBindArguments::new(queue, exchange, routing_key);
        self.channel.queue_bind(args).await.map_err(conn_err)
    }
    async fn declare_queue_expiring(
        &self,
        name: &str,
        durable: bool,
        auto_delete: bool,
        expires_ms: u32,
    ) -> Result<(), BusError> {
        let mut table = amqprs::FieldTable::new();
        table.insert(
            "x-expires"
                .try_into()
                .map_err(|_| BusError::Refused("x-expires".into()))?,
            amqprs::FieldValue::l(i64::from(expires_ms)),
        );
        let args = amqprs::channel::QueueDeclareArguments::new(name)
            .durable(durable)
            .auto_delete(auto_delete)
            .arguments(table)
            .finish();
        self.channel
            .queue_declare(args)
            .await
            .map_err(conn_err)
            .map(|_| ())
    }
    async fn publish_with(
        &self,
        exchange: &str,
        routing_key: &str,
        body: Bytes,
        props: &Props,
    ) -> Result<(), BusError> {
        let mut p = amqprs::BasicProperties::default();
        p.with_delivery_mode(if props.persistent { 2 } else { 1 });
        if let Some(ct) = &props.content_type {
            p.with_content_type(ct);
        }
        if let Some(ce) = &props.content_encoding {
            p.with_content_encoding(ce);
        }
        if let Some(c) = &props.correlation_id {
            p.with_correlation_id(c);
        }
        let args = amqprs::channel::BasicPublishArguments::new(exchange, routing_key);
        self.channel
            .basic_publish(p, body.to_vec(), args)
            .await
            .map_err(conn_err)
    }
    async fn subscribe(
        &self,
        queue: &str,
    ) -> Result<(String, mpsc::UnboundedReceiver<BusMessage>), BusError> {
        let tag = format!("cfyd.reply.{}", uuid::Uuid::new_v4().simple());
        let mut args = amqprs::channel::BasicConsumeArguments::new(queue, &tag);
        args.manual_ack(false);
        let (_, rx) = self
            .replies
            .basic_consume_rx(args)
            .await
            .map_err(conn_err)?;
        Ok((tag, forward(rx)))
    }
    async fn unsubscribe(&self, tag: &str) -> Result<(), BusError> {
        self.replies
            .basic_cancel(amqprs::channel::BasicCancelArguments::new(tag))
            .await
            .map_err(conn_err)
            .map(|_| ())
    }
    async fn consumer_count(&self, queue: &str) -> Result<Option<u32>, BusError> {
        // A passive declare of a missing queue closes its channel: use a
        // throw-away one.
        let ch = self.conn.open_channel(None).await.map_err(conn_err)?;
        let args = amqprs::channel::QueueDeclareArguments::new(queue)
            .passive(true)
            .finish();
        let out = match ch.queue_declare(args).await {
            Ok(Some((_, _, consumers))) => Some(consumers),
            Ok(None) => None,
            Err(
                amqprs::error::Error::ChannelUseError(_)
                | amqprs::error::Error::ChannelCloseError(_),
            ) => None,
            Err(e) => {
                let text = e.to_string();
                if text.contains("404") || text.contains("NOT_FOUND") {
                    None
                } else {
                    return Err(conn_err(e));
                }
            }
        };
        let _ = ch.close().await;
        Ok(out)
    }
    async fn consume(
        &self,
        queue: &str,
        prefetch: u16,
    ) -> Result<mpsc::UnboundedReceiver<BusMessage>, BusError> {
        self.channel
            .basic_qos(amqprs::channel::BasicQosArguments::new(0, prefetch, true))
            .await
            .map_err(conn_err)?;
        let tag = format!("cfyd.{queue}");
        let (_, rx) = self
            .channel
            .basic_consume_rx(amqprs::channel::BasicConsumeArguments::new(queue, &tag))
            .await
            .map_err(conn_err)?;
        Ok(forward(rx))
    }
    async fn ack(&self, delivery_tag: u64) -> Result<(), BusError> {
        self.channel
            .basic_ack(amqprs::channel::BasicAckArguments::new(delivery_tag, false))
            .await
            .map_err(conn_err)
    }
    fn describe(&self) -> String {
        let shown = match self.url.rsplit_once('@') {
            Some((_, host)) => format!("amqp://***@{host}"),
            None => self.url.clone(),
        };
        format!("external broker {shown}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_like_kombu_and_pika() {
        for (url, host, port, vhost, user) in [
            (
                "amqp://guest:guest@127.0.0.1:5672/%2F",
                "127.0.0.1",
                5672,
                "/",
                "guest",
            ),
            ("amqp://u:p@h//", "h", 5672, "/", "u"),
            ("amqp://u:p@h:1234", "h", 1234, "/", "u"),
            ("amqp://a%40b:p@h:1/prod", "h", 1, "prod", "a@b"),
        ] {
            let u = parse_url(url).unwrap();
            assert_eq!(
                (u.host.as_str(), u.port, u.vhost.as_str(), u.user.as_str()),
                (host, port, vhost, user),
                "{url}"
            );
        }
        for bad in [
            "http://h",
            "amqp://u:p@:5/x",
            "amqp://h:notaport/",
            "amqp://h/%zz",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
