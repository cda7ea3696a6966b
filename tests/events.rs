//! Events and logs published as agents publish them (a bare JSON body to the
//! `cloudify-events` / `cloudify-logs` queues) become searchable through
//! `/events`, in order, within a second; and survive a restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use amqprs::BasicProperties;
use amqprs::channel::BasicPublishArguments;
use amqprs::connection::{Connection, OpenConnectionArguments};
use common::Cfyd;
use serde_json::{Value, json};

async fn publish(cfyd: &Cfyd, queue: &str, docs: &[Value]) {
    let conn = Connection::open(&OpenConnectionArguments::new(
        "127.0.0.1",
        cfyd.port("amqp"),
        "guest",
        "guest",
    ))
    .await
    .unwrap();
    let ch = conn.open_channel(None).await.unwrap();
    for d in docs {
        ch.basic_publish(
            BasicProperties::default(),
            d.to_string().into_bytes(),
            BasicPublishArguments::new("", queue),
        )
        .await
        .unwrap();
    }
    conn.close().await.unwrap();
}

fn event(exec: &str, i: usize) -> Value {
    json!({"event_type": "task_succeeded", "type": "cloudify_event", "message_code": null,
           "message": {"text": format!("Task succeeded 'op{i}'"), "arguments": null},
           "timestamp": "2015-12-07 14:03:15.004+0000",
           "context": {"execution_id": exec, "deployment_id": "d1", "workflow_id": "install", "node_id": format!("vm_{i:05x}")}})
}

fn log(exec: &str, level: &str) -> Value {
    json!({"type": "cloudify_log", "level": level, "logger": "task", "message": {"text": format!("{level} line")},
           "timestamp": "2015-12-07 14:03:15.004+0000", "context": {"execution_id": exec, "deployment_id": "d1"}})
}

async fn events(cfyd: &Cfyd, query: &str) -> Value {
    reqwest::get(cfyd.url("rest", &format!("/api/v2/events?{query}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn wait_total(cfyd: &Cfyd, query: &str, want: u64) -> (Value, Duration) {
    let start = Instant::now();
    loop {
        let v = events(cfyd, query).await;
        if v["metadata"]["pagination"]["total"] == want {
            return (v, start.elapsed());
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "only {} of {want} events: {v}",
            v["metadata"]["pagination"]["total"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn published_events_and_logs_are_searchable_in_order() {
    let mut cfyd = Cfyd::start();
    let evs: Vec<Value> = (0..50).map(|i| event("exec-1", i)).collect();
    publish(&cfyd, "cloudify-events", &evs).await;
    publish(&cfyd, "cloudify-events", &[event("exec-2", 99)]).await;
    publish(
        &cfyd,
        "cloudify-logs",
        &[log("exec-1", "info"), log("exec-1", "error")],
    )
    .await;

    let (v, _) = wait_total(
        &cfyd,
        "execution_id=exec-1&type=cloudify_event&_sort=@timestamp",
        50,
    )
    .await;
    let items = v["items"].as_array().unwrap();
    let texts: Vec<&str> = items
        .iter()
        .map(|i| i["message"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts[0], "Task succeeded 'op0'");
    assert_eq!(texts[49], "Task succeeded 'op49'", "publish order");
    assert!(
        items
            .iter()
            .all(|i| i["@timestamp"].as_str().unwrap().ends_with('Z')),
        "ingestion time in UTC"
    );
    assert_eq!(
        items[0]["timestamp"], "2015-12-07 14:03:15.004+0000",
        "the original timestamp is kept"
    );

    wait_total(
        &cfyd,
        "execution_id=exec-1&type=cloudify_event&type=cloudify_log",
        52,
    )
    .await;
    let v = events(&cfyd, "execution_id=exec-1&level=error").await;
    assert_eq!(v["metadata"]["pagination"]["total"], 1);
    let v = events(
        &cfyd,
        "execution_id=exec-1&type=cloudify_event&_offset=10&_size=5&_include=message",
    )
    .await;
    assert_eq!(v["items"].as_array().unwrap().len(), 5);
    assert_eq!(
        v["items"][0],
        json!({"message": {"text": "Task succeeded 'op10'", "arguments": null}})
    );
    assert_eq!(
        v["metadata"]["pagination"],
        json!({"total": 50, "size": 5, "offset": 10})
    );
    let v = events(&cfyd, "message.text=*op7*").await;
    assert!(v["metadata"]["pagination"]["total"].as_u64().unwrap() >= 1);
    let far = events(&cfyd, "_range=@timestamp,2030-01-01T00:00:00,").await;
    assert_eq!(far["metadata"]["pagination"]["total"], 0);

    // v1 and the 3.2 root path take an Elasticsearch body on a GET.
    let body = json!({"from": 0, "size": 3, "sort": [{"@timestamp": {"order": "asc", "ignore_unmapped": true}}],
                      "query": {"bool": {"must": [{"match": {"context.execution_id": "exec-1"}}, {"match": {"type": "cloudify_event"}}]}}});
    let es: Value = reqwest::Client::new()
        .get(cfyd.url("rest", "/events"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(es["hits"]["total"], 50);
    assert_eq!(
        es["hits"]["hits"][0]["_source"]["message"]["text"],
        "Task succeeded 'op0'"
    );
    let resp = reqwest::Client::new()
        .post(cfyd.url("rest", "/api/v2/events"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);

    // Indexed events survive a restart.
    cfyd.terminate();
    cfyd.restart();
    let v = events(&cfyd, "execution_id=exec-1").await;
    assert_eq!(v["metadata"]["pagination"]["total"], 52);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_ingestion_loses_and_duplicates_nothing() {
    use amqprs::channel::ConfirmSelectArguments;
    const N: usize = 3000;
    let mut cfyd = Cfyd::start();
    let conn = Connection::open(&OpenConnectionArguments::new(
        "127.0.0.1",
        cfyd.port("amqp"),
        "guest",
        "guest",
    ))
    .await
    .unwrap();
    let ch = conn.open_channel(None).await.unwrap();
    ch.confirm_select(ConfirmSelectArguments::default())
        .await
        .unwrap();
    let mut props = BasicProperties::default();
    props.with_delivery_mode(amqprs::DELIVERY_MODE_PERSISTENT);
    for i in 0..N {
        let doc = event("crash-1", i).to_string().into_bytes();
        ch.basic_publish(
            props.clone(),
            doc,
            BasicPublishArguments::new("", "cloudify-events"),
        )
        .await
        .unwrap();
    }
    // Wait until the pipeline has indexed part of them, then crash.
    let start = Instant::now();
    loop {
        let n =
            events(&cfyd, "execution_id=crash-1&_size=0").await["metadata"]["pagination"]["total"]
                .as_u64()
                .unwrap_or(0);
        if n > 0 || start.elapsed() > Duration::from_secs(10) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(ch);
    drop(conn);
    cfyd.kill();
    cfyd.restart();
    let (_, _) = wait_total(&cfyd, "execution_id=crash-1&_size=0", N as u64).await;
    let all = events(&cfyd, &format!("execution_id=crash-1&_size={N}")).await;
    let mut seen: Vec<String> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"]["text"].as_str().unwrap().to_owned())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), N, "every event once");
}
