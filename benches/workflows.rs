//! Install throughput of the workflow engine: time from `POST /executions`
//! (install) to `terminated` for one deployment of many node instances,
//! and the manager's resident memory after it.
//!
//! Run: `cargo bench --bench workflows`. Two runs, each on a fresh release
//! `cfyd serve`: `WORKFLOWS_BENCH_SCRIPTED` instances (default 1,000) whose
//! create, configure and start are empty scripts (3 script runs each), the
//! same with only create a script, and `WORKFLOWS_BENCH_NOP` instances
//! (default 10,000) whose operations have no implementation. Prints one
//! JSON line per run.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A node of `n` instances; `scripts` of create/configure/start are
/// empty scripts, the rest have no implementation.
fn blueprint(n: usize, scripts: usize) -> String {
    let mut ops = String::new();
    if scripts > 0 {
        ops.push_str("    interfaces:\n      cloudify.interfaces.lifecycle:\n");
        for op in ["create", "configure", "start"].iter().take(scripts) {
            ops.push_str(&format!(
                "        {op}: {{implementation: empty.sh, executor: central_deployment_agent}}\n"
            ));
        }
    }
    format!(
        "tosca_definitions_version: cloudify_dsl_1_2\nimports: [http://www.getcloudify.org/spec/cloudify/3.3/types.yaml]\nnode_templates:\n  n:\n    type: cloudify.nodes.Root\n    instances: {{deploy: {n}}}\n{ops}"
    )
}

fn archive(text: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("bp");
    std::fs::create_dir_all(&root).expect("dir");
    std::fs::write(root.join("blueprint.yaml"), text).expect("write");
    std::fs::write(root.join("empty.sh"), "#!/bin/sh\n").expect("write");
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    b.append_dir_all("bp", &root).expect("tar");
    b.into_inner().expect("tar").finish().expect("gzip")
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn run(label: &str, n: usize, scripts: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let ports_file = dir.path().join("ports.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cfyd"))
        .args([
            "serve",
            "--ephemeral-ports",
            "--log-filter",
            "warn",
            "--data-dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn cfyd");
    let started = Instant::now();
    while !ports_file.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "cfyd did not start"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ports: Value =
        serde_json::from_str(&std::fs::read_to_string(&ports_file).expect("ports")).expect("json");
    let base = format!("http://127.0.0.1:{}/api/v2", ports["rest"]);
    let http = reqwest::Client::new();
    let resp = http
        .put(format!(
            "{base}/blueprints/bench?application_file_name=blueprint.yaml"
        ))
        .body(archive(&blueprint(n, scripts)))
        .send()
        .await
        .expect("upload");
    assert_eq!(
        resp.status().as_u16(),
        201,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    let t = Instant::now();
    let resp = http
        .put(format!("{base}/deployments/bench"))
        .json(&json!({"blueprint_id": "bench"}))
        .send()
        .await
        .expect("deploy");
    assert_eq!(resp.status().as_u16(), 201);
    let deploy_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let exec: Value = http
        .post(format!("{base}/executions"))
        .json(&json!({"deployment_id": "bench", "workflow_id": "install"}))
        .send()
        .await
        .expect("start")
        .json()
        .await
        .expect("json");
    let id = exec["id"].as_str().expect("execution id").to_owned();
    let status = loop {
        let e: Value = http
            .get(format!("{base}/executions/{id}"))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        let s = e["status"].as_str().unwrap_or_default().to_owned();
        if matches!(s.as_str(), "terminated" | "failed" | "cancelled") {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let install_ms = t.elapsed().as_secs_f64() * 1000.0;
    let rss = rss_kib(child.id());
    assert_eq!(status, "terminated", "install ended {status}");
    println!(
        "{{\"bench\":\"workflows\",\"run\":\"{label}\",\"instances\":{n},\"script_runs\":{},\"deployment_create_ms\":{deploy_ms:.0},\"install_ms\":{install_ms:.0},\"rss_kib_after\":{rss}}}",
        scripts * n
    );
    let _ = child.kill();
    let _ = child.wait();
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let scripted = count("WORKFLOWS_BENCH_SCRIPTED", 1_000);
        run("empty_scripts_x3", scripted, 3).await;
        run("empty_scripts_x1", scripted, 1).await;
        run("nop", count("WORKFLOWS_BENCH_NOP", 10_000), 0).await;
    });
}
