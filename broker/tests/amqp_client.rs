//! The broker over real sockets with the amqprs client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use amqprs::channel::*;
use amqprs::{BasicProperties, FieldTable, FieldValue};
use common::{Running, persistent};

async fn declare(ch: &amqprs::channel::Channel, args: QueueDeclareArguments) -> String {
    ch.queue_declare(args).await.unwrap().unwrap().0
}

#[tokio::test]
async fn publish_get_ack_and_nack_requeue() {
    let b = Running::in_memory().await;
    let (conn, ch, _) = b.connect().await;
    let q = declare(&ch, QueueDeclareArguments::exclusive_server_named()).await;
    assert!(q.starts_with("amq.gen-") && q.len() == 30, "{q}");
    for i in 0..3u8 {
        ch.basic_publish(
            BasicProperties::default(),
            vec![i],
            BasicPublishArguments::new("", &q),
        )
        .await
        .unwrap();
    }
    let (ok, _, body) = ch
        .basic_get(BasicGetArguments::new(&q))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (body, ok.redelivered(), ok.message_count()),
        (vec![0], false, 2)
    );
    ch.basic_nack(BasicNackArguments::new(ok.delivery_tag(), false, true))
        .await
        .unwrap();
    let (ok, _, body) = ch
        .basic_get(BasicGetArguments::new(&q))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (body, ok.redelivered()),
        (vec![0], true),
        "requeued first, flagged"
    );
    ch.basic_ack(BasicAckArguments::new(ok.delivery_tag(), false))
        .await
        .unwrap();
    let (ok, _, body) = ch
        .basic_get(BasicGetArguments::new(&q))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body, vec![1]);
    ch.basic_reject(BasicRejectArguments::new(ok.delivery_tag(), false))
        .await
        .unwrap();
    let (_, _, body) = ch
        .basic_get(BasicGetArguments::new(&q).no_ack(true).finish())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body, vec![2], "rejected without requeue is gone");
    assert!(
        ch.basic_get(BasicGetArguments::new(&q))
            .await
            .unwrap()
            .is_none()
    );
    conn.close().await.unwrap();
    b.stop().await;
}

#[tokio::test]
async fn prefetch_limits_unacked_deliveries() {
    let b = Running::in_memory().await;
    let (_conn, ch, _) = b.connect().await;
    let q = declare(&ch, QueueDeclareArguments::exclusive_server_named()).await;
    for i in 0..5u8 {
        ch.basic_publish(
            BasicProperties::default(),
            vec![i],
            BasicPublishArguments::new("", &q),
        )
        .await
        .unwrap();
    }
    ch.basic_qos(BasicQosArguments::new(0, 2, false))
        .await
        .unwrap();
    let (_, mut rx) = ch
        .basic_consume_rx(BasicConsumeArguments::new(&q, "c1"))
        .await
        .unwrap();
    let first = rx.recv().await.unwrap();
    let second = rx.recv().await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), rx.recv())
            .await
            .is_err(),
        "third delivery exceeds prefetch 2"
    );
    let tag = second.deliver.unwrap().delivery_tag();
    ch.basic_ack(BasicAckArguments::new(tag, true))
        .await
        .unwrap();
    let third = rx.recv().await.unwrap();
    let fourth = rx.recv().await.unwrap();
    let bodies: Vec<u8> = [first, third, fourth]
        .iter()
        .map(|m| m.content.as_ref().unwrap()[0])
        .collect();
    assert_eq!(bodies, vec![0, 2, 3]);
    b.stop().await;
}

