//! REST helpers the end-to-end tests share: JSON calls, blueprint archives,
//! starting workflows and waiting for their executions to end.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use super::Cfyd;

pub async fn call(cfyd: &Cfyd, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut r = reqwest::Client::new().request(method, cfyd.url("rest", &format!("/api/v2{path}")));
    if let Some(b) = body {
        r = r
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    let resp = r.send().await.unwrap();
    let code = resp.status().as_u16();
    (code, resp.json().await.unwrap_or(Value::Null))
}

/// A tar.gz of `files` under one top directory.
pub fn archive_of(files: &[(&str, &str)]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("bp");
    std::fs::create_dir_all(&root).unwrap();
    for (name, text) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    b.append_dir_all("bp", &root).unwrap();
    b.into_inner().unwrap().finish().unwrap()
}

/// Uploads `files` as blueprint `bp` and creates deployment `bp` from it.
pub async fn deploy(cfyd: &Cfyd, bp: &str, files: &[(&str, &str)]) {
    let resp = reqwest::Client::new()
        .put(cfyd.url(
            "rest",
            &format!("/api/v2/blueprints/{bp}?application_file_name=blueprint.yaml"),
        ))
        .body(archive_of(files))
        .send()
        .await
        .unwrap();
    let code = resp.status().as_u16();
    assert_eq!(code, 201, "{}", resp.text().await.unwrap());
    let (code, d) = call(
        cfyd,
        Method::PUT,
        &format!("/deployments/{bp}"),
        Some(json!({"blueprint_id": bp})),
    )
    .await;
    assert_eq!(code, 201, "{d}");
}

/// Waits for execution `id` to reach an end state.
pub async fn wait_end(cfyd: &Cfyd, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let (_, e) = call(cfyd, Method::GET, &format!("/executions/{id}"), None).await;
        if matches!(
            e["status"].as_str(),
            Some("terminated" | "failed" | "cancelled")
        ) {
            return e;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "execution did not end: {e}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts a workflow and waits for its execution's end state.
pub async fn run_to_end(cfyd: &Cfyd, dep: &str, wf: &str) -> Value {
    let (code, exec) = start(cfyd, dep, wf).await;
    assert_eq!(code, 201, "{exec}");
    wait_end(cfyd, exec["id"].as_str().unwrap()).await
}

/// Starts workflow `wf` on `dep` without parameters.
pub async fn start(cfyd: &Cfyd, dep: &str, wf: &str) -> (u16, Value) {
    call(
        cfyd,
        Method::POST,
        "/executions",
        Some(json!({"deployment_id": dep, "workflow_id": wf})),
    )
    .await
}

/// Starts workflow `wf` on `dep` with `parameters` and waits for its end.
pub async fn run_with(cfyd: &Cfyd, dep: &str, wf: &str, parameters: Value) -> Value {
    let (code, exec) = call(
        cfyd,
        Method::POST,
        "/executions",
        Some(json!({"deployment_id": dep, "workflow_id": wf, "parameters": parameters})),
    )
    .await;
    assert_eq!(code, 201, "{exec}");
    wait_end(cfyd, exec["id"].as_str().unwrap()).await
}

/// The node instances of `dep` (of node `node` when given).
pub async fn instances(cfyd: &Cfyd, dep: &str, node: Option<&str>) -> Vec<Value> {
    let q = node.map_or_else(String::new, |n| format!("&node_id={n}"));
    let (_, v) = call(
        cfyd,
        Method::GET,
        &format!("/node-instances?deployment_id={dep}{q}&_size=10000"),
        None,
    )
    .await;
    v["items"].as_array().cloned().unwrap_or_default()
}

/// The events of `query` (a `/events` query string) once `done` holds for
/// their items, or after 10 s (the event pipeline commits in batches).
pub async fn events_until(cfyd: &Cfyd, query: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let (_, v) = call(
            cfyd,
            Method::GET,
            &format!("/events?{query}&_size=1000"),
            None,
        )
        .await;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        if done(&items) || start.elapsed() > Duration::from_secs(10) {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An InfluxQL query on cfyd's 8086 (`epoch=s`), as JSON.
pub async fn influx_query(cfyd: &Cfyd, db: &str, q: &str) -> Value {
    reqwest::Client::new()
        .post(cfyd.url("influxdb", "/query"))
        .form(&[("q", q), ("db", db), ("epoch", "s")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
