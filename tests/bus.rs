//! The manager's message bus contract, run against the embedded broker
//! in-process, against cfyd's broker over TCP, and against Debian's
//! rabbitmq-server (started here when installed; `REQUIRE_RABBITMQ=1`, set
//! by `.ci/run`, makes its absence a failure).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use cfyd::bus::{AmqpBus, EmbeddedBus, MessageBus, declare_manager_topology};
use common::Cfyd;

async fn recv(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<cfyd::bus::BusMessage>,
) -> cfyd::bus::BusMessage {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("delivery in time")
        .expect("consumer open")
}

async fn contract(bus: &dyn MessageBus) {
    declare_manager_topology(bus)
        .await
        .expect("manager topology");
    let q = format!("bus-contract-{}", std::process::id());
    bus.declare_exchange("bus-contract-x", "direct", false, true)
        .await
        .unwrap();
    bus.declare_queue(&q, false, true).await.unwrap();
    bus.bind(&q, "bus-contract-x", "key").await.unwrap();
    for body in ["one", "two", "three"] {
        bus.publish("bus-contract-x", "key", Bytes::from(body), true)
            .await
            .unwrap();
    }
    let mut rx = bus.consume(&q, 2).await.unwrap();
    let first = recv(&mut rx).await;
    let second = recv(&mut rx).await;
    assert_eq!(
        (&first.body[..], &second.body[..]),
        (&b"one"[..], &b"two"[..])
    );
    assert_eq!(first.routing_key, "key");
    assert!(
        tokio::time::timeout(Duration::from_millis(300), rx.recv())
            .await
            .is_err(),
        "prefetch 2 holds back the third"
    );
    bus.ack(first.delivery_tag).await.unwrap();
    let third = recv(&mut rx).await;
    assert_eq!(&third.body[..], b"three");
    bus.ack(second.delivery_tag).await.unwrap();
    bus.ack(third.delivery_tag).await.unwrap();
}

#[tokio::test]
async fn embedded_in_process() {
    let broker = broker::Broker::open(broker::Config::temporary()).unwrap();
    let bus = EmbeddedBus::new(&broker, "guest").unwrap();
    contract(bus.as_ref()).await;
}

#[tokio::test]
async fn cfyd_broker_over_tcp() {
    let cfyd = Cfyd::start();
    let url = format!("amqp://guest:guest@127.0.0.1:{}/%2F", cfyd.port("amqp"));
    let bus = AmqpBus::connect(&url).await.unwrap();
    contract(bus.as_ref()).await;
}

/// A throw-away RabbitMQ node on 127.0.0.1, stopped (by pid) on drop.
struct RabbitMq {
    dir: PathBuf,
    port: u16,
}

impl RabbitMq {
    fn start() -> Option<RabbitMq> {
        let installed = std::path::Path::new("/usr/lib/rabbitmq/bin/rabbitmq-server").exists();
        if !installed {
            assert!(
                std::env::var("REQUIRE_RABBITMQ").is_err(),
                "REQUIRE_RABBITMQ is set but rabbitmq-server is not installed"
            );
            eprintln!(
                "rabbitmq-server is not installed: the RabbitMQ side of this test did not run"
            );
            return None;
        }
        let port = 5600 + (std::process::id() % 80) as u16;
        let dir = std::env::temp_dir().join(format!("cfyd-bus-rabbitmq-{}", std::process::id()));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/compat/rabbitmq-node.sh");
        let ok = Command::new("bash")
            .arg(script)
            .arg("start")
            .arg(&dir)
            .arg(port.to_string())
            .status()
            .expect("run rabbitmq-node.sh");
        assert!(ok.success(), "rabbitmq-server did not start");
        Some(RabbitMq { dir, port })
    }
}

impl Drop for RabbitMq {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/compat/rabbitmq-node.sh");
        let _ = Command::new("bash")
            .arg(script)
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

#[tokio::test]
async fn debian_rabbitmq_as_the_external_broker() {
    let Some(rabbit) = RabbitMq::start() else {
        return;
    };
    let url = format!("amqp://guest:guest@127.0.0.1:{}/%2F", rabbit.port);
    let bus = AmqpBus::connect(&url).await.unwrap();
    contract(bus.as_ref()).await;
    drop(bus);

    // The manager itself, told to use RabbitMQ, sets up its broker topology
    // there and does not open its own AMQP port.
    let cfyd = Cfyd::start_with(&["--broker-url", &url]);
    assert!(!cfyd.ports().contains_key("amqp"), "{:?}", cfyd.ports());
    let status: serde_json::Value = reqwest::get(cfyd.url("rest", "/api/v2/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        status
            .to_string()
            .contains("external broker amqp://***@127.0.0.1"),
        "{status}"
    );
    let conn =
        amqprs::connection::Connection::open(&amqprs::connection::OpenConnectionArguments::new(
            "127.0.0.1",
            rabbit.port,
            "guest",
            "guest",
        ))
        .await
        .unwrap();
    let ch = conn.open_channel(None).await.unwrap();
    let declared = ch
        .queue_declare(
            amqprs::channel::QueueDeclareArguments::new("cloudify.management")
                .passive(true)
                .finish(),
        )
        .await;
    assert!(
        declared.is_ok(),
        "cfyd declared its management queue on RabbitMQ"
    );
}
