//! The InfluxDB 1.x API on 8086 end to end: ping, writes and queries over
//! HTTP, partial writes and errors, gzip bodies, restart and kill -9
//! (nothing acknowledged is lost), and Diamond metrics from the broker
//! landing in the `cloudify` database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::Cfyd;
use common::api::influx_query;
use serde_json::{Value, json};

fn url(cfyd: &Cfyd, path: &str) -> String {
    cfyd.url("influxdb", path)
}

async fn write(cfyd: &Cfyd, db: &str, body: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(url(cfyd, &format!("/write?db={db}&precision=s")))
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn writes_and_queries_survive_restart_and_kill() {
    let mut cfyd = Cfyd::start();
    let ping = reqwest::get(url(&cfyd, "/ping")).await.unwrap();
    assert_eq!(ping.status().as_u16(), 204);
    assert!(ping.headers().contains_key("x-influxdb-version"));
    let created = influx_query(&cfyd, "", "CREATE DATABASE lab").await;
    assert_eq!(created, json!({"results": [{"statement_id": 0}]}));

    let mut body = String::new();
    for i in 0..100 {
        body.push_str(&format!("cpu,host=a value={i} {}\n", 1_000 + i * 10));
    }
    assert_eq!(write(&cfyd, "lab", &body).await.0, 204);
    let (code, text) = write(&cfyd, "lab", "cpu,host=b value=1 1000\nbroken line\n").await;
    assert_eq!(code, 400);
    assert!(
        text.contains("partial write: unable to parse 'broken line'"),
        "{text}"
    );
    assert_eq!(write(&cfyd, "nope", "m v=1").await.0, 404);

    // gzip bodies
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, b"cpu,host=c value=7 1000\n").unwrap();
    let r = reqwest::Client::new()
        .post(url(&cfyd, "/write?db=lab&precision=s"))
        .header("Content-Encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);

    let q = "SELECT mean(value) FROM cpu WHERE host = 'a' AND time >= 1000s AND time < 2000s GROUP BY time(500s)";
    let expect = json!({"results": [{"statement_id": 0, "series": [{"name": "cpu", "columns": ["time", "mean"], "values": [[1000, 24.5], [1500, 74.5]]}]}]});
    assert_eq!(influx_query(&cfyd, "lab", q).await, expect);
    let count = "SELECT count(value) FROM cpu";
    let before = influx_query(&cfyd, "lab", count).await;
    assert_eq!(before["results"][0]["series"][0]["values"][0][1], 102);

    // A clean restart, then a kill -9 right after acknowledged writes.
    cfyd.terminate();
    cfyd.restart();
    assert_eq!(influx_query(&cfyd, "lab", q).await, expect);
    assert_eq!(
        write(&cfyd, "lab", "cpu,host=d value=1 5000\n").await.0,
        204
    );
    cfyd.kill();
    cfyd.restart();
    let after = influx_query(&cfyd, "lab", count).await;
    assert_eq!(after["results"][0]["series"][0]["values"][0][1], 103);
}

#[tokio::test]
async fn diamond_metrics_from_the_broker_are_queryable() {
    let cfyd = Cfyd::start();
    let mut args = amqprs::connection::OpenConnectionArguments::new(
        "127.0.0.1",
        cfyd.port("amqp"),
        "guest",
        "guest",
    );
    args.virtual_host("/");
    let conn = amqprs::connection::Connection::open(&args).await.unwrap();
    let ch = conn.open_channel(None).await.unwrap();
    for i in 0..5 {
        let body = json!({"node_id": "vm_1a2b3", "node_name": "vm", "deployment_id": "d1",
            "name": "cpu", "path": "total_user", "metric": 10.0 + f64::from(i), "unit": "",
            "type": "GAUGE", "host": "vm_1a2b3", "service": "d1.vm.vm_1a2b3.cpu.total.user",
            "time": 1_451_606_400 + i * 10});
        ch.basic_publish(
            amqprs::BasicProperties::default(),
            body.to_string().into_bytes(),
            amqprs::channel::BasicPublishArguments::new("cloudify-monitoring", "d1"),
        )
        .await
        .unwrap();
    }
    let t = Instant::now();
    loop {
        let r = influx_query(
            &cfyd,
            "cloudify",
            "SELECT max(value) FROM cpu_total_user WHERE deployment_id = 'd1' GROUP BY node_id",
        )
        .await;
        if let Some(s) = r["results"][0]["series"].get(0) {
            assert_eq!(s["tags"]["node_id"], "vm_1a2b3");
            assert_eq!(s["values"][0], json!([1_451_606_440, 14.0]));
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "metrics never arrived: {r}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = ch.close().await;
    let _ = conn.close().await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Debian's influxd on free loopback ports, killed when dropped; `None`
/// (with a note) when it is not installed, unless `REQUIRE_INFLUXDB=1`
/// (set by `.ci/run`) makes that a failure.
struct Influxd {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Influxd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn influxd() -> Option<Influxd> {
    if !std::path::Path::new("/usr/bin/influxd").exists() {
        assert!(
            std::env::var("REQUIRE_INFLUXDB").is_err(),
            "REQUIRE_INFLUXDB is set but influxdb is not installed"
        );
        eprintln!("influxdb is not installed: the external-InfluxDB test did not run");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let (port, rpc) = (free_port(), free_port());
    let d = dir.path().display();
    let conf = format!(
        "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n[meta]\n  dir = \"{d}/meta\"\n[data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n[retention]\n  enabled = false\n[monitor]\n  store-enabled = false\n[http]\n  bind-address = \"127.0.0.1:{port}\"\n  log-enabled = false\n[continuous_queries]\n  enabled = false\n[subscriber]\n  enabled = false\n"
    );
    std::fs::write(dir.path().join("influxdb.conf"), conf).unwrap();
    let child = std::process::Command::new("/usr/bin/influxd")
        .arg("-config")
        .arg(dir.path().join("influxdb.conf"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "influxd did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Influxd {
        child,
        port,
        _dir: dir,
    })
}

#[tokio::test]
async fn metrics_go_to_an_external_influxdb_when_configured() {
    let Some(influx) = influxd() else { return };
    let base = format!("http://127.0.0.1:{}", influx.port);
    let cfyd = Cfyd::start_with(&["--metrics-url", &base]);
    assert!(
        !cfyd.ports().contains_key("influxdb"),
        "8086 is not served with an external InfluxDB"
    );
    let mut args = amqprs::connection::OpenConnectionArguments::new(
        "127.0.0.1",
        cfyd.port("amqp"),
        "guest",
        "guest",
    );
    args.virtual_host("/");
    let conn = amqprs::connection::Connection::open(&args).await.unwrap();
    let ch = conn.open_channel(None).await.unwrap();
    let body = json!({"node_id": "vm_x", "node_name": "vm", "deployment_id": "ext",
        "name": "memory", "path": "free", "metric": 42.5, "unit": "", "type": "GAUGE",
        "host": "vm_x", "service": "ext.vm.vm_x.memory.free", "time": 1_451_606_400});
    ch.basic_publish(
        amqprs::BasicProperties::default(),
        body.to_string().into_bytes(),
        amqprs::channel::BasicPublishArguments::new("cloudify-monitoring", "ext"),
    )
    .await
    .unwrap();
    let t = Instant::now();
    loop {
        let r: Value = reqwest::Client::new()
            .get(format!("{base}/query"))
            .query(&[
                ("db", "cloudify"),
                ("epoch", "s"),
                (
                    "q",
                    "SELECT value FROM memory_free WHERE deployment_id = 'ext'",
                ),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(s) = r["results"][0]["series"].get(0) {
            assert_eq!(s["values"][0], json!([1_451_606_400, 42.5]));
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "metric never reached influxd: {r}\n{}",
            cfyd.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = conn.close().await;
}

#[tokio::test]
async fn the_influx_cli_writes_and_queries() {
    let cli = std::path::Path::new("/usr/bin/influx");
    if !cli.exists() {
        assert!(
            std::env::var("REQUIRE_INFLUXDB").is_err(),
            "REQUIRE_INFLUXDB is set but influxdb-client is not installed"
        );
        eprintln!("influxdb-client is not installed: the influx CLI test did not run");
        return;
    }
    let cfyd = Cfyd::start();
    let port = cfyd.port("influxdb").to_string();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(cli)
            .args(["-host", "127.0.0.1", "-port", &port])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["-execute", "CREATE DATABASE cli"]);
    run(&["-database", "cli", "-execute", "INSERT cpu,host=a value=3"]);
    run(&["-database", "cli", "-execute", "INSERT cpu,host=a value=5"]);
    let out = run(&[
        "-database",
        "cli",
        "-format",
        "json",
        "-execute",
        "SELECT mean(value) FROM cpu",
    ]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["results"][0]["series"][0]["values"][0][1], 4.0, "{out}");
    let dbs = run(&["-format", "csv", "-execute", "SHOW DATABASES"]);
    assert!(dbs.contains("databases,cli"), "{dbs}");
}
