//! The broker inside `cfyd serve`: crash safety with `kill -9`, the admin
//! API, and `/status`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use amqprs::callbacks::ChannelCallback;
use amqprs::channel::{
    BasicGetArguments, BasicPublishArguments, Channel, ConfirmSelectArguments,
    QueueDeclareArguments,
};
use amqprs::connection::{Connection, OpenConnectionArguments};
use amqprs::{Ack, BasicProperties, Cancel, CloseChannel, Nack, Return};
use common::Cfyd;
use parking_lot::Mutex;
use rand::Rng;

/// Records the highest publish tag confirmed, contiguously.
#[derive(Clone, Default)]
struct Confirms(Arc<Mutex<BTreeSet<u64>>>);

#[async_trait::async_trait]
impl ChannelCallback for Confirms {
    async fn close(&mut self, _: &Channel, _: CloseChannel) -> Result<(), amqprs::error::Error> {
        Ok(())
    }
    async fn cancel(&mut self, _: &Channel, _: Cancel) -> Result<(), amqprs::error::Error> {
        Ok(())
    }
    async fn flow(&mut self, _: &Channel, a: bool) -> Result<bool, amqprs::error::Error> {
        Ok(a)
    }
    async fn publish_ack(&mut self, _: &Channel, ack: Ack) {
        let mut set = self.0.lock();
        let tag = ack.delivery_tag();
        if ack.mutiple() {
            let from = set.iter().next_back().copied().unwrap_or(0) + 1;
            set.extend(from..=tag);
        } else {
            set.insert(tag);
        }
    }
    async fn publish_nack(&mut self, _: &Channel, _: Nack) {}
    async fn publish_return(&mut self, _: &Channel, _: Return, _: BasicProperties, _: Vec<u8>) {}
}

async fn connect(port: u16) -> Connection {
    Connection::open(&OpenConnectionArguments::new(
        "127.0.0.1",
        port,
        "guest",
        "guest",
    ))
    .await
    .expect("connect")
}

const ROUNDS: u64 = 4;
const PER_ROUND: u64 = 3000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmed_persistent_messages_survive_kill_9() {
    let mut cfyd = Cfyd::start();
    let mut confirmed_total: BTreeSet<u64> = BTreeSet::new();
    let mut rng = rand::rng();
    for round in 0..ROUNDS {
        let conn = connect(cfyd.port("amqp")).await;
        let ch = conn.open_channel(None).await.unwrap();
        let confirms = Confirms::default();
        ch.register_callback(confirms.clone()).await.unwrap();
        ch.confirm_select(ConfirmSelectArguments::default())
            .await
            .unwrap();
        ch.queue_declare(QueueDeclareArguments::durable_client_named("crash"))
            .await
            .unwrap();
        let kill_after = rng.random_range(100..PER_ROUND);
        let mut props = BasicProperties::default();
        props.with_delivery_mode(amqprs::DELIVERY_MODE_PERSISTENT);
        for i in 0..PER_ROUND {
            let id = round * PER_ROUND + i;
            let publish = ch.basic_publish(
                props.clone(),
                id.to_be_bytes().to_vec(),
                BasicPublishArguments::new("", "crash"),
            );
            if publish.await.is_err() {
                break;
            }
            if i == kill_after {
                // Let some confirms arrive, then crash mid-stream.
                tokio::time::sleep(Duration::from_millis(rng.random_range(0..20))).await;
                let seen: Vec<u64> = confirms.0.lock().iter().copied().collect();
                cfyd.kill();
                confirmed_total.extend(seen.into_iter().map(|tag| round * PER_ROUND + tag - 1));
                break;
            }
        }
        drop(ch);
        drop(conn);
        cfyd.restart();
    }

    // Everything confirmed in any round is there exactly once, flagged as
    // possibly delivered before.
    let conn = connect(cfyd.port("amqp")).await;
    let ch = conn.open_channel(None).await.unwrap();
    let mut seen = BTreeSet::new();
    while let Some((ok, _, body)) = ch
        .basic_get(BasicGetArguments::new("crash").no_ack(true).finish())
        .await
        .unwrap()
    {
        let id = u64::from_be_bytes(body.try_into().unwrap());
        assert!(seen.insert(id), "message {id} delivered twice");
        assert!(
            ok.redelivered(),
            "recovered message {id} not flagged redelivered"
        );
    }
    let missing: Vec<&u64> = confirmed_total.difference(&seen).collect();
    assert!(!confirmed_total.is_empty(), "the test confirmed nothing");
    assert!(
        missing.is_empty(),
        "confirmed but lost: {} of {} (first {:?})",
        missing.len(),
        confirmed_total.len(),
        missing.first()
    );
}

#[tokio::test]
async fn admin_api_reports_queues_with_basic_auth() {
    let cfyd = Cfyd::start();
    let conn = connect(cfyd.port("amqp")).await;
    let ch = conn.open_channel(None).await.unwrap();
    ch.queue_declare(QueueDeclareArguments::durable_client_named("visible"))
        .await
        .unwrap();
    ch.basic_publish(
        BasicProperties::default(),
        b"x".to_vec(),
        BasicPublishArguments::new("", "visible"),
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let url = cfyd.url("amqp_management", "/api/queues");
    let denied = http.get(&url).send().await.unwrap();
    assert_eq!(denied.status().as_u16(), 401);
    let mut visible = serde_json::Value::Null;
    for _ in 0..50 {
        let queues: serde_json::Value = http
            .get(&url)
            .basic_auth("guest", Some("guest"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        visible = queues
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == "visible")
            .cloned()
            .unwrap_or_default();
        if visible["messages_ready"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(visible["durable"], true);
    assert_eq!(visible["messages_ready"], 1);
    let overview: serde_json::Value = http
        .get(cfyd.url("amqp_management", "/api/overview"))
        .basic_auth("guest", Some("guest"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The client's connection and the manager's own in-process one.
    assert_eq!(overview["object_totals"]["connections"], 2);
    assert_eq!(overview["queue_totals"]["messages_ready"], 1);

    let status: serde_json::Value = reqwest::get(cfyd.url("rest", "/api/v2/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["display_name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"RabbitMQ"), "{names:?}");
}
