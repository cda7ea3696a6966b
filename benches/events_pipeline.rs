//! Broker publish → searchable, end to end, against the release binary.
//!
//! Run: `cargo bench --bench events_pipeline` (`PIPELINE_BENCH_EVENTS=N`,
//! default 300,000). Starts `cfyd serve` in a fresh data directory,
//! publishes N ~1 KiB Cloudify events to the `cloudify-events` queue as
//! agents do (amqprs, one connection), and polls `_count` on 9200 until all
//! are searchable: the sustained rate is N over that time. Then publishes
//! 200 single events 20 ms apart and times each from publish until a search
//! finds it (visibility delay). Prints one JSON line.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use amqprs::BasicProperties;
use amqprs::channel::BasicPublishArguments;
use amqprs::connection::{Connection, OpenConnectionArguments};
use serde_json::{Value, json};

const PROBES: usize = 200;

/// Kills cfyd however the bench ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn event(exec: &str, i: usize) -> Vec<u8> {
    json!({"type": "cloudify_event", "event_type": "task_succeeded",
           "message": {"text": format!("Task succeeded 'nova_plugin.server.create' on vm_{:05x}", i % 4096), "arguments": null},
           "timestamp": "2015-12-07 14:03:15.004+0000", "message_code": null,
           "context": {"blueprint_id": "bp", "deployment_id": "dep1", "execution_id": exec, "workflow_id": "install",
                       "task_id": "b1e2c3d4-0000-0000-0000-000000000000", "task_name": "nova_plugin.server.create",
                       "operation": "cloudify.interfaces.lifecycle.create", "plugin": "openstack",
                       "node_id": format!("vm_{:05x}", i % 4096), "node_name": "vm", "pad": "x".repeat(560)}})
    .to_string()
    .into_bytes()
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p) as usize]
}

async fn count(http: &reqwest::Client, es: &str, exec: &str) -> u64 {
    let body = json!({"query": {"term": {"context.execution_id": exec}}});
    let r = http
        .post(format!("{es}/cloudify_events/_count"))
        .json(&body)
        .send()
        .await;
    match r {
        Ok(r) => r
            .json::<Value>()
            .await
            .ok()
            .and_then(|v| v["count"].as_u64())
            .unwrap_or(0),
        Err(_) => 0,
    }
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("PIPELINE_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_cfyd"))
            .args([
                "serve",
                "--ephemeral-ports",
                "--log-filter",
                "warn",
                "--data-dir",
            ])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn cfyd"),
    );
    let ports_file = dir.path().join("ports.json");
    let start = Instant::now();
    while !ports_file.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "cfyd did not start"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let ports: Value =
        serde_json::from_str(&std::fs::read_to_string(&ports_file).expect("ports")).expect("json");
    let amqp = ports["amqp"].as_u64().expect("amqp port") as u16;
    let es = format!("http://127.0.0.1:{}", ports["elasticsearch"]);
    let http = reqwest::Client::new();

    let conn = Connection::open(&OpenConnectionArguments::new(
        "127.0.0.1",
        amqp,
        "guest",
        "guest",
    ))
    .await
    .expect("connect");
    let ch = conn.open_channel(None).await.expect("channel");
    let bodies: Vec<Vec<u8>> = (0..n).map(|i| event("bulk", i)).collect();
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let t0 = Instant::now();
    for b in bodies {
        ch.basic_publish(
            BasicProperties::default(),
            b,
            BasicPublishArguments::new("", "cloudify-events"),
        )
        .await
        .expect("publish");
    }
    let published = t0.elapsed().as_secs_f64();
    let mut last_report = Instant::now();
    loop {
        let c = count(&http, &es, "bulk").await;
        if c >= n as u64 {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "{c} of {n} searchable after {:.0} s",
                t0.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "events did not all arrive"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all = t0.elapsed().as_secs_f64();

    let mut delays = Vec::with_capacity(PROBES);
    for i in 0..PROBES {
        let exec = format!("probe-{i}");
        let t = Instant::now();
        ch.basic_publish(
            BasicProperties::default(),
            event(&exec, i),
            BasicPublishArguments::new("", "cloudify-events"),
        )
        .await
        .expect("publish");
        while count(&http, &es, &exec).await < 1 {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "probe {i} never became searchable"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        delays.push(t.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = conn.close().await;
    println!(
        "{{\"bench\":\"events_pipeline\",\"events\":{n},\"avg_event_bytes\":{},\"publish_s\":{published:.2},\"searchable_s\":{all:.2},\"events_per_s\":{:.0},\"visibility_ms_p50\":{:.1},\"visibility_ms_p99\":{:.1},\"visibility_ms_max\":{:.1}}}",
        bytes / n,
        n as f64 / all,
        percentile(delays.clone(), 0.5),
        percentile(delays.clone(), 0.99),
        percentile(delays, 1.0),
    );
}
