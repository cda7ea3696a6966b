//! `cfyd serve` end to end: listeners, REST status/version, errors, shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::net::TcpStream;

use common::{Cfyd, run};
use serde_json::Value;

async fn get(url: &str) -> (u16, Value) {
    let resp = reqwest::get(url).await.expect("request");
    let status = resp.status().as_u16();
    let body = resp.json().await.expect("json body");
    (status, body)
}

#[tokio::test]
async fn status_and_version_answer_on_every_prefix_and_both_rest_ports() {
    let cfyd = Cfyd::start();
    for listener in ["rest", "rest_internal"] {
        for prefix in ["/api/v2", "/api/v1", ""] {
            let (code, version) = get(&cfyd.url(listener, &format!("{prefix}/version"))).await;
            assert_eq!(code, 200);
            assert_eq!(version["version"], "3.3.1");
            for key in ["build", "date", "commit"] {
                assert!(version[key].is_string(), "{key} in {version}");
            }

            let (code, status) = get(&cfyd.url(listener, &format!("{prefix}/status"))).await;
            assert_eq!(code, 200);
            assert_eq!(status["status"], "running");
            let services = status["services"].as_array().unwrap();
            let names: Vec<&str> = services
                .iter()
                .map(|s| s["display_name"].as_str().unwrap())
                .collect();
            assert!(names.contains(&"Manager Rest-Service"), "{names:?}");
            for s in services {
                let inst = &s["instances"][0];
                assert_eq!(inst["state"], "running");
                assert_eq!(inst["MainPID"], cfyd.pid());
                for key in ["Id", "Description", "LoadState", "ActiveState", "SubState"] {
                    assert!(inst[key].is_string(), "{key} in {inst}");
                }
            }
        }
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_get_cloudify_error_bodies() {
    let cfyd = Cfyd::start();
    let (code, body) = get(&cfyd.url("rest", "/api/v2/no-such-thing")).await;
    assert_eq!(code, 404);
    assert_eq!(body["error_code"], "not_found_error");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("/api/v2/no-such-thing")
    );
    assert!(body["server_traceback"].is_string());

    let resp = reqwest::Client::new()
        .delete(cfyd.url("rest", "/api/v2/version"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error_code"], "method_not_allowed_error");
}

#[test]
fn logstash_liveness_accepts_and_closes() {
    let cfyd = Cfyd::start();
    let mut conn = TcpStream::connect(("127.0.0.1", cfyd.port("logstash"))).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 16];
    // The server closes at once: the read sees end of stream, not a timeout.
    assert_eq!(conn.read(&mut buf).unwrap(), 0);
}

#[test]
fn sigterm_stops_cleanly_and_removes_ports_json() {
    let mut cfyd = Cfyd::start();
    let ports = cfyd.data_dir().join("ports.json");
    assert!(ports.exists());
    let status = cfyd.terminate();
    assert!(status.success(), "{status}");
    assert!(!ports.exists());
    // The lock is released: the same directory can be used again.
    cfyd.restart();
    assert!(cfyd.terminate().success());
}

#[test]
fn a_second_instance_on_the_same_data_dir_is_refused() {
    let cfyd = Cfyd::start();
    let dir = cfyd.data_dir();
    let (status, _, stderr) = run(&[
        "serve",
        "--ephemeral-ports",
        "--data-dir",
        dir.to_str().unwrap(),
    ]);
    assert!(!status.success());
    assert!(stderr.contains("in use by another cfyd"), "{stderr}");
    assert!(stderr.contains(&cfyd.pid().to_string()), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn a_port_in_use_is_named() {
    let cfyd = Cfyd::start();
    let taken = cfyd.port("rest").to_string();
    let dir = tempfile::tempdir().unwrap();
    let (status, _, stderr) = run(&[
        "serve",
        "--ephemeral-ports",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--set",
        &format!("ports.rest={taken}"),
    ]);
    assert!(!status.success());
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{taken} for rest")),
        "{stderr}"
    );
}

#[test]
fn bad_invocations_fail_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let bad_toml = dir.path().join("bad.toml");
    std::fs::write(&bad_toml, "[ports]\nrestt = 1\n").unwrap();
    let under_file = file.join("data");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["serve", "--no-such-flag"], "--no-such-flag"),
        (
            vec!["serve", "--config", bad_toml.to_str().unwrap()],
            "unknown config key `ports.restt`",
        ),
        (vec!["serve", "--set", "ports.amqp=huge"], "ports.amqp"),
        (
            vec!["serve", "--config", "/no/such/file.toml"],
            "cannot read config file",
        ),
        (
            vec![
                "serve",
                "--ephemeral-ports",
                "--data-dir",
                under_file.to_str().unwrap(),
            ],
            "cannot create data directory",
        ),
        (
            vec!["serve", "--log-filter", "cfyd=notalevel"],
            "log.filter",
        ),
    ];
    for (args, expected) in cases {
        let (status, _, stderr) = run(&args);
        assert!(!status.success(), "{args:?}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn config_show_prints_the_effective_layers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cfyd.toml"),
        "[ports]\namqp = 5673\nmqtt = 1884\n",
    )
    .unwrap();
    let out = std::process::Command::new(common::binary())
        .args([
            "config",
            "show",
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--unprivileged",
        ])
        .env("CFYD_PORTS_MQTT", "1885")
        .output()
        .unwrap();
    assert!(out.status.success());
    let shown: toml::Table = String::from_utf8(out.stdout).unwrap().parse().unwrap();
    let ports = shown["ports"].as_table().unwrap();
    assert_eq!(ports["amqp"].as_integer(), Some(5673));
    assert_eq!(ports["mqtt"].as_integer(), Some(1885));
    assert_eq!(ports["low_port_offset"].as_integer(), Some(8000));

    let out = std::process::Command::new(common::binary())
        .args(["config", "show"])
        .env("CFYD_NO_SUCH_KEY", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CFYD_NO_SUCH_KEY"));
}

#[test]
fn json_logs_are_one_object_per_line() {
    let cfyd = Cfyd::start_with(&["--log-format", "json"]);
    let log = cfyd.log();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let listening: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "listening")
        .collect();
    assert_eq!(listening.len(), cfyd.ports().len(), "{log}");
    assert!(lines.iter().any(|l| l["message"] == "cfyd ready"));
}

#[test]
fn version_subcommand_prints_the_version() {
    let (status, stdout, _) = run(&["version"]);
    assert!(status.success());
    assert!(stdout.starts_with("cfyd "), "{stdout}");
    assert!(stdout.contains("3.3.1"));
}
