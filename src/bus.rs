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
    /// Publishes persistently when `persistent`.
    async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: Bytes,
        persistent: bool,
    ) -> Result<(), BusError>;
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
    async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: Bytes,
        persistent: bool,
    ) -> Result<(), BusError> {
        let props = broker::proto::Properties {
            delivery_mode: Some(if persistent { 2 } else { 1 }),
            ..Default::default()
        };
        self.handle
            .publish(exchange, routing_key, props, body)
            .map_err(refused)
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
                let m = BusMessage {
                    routing_key: d.routing_key,
                    body: d.body,
                    delivery_tag: d.delivery_tag,
                    redelivered: d.redelivered,
                };
                if tx.send(m).is_err() {
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
    _conn: amqprs::connection::Connection,
    channel: amqprs::channel::Channel,
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
        Ok(Arc::new(AmqpBus {
            url: url.to_owned(),
            _conn: conn,
            channel,
        }))
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
    async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: Bytes,
        persistent: bool,
    ) -> Result<(), BusError> {
        let mut props = amqprs::BasicProperties::default();
        props.with_delivery_mode(if persistent { 2 } else { 1 });
        let args = amqprs::channel::BasicPublishArguments::new(exchange, routing_key);
        self.channel
            .basic_publish(props, body.to_vec(), args)
            .await
            .map_err(conn_err)
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
        let (_, mut rx) = self
            .channel
            .basic_consume_rx(amqprs::channel::BasicConsumeArguments::new(queue, &tag))
            .await
            .map_err(conn_err)?;
        let (tx, out) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                let (Some(d), Some(body)) = (m.deliver, m.content) else {
                    continue;
                };
                let msg = BusMessage {
                    routing_key: d.routing_key().to_string(),
                    body: Bytes::from(body),
                    delivery_tag: d.delivery_tag(),
                    redelivered: d.redelivered(),
                };
                if tx.send(msg).is_err() {
                    return;
                }
            }
        });
        Ok(out)
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
