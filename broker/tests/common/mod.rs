//! Runs a broker on a free loopback port inside the test's runtime, and an
//! amqprs client with callbacks that record what the server sent.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use amqprs::callbacks::{ChannelCallback, ConnectionCallback};
use amqprs::channel::Channel;
use amqprs::connection::{Connection, OpenConnectionArguments};
use amqprs::{Ack, BasicProperties, Cancel, Close, CloseChannel, Nack, Return};
use async_trait::async_trait;
use broker::{Broker, Config};
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub struct Running {
    pub broker: Broker,
    pub port: u16,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub async fn start(config: Config) -> Running {
        let broker = Broker::open(config).expect("open broker");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (stop, rx) = watch::channel(false);
        let b = broker.clone();
        let task = tokio::spawn(async move { b.serve(listener, rx).await });
        Running {
            broker,
            port,
            stop,
            task,
        }
    }

    pub async fn in_memory() -> Running {
        Running::start(Config::temporary()).await
    }

    pub async fn durable(dir: &Path) -> Running {
        Running::start(Config {
            data_dir: Some(dir.to_owned()),
            ..Config::default()
        })
        .await
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
        self.broker.close();
    }

    pub async fn connect(&self) -> (Connection, Channel, Events) {
        let conn = Connection::open(&OpenConnectionArguments::new(
            "127.0.0.1",
            self.port,
            "guest",
            "guest",
        ))
        .await
        .expect("connect");
        let events = Events::default();
        conn.register_callback(events.clone())
            .await
            .expect("callback");
        let ch = conn.open_channel(None).await.expect("channel");
        ch.register_callback(events.clone())
            .await
            .expect("callback");
        (conn, ch, events)
    }
}

/// What the server told the client through callbacks.
#[derive(Clone, Default)]
pub struct Events(Arc<Mutex<Recorded>>);

#[derive(Default, Debug)]
pub struct Recorded {
    pub channel_closes: Vec<u16>,
    pub connection_closes: Vec<u16>,
    /// Every publish tag acked, expanded from `multiple`.
    pub acked: Vec<u64>,
    pub nacked: Vec<u64>,
    pub returns: Vec<(u16, Vec<u8>)>,
    pub cancels: Vec<String>,
    pub last_ack: u64,
}

impl Events {
    pub fn get(&self) -> parking_lot::MutexGuard<'_, Recorded> {
        self.0.lock()
    }

    /// Waits until `check` holds, for at most five seconds.
    pub async fn wait(&self, what: &str, check: impl Fn(&Recorded) -> bool) {
        for _ in 0..500 {
            if check(&self.0.lock()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for {what}: {:?}", self.0.lock());
    }
}

#[async_trait]
impl ConnectionCallback for Events {
    async fn close(&mut self, _: &Connection, close: Close) -> Result<(), amqprs::error::Error> {
        self.0.lock().connection_closes.push(close.reply_code());
        Ok(())
    }
    async fn blocked(&mut self, _: &Connection, _: String) {}
    async fn unblocked(&mut self, _: &Connection) {}
    async fn secret_updated(&mut self, _: &Connection) {}
}

#[async_trait]
impl ChannelCallback for Events {
    async fn close(
        &mut self,
        _: &Channel,
        close: CloseChannel,
    ) -> Result<(), amqprs::error::Error> {
        self.0.lock().channel_closes.push(close.reply_code());
        Ok(())
    }
    async fn cancel(&mut self, _: &Channel, cancel: Cancel) -> Result<(), amqprs::error::Error> {
        self.0
            .lock()
            .cancels
            .push(cancel.consumer_tag().to_string());
        Ok(())
    }
    async fn flow(&mut self, _: &Channel, active: bool) -> Result<bool, amqprs::error::Error> {
        Ok(active)
    }
    async fn publish_ack(&mut self, _: &Channel, ack: Ack) {
        let mut r = self.0.lock();
        let tag = ack.delivery_tag();
        let from = if ack.mutiple() { r.last_ack + 1 } else { tag };
        for t in from..=tag {
            r.acked.push(t);
        }
        r.last_ack = r.last_ack.max(tag);
    }
    async fn publish_nack(&mut self, _: &Channel, nack: Nack) {
        self.0.lock().nacked.push(nack.delivery_tag());
    }
    async fn publish_return(
        &mut self,
        _: &Channel,
        ret: Return,
        _: BasicProperties,
        content: Vec<u8>,
    ) {
        self.0.lock().returns.push((ret.reply_code(), content));
    }
}

pub fn persistent() -> BasicProperties {
    let mut p = BasicProperties::default();
    p.with_delivery_mode(amqprs::DELIVERY_MODE_PERSISTENT);
    p
}