#[tokio::test]
async fn confirms_cover_every_publish_once_and_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let b = Running::durable(dir.path()).await;
    let (conn, ch, events) = b.connect().await;
    ch.confirm_select(ConfirmSelectArguments::default())
        .await
        .unwrap();
    declare(&ch, QueueDeclareArguments::durable_client_named("jobs")).await;
    const N: u64 = 500;
    for i in 0..N {
        ch.basic_publish(
            persistent(),
            i.to_be_bytes().to_vec(),
            BasicPublishArguments::new("", "jobs"),
        )
        .await
        .unwrap();
    }
    events
        .wait("all confirms", |r| r.acked.len() as u64 == N)
        .await;
    assert_eq!(events.get().acked, (1..=N).collect::<Vec<_>>());
    conn.close().await.unwrap();
    b.stop().await;

    let b = Running::durable(dir.path()).await;
    let (_conn, ch, _) = b.connect().await;
    let (_, count, _) = ch
        .queue_declare(QueueDeclareArguments::durable_client_named("jobs"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(count as u64, N);
    let mut seen = Vec::new();
    while let Some((ok, _, body)) = ch
        .basic_get(BasicGetArguments::new("jobs").no_ack(true).finish())
        .await
        .unwrap()
    {
        assert!(ok.redelivered());
        seen.push(u64::from_be_bytes(body.try_into().unwrap()));
    }
    assert_eq!(
        seen,
        (0..N).collect::<Vec<_>>(),
        "all confirmed messages back, in order"
    );
    b.stop().await;
}

#[tokio::test]
async fn mandatory_unroutable_is_returned_before_its_confirm() {
    let b = Running::in_memory().await;
    let (_conn, ch, events) = b.connect().await;
    ch.confirm_select(ConfirmSelectArguments::default())
        .await
        .unwrap();
    let args = BasicPublishArguments::new("amq.direct", "nowhere")
        .mandatory(true)
        .finish();
    ch.basic_publish(BasicProperties::default(), b"lost".to_vec(), args)
        .await
        .unwrap();
    events.wait("ack", |r| r.acked == vec![1]).await;
    assert_eq!(events.get().returns, vec![(312, b"lost".to_vec())]);
    b.stop().await;
}

#[tokio::test]
async fn exchange_types_route_as_rabbitmq_does() {
    let b = Running::in_memory().await;
    let (_conn, ch, _) = b.connect().await;
    ch.exchange_declare(ExchangeDeclareArguments::new("fan", "fanout"))
        .await
        .unwrap();
    ch.exchange_declare(ExchangeDeclareArguments::new("top", "topic"))
        .await
        .unwrap();
    ch.exchange_declare(ExchangeDeclareArguments::new("hdr", "headers"))
        .await
        .unwrap();
    let q1 = declare(&ch, QueueDeclareArguments::exclusive_server_named()).await;
    let q2 = declare(&ch, QueueDeclareArguments::exclusive_server_named()).await;
    ch.queue_bind(QueueBindArguments::new(&q1, "fan", ""))
        .await
        .unwrap();
    ch.queue_bind(QueueBindArguments::new(&q2, "fan", ""))
        .await
        .unwrap();
    ch.queue_bind(QueueBindArguments::new(&q1, "top", "logs.*.error"))
        .await
        .unwrap();
    ch.queue_bind(QueueBindArguments::new(&q2, "top", "logs.#"))
        .await
        .unwrap();
    let mut hargs = FieldTable::new();
    hargs.insert("x-match".try_into().unwrap(), FieldValue::from("any"));
    hargs.insert("kind".try_into().unwrap(), FieldValue::from("alert"));
    ch.queue_bind(
        QueueBindArguments::new(&q1, "hdr", "")
            .arguments(hargs)
            .finish(),
    )
    .await
    .unwrap();
    // exchange-to-exchange: top → fan for "x.y"
    ch.exchange_bind(ExchangeBindArguments::new("fan", "top", "x.y"))
        .await
        .unwrap();

    let publish = |ex: &'static str, key: &'static str, props: BasicProperties| {
        let ch = &ch;
        async move {
            ch.basic_publish(
                props,
                key.as_bytes().to_vec(),
                BasicPublishArguments::new(ex, key),
            )
            .await
            .unwrap()
        }
    };
    publish("fan", "f", BasicProperties::default()).await;
    publish("top", "logs.app.error", BasicProperties::default()).await;
    publish("top", "logs.app.info", BasicProperties::default()).await;
    publish("top", "x.y", BasicProperties::default()).await;
    let mut h = FieldTable::new();
    h.insert("kind".try_into().unwrap(), FieldValue::from("alert"));
    let mut props = BasicProperties::default();
    props.with_headers(h);
    publish("hdr", "h", props).await;

    let drain = |q: String| {
        let ch = &ch;
        async move {
            let mut out = Vec::new();
            while let Some((_, _, body)) = ch
                .basic_get(BasicGetArguments::new(&q).no_ack(true).finish())
                .await
                .unwrap()
            {
                out.push(String::from_utf8(body).unwrap());
            }
            out
        }
    };
    assert_eq!(drain(q1).await, vec!["f", "logs.app.error", "x.y", "h"]);
    assert_eq!(
        drain(q2).await,
        vec!["f", "logs.app.error", "logs.app.info", "x.y"]
    );
    b.stop().await;
}

#[tokio::test]
async fn channel_errors_close_the_channel_not_the_connection() {
    let b = Running::in_memory().await;
    let (conn, ch, events) = b.connect().await;
    ch.basic_publish(
        BasicProperties::default(),
        b"x".to_vec(),
        BasicPublishArguments::new("no-such-exchange", "k"),
    )
    .await
    .unwrap();
    events
        .wait("404 channel close", |r| r.channel_closes == vec![404])
        .await;
    let ch2 = conn.open_channel(None).await.unwrap();
    ch2.register_callback(events.clone()).await.unwrap();
    let err = ch2
        .queue_declare(QueueDeclareArguments::new("missing").passive(true).finish())
        .await;
    assert!(err.is_err());
    events
        .wait("second 404", |r| r.channel_closes == vec![404, 404])
        .await;
    let ch3 = conn.open_channel(None).await.unwrap();
    ch3.register_callback(events.clone()).await.unwrap();
    ch3.queue_declare(QueueDeclareArguments::new("q406"))
        .await
        .unwrap();
    let _ = ch3
        .queue_declare(QueueDeclareArguments::durable_client_named("q406"))
        .await;
    events
        .wait("406 inequivalent", |r| {
            r.channel_closes == vec![404, 404, 406]
        })
        .await;
    let ch4 = conn.open_channel(None).await.unwrap();
    ch4.register_callback(events.clone()).await.unwrap();
    let _ = ch4.basic_ack(BasicAckArguments::new(99, false)).await;
    events
        .wait("406 unknown tag", |r| r.channel_closes.len() == 4)
        .await;
    assert_eq!(events.get().channel_closes[3], 406);
    assert!(events.get().connection_closes.is_empty());
    b.stop().await;
}

#[tokio::test]
async fn transactions_commit_and_roll_back() {
    let b = Running::in_memory().await;
    let (_conn, ch, _) = b.connect().await;
    let q = declare(&ch, QueueDeclareArguments::exclusive_server_named()).await;
    ch.tx_select().await.unwrap();
    ch.basic_publish(
        BasicProperties::default(),
        b"a".to_vec(),
        BasicPublishArguments::new("", &q),
    )
    .await
    .unwrap();
    ch.tx_rollback().await.unwrap();
    ch.basic_publish(
        BasicProperties::default(),
        b"b".to_vec(),
        BasicPublishArguments::new("", &q),
    )
    .await
    .unwrap();
    let (_, count, _) = ch
        .queue_declare(QueueDeclareArguments::new(&q).passive(true).finish())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(count, 0, "nothing is visible before commit");
    ch.tx_commit().await.unwrap();
    let (_, _, body) = ch
        .basic_get(BasicGetArguments::new(&q).no_ack(true).finish())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body, b"b");
    b.stop().await;
}

