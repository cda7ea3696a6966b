//! MQTT for edge devices: a plain MQTT 3.1.1 client (raw packets) publishes
//! metrics and events under `cloudify/`; the metrics answer through the
//! InfluxDB API, the events through the REST events endpoint.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Cfyd;
use common::api::influx_query;
use serde_json::{Value, json};

fn remaining_length(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            return;
        }
    }
}

fn packet(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![kind];
    remaining_length(body.len(), &mut p);
    p.extend_from_slice(body);
    p
}

fn string(s: &str) -> Vec<u8> {
    let mut v = (s.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(s.as_bytes());
    v
}

/// Connects (clean session) and returns the stream after CONNACK.
fn connect(port: u16, user: Option<(&str, &str)>) -> (TcpStream, u8) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut body = string("MQTT");
    let flags = 0x02 | if user.is_some() { 0xC0 } else { 0 };
    body.extend_from_slice(&[4, flags, 0, 60]);
    body.extend(string("edge-test"));
    if let Some((u, p)) = user {
        body.extend(string(u));
        body.extend(string(p));
    }
    s.write_all(&packet(0x10, &body)).unwrap();
    let mut ack = [0u8; 4];
    s.read_exact(&mut ack).unwrap();
    assert_eq!(ack[0], 0x20, "CONNACK");
    (s, ack[3])
}

fn publish(s: &mut TcpStream, topic: &str, payload: &[u8]) {
    let mut body = string(topic);
    body.extend_from_slice(payload);
    s.write_all(&packet(0x30, &body)).unwrap();
}

#[tokio::test]
async fn mqtt_metrics_and_events_reach_the_stores() {
    let cfyd = Cfyd::start();
    let (mut s, code) = connect(cfyd.port("mqtt"), None);
    assert_eq!(code, 0);
    publish(
        &mut s,
        "cloudify/metrics/edge1/sensor_0a1b2/temperature",
        b"21.5",
    );
    publish(
        &mut s,
        "cloudify/metrics/edge1/sensor_0a1b2/disk/used",
        br#"{"value": 70, "unit": "%", "time": 1451606400}"#,
    );
    let event = json!({"type": "cloudify_event", "event_type": "edge_event",
        "timestamp": "2016-01-01 00:00:00.000+0000", "message": {"text": "door opened", "arguments": null},
        "context": {"deployment_id": "edge1", "execution_id": "edge-exec"}});
    publish(
        &mut s,
        "cloudify/events/edge1/sensor_0a1b2",
        event.to_string().as_bytes(),
    );

    let http = reqwest::Client::new();
    let t = Instant::now();
    loop {
        let r = influx_query(
            &cfyd,
            "cloudify",
            "SELECT value FROM disk_used, temperature GROUP BY node_name",
        )
        .await;
        let series = r["results"][0]["series"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if series.len() == 2 {
            assert_eq!(series[0]["name"], "disk_used");
            assert_eq!(series[0]["tags"]["node_name"], "sensor");
            assert_eq!(series[0]["values"][0], json!([1_451_606_400, 70.0]));
            assert_eq!(series[1]["values"][0][1], 21.5);
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "metrics never arrived: {r}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    loop {
        let r: Value = http
            .get(cfyd.url("rest", "/api/v2/events?execution_id=edge-exec"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if r["items"][0]["message"]["text"] == "door opened" {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "event never arrived: {r}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn mqtt_auth_is_enforced_when_configured() {
    let cfyd = Cfyd::start_with(&["--set", "mqtt.user=edge", "--set", "mqtt.password=s3cret"]);
    let port = cfyd.port("mqtt");
    let (_s, code) = connect(port, Some(("edge", "s3cret")));
    assert_eq!(code, 0);
    let refused = std::panic::catch_unwind(|| connect(port, Some(("edge", "wrong"))));
    // A refused login gets a non-zero CONNACK code, or the connection closes.
    if let Ok((_, code)) = refused {
        assert_ne!(code, 0);
    }
}

#[tokio::test]
async fn mosquitto_pub_metrics_are_queryable() {
    let bin = std::path::Path::new("/usr/bin/mosquitto_pub");
    if !bin.exists() {
        assert!(
            std::env::var("REQUIRE_MOSQUITTO").is_err(),
            "REQUIRE_MOSQUITTO is set but mosquitto-clients is not installed"
        );
        eprintln!("mosquitto-clients is not installed: the mosquitto_pub test did not run");
        return;
    }
    let cfyd = Cfyd::start();
    let port = cfyd.port("mqtt").to_string();
    for v in ["1.5", "2.5"] {
        let status = std::process::Command::new(bin)
            .args(["-h", "127.0.0.1", "-p", &port, "-q", "1", "-t"])
            .args(["cloudify/metrics/mq/dev_00001/temp", "-m", v])
            .status()
            .unwrap();
        assert!(status.success());
    }
    let t = Instant::now();
    loop {
        let r = influx_query(
            &cfyd,
            "cloudify",
            "SELECT sum(value) FROM temp WHERE node_id = 'dev_00001'",
        )
        .await;
        if r["results"][0]["series"][0]["values"][0][1] == 4.0 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "metrics never arrived: {r}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