#[tokio::test]
async fn ttl_expiry_dead_letters_with_x_death() {
    let b = Running::in_memory().await;
    let (_conn, ch, _) = b.connect().await;
    ch.exchange_declare(ExchangeDeclareArguments::new("dlx", "fanout"))
        .await
        .unwrap();
    let dead = declare(&ch, QueueDeclareArguments::exclusive_server_named()).await;
    ch.queue_bind(QueueBindArguments::new(&dead, "dlx", ""))
        .await
        .unwrap();
    let mut args = FieldTable::new();
    args.insert("x-message-ttl".try_into().unwrap(), FieldValue::I(50));
    args.insert(
        "x-dead-letter-exchange".try_into().unwrap(),
        FieldValue::from("dlx"),
    );
    declare(
        &ch,
        QueueDeclareArguments::new("short-lived")
            .arguments(args)
            .finish(),
    )
    .await;
    ch.basic_publish(
        BasicProperties::default(),
        b"tick".to_vec(),
        BasicPublishArguments::new("", "short-lived"),
    )
    .await
    .unwrap();
    let mut got = None;
    for _ in 0..100 {
        if let Some(m) = ch
            .basic_get(BasicGetArguments::new(&dead).no_ack(true).finish())
            .await
            .unwrap()
        {
            got = Some(m);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, props, body) = got.expect("dead-lettered message");
    assert_eq!(body, b"tick");
    let headers = props.headers().unwrap();
    let deaths = format!("{:?}", headers.get(&"x-death".try_into().unwrap()).unwrap());
    assert!(
        deaths.contains("expired") && deaths.contains("short-lived"),
        "{deaths}"
    );
    b.stop().await;
}

#[tokio::test]
async fn wrong_password_is_refused() {
    let b = Running::in_memory().await;
    let res = amqprs::connection::Connection::open(
        &amqprs::connection::OpenConnectionArguments::new("127.0.0.1", b.port, "guest", "wrong"),
    )
    .await;
    assert!(res.is_err());
    b.stop().await;
}

#[tokio::test]
async fn deleting_a_queue_cancels_its_consumers() {
    let b = Running::in_memory().await;
    let (_conn, ch, events) = b.connect().await;
    declare(&ch, QueueDeclareArguments::new("doomed")).await;
    let (tag, _rx) = ch
        .basic_consume_rx(BasicConsumeArguments::new("doomed", ""))
        .await
        .unwrap();
    assert!(tag.starts_with("amq.ctag-"));
    let (_c2, ch2, _) = b.connect().await;
    ch2.queue_delete(QueueDeleteArguments::new("doomed"))
        .await
        .unwrap();
    events
        .wait("server cancel", |r| r.cancels == vec![tag.clone()])
        .await;
    b.stop().await;
}
