//! The workflow engine over the REST API: the deployment environment
//! executions run through their lifecycle with Cloudify's events, and a
//! restart fails what was left running.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::Cfyd;
use reqwest::Method;
use serde_json::{Value, json};

fn blueprint_archive() -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/blueprints/runnable/hello-web");
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    b.append_dir_all("hello-web", &dir).unwrap();
    b.into_inner().unwrap().finish().unwrap()
}

async fn call(cfyd: &Cfyd, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
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

async fn event_types(cfyd: &Cfyd, execution: &str, want: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let (_, v) = call(
            cfyd,
            Method::GET,
            &format!("/events?execution_id={execution}&_sort=@timestamp"),
            None,
        )
        .await;
        let types: Vec<String> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_type"].as_str().unwrap().to_owned())
            .collect();
        if types.len() >= want || start.elapsed() > Duration::from_secs(10) {
            return types;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn deployment_environment_executions_run_with_events_and_restart_fails_leftovers() {
    let mut cfyd = Cfyd::start();
    let resp = reqwest::Client::new()
        .put(cfyd.url(
            "rest",
            "/api/v2/blueprints/hw?application_file_name=blueprint.yaml",
        ))
        .body(blueprint_archive())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let (code, _) = call(
        &cfyd,
        Method::PUT,
        "/deployments/d1",
        Some(json!({"blueprint_id": "hw"})),
    )
    .await;
    assert_eq!(code, 201);
    let (_, execs) = call(&cfyd, Method::GET, "/executions?deployment_id=d1", None).await;
    let env = &execs["items"][0];
    assert_eq!(
        (env["workflow_id"].as_str(), env["status"].as_str()),
        (Some("create_deployment_environment"), Some("terminated"))
    );
    let id = env["id"].as_str().unwrap().to_owned();
    let types = event_types(&cfyd, &id, 3).await;
    assert_eq!(
        types,
        vec!["workflow_started", "workflow_stage", "workflow_succeeded"]
    );
    let (_, v) = call(
        &cfyd,
        Method::GET,
        &format!("/events?execution_id={id}&event_type=workflow_started"),
        None,
    )
    .await;
    let started = &v["items"][0];
    assert_eq!(
        started["message"]["text"],
        "Starting 'create_deployment_environment' workflow execution"
    );
    assert_eq!(started["context"]["deployment_id"], "d1");
    assert_eq!(started["context"]["blueprint_id"], "hw");

    // An execution a worker reported as started when cfyd stops is failed
    // on the next start, with a message saying why.
    let (code, _) = call(
        &cfyd,
        Method::PATCH,
        &format!("/executions/{id}"),
        Some(json!({"status": "started"})),
    )
    .await;
    assert_eq!(code, 200);
    cfyd.terminate();
    cfyd.restart();
    let (_, e) = call(&cfyd, Method::GET, &format!("/executions/{id}"), None).await;
    assert_eq!(e["status"], "failed", "{e}");
    assert!(
        e["error"]
            .as_str()
            .is_some_and(|t| t.contains("not resumed")),
        "{e}"
    );

    let (code, _) = call(&cfyd, Method::DELETE, "/deployments/d1", None).await;
    assert_eq!(code, 200);
    let (_, execs) = call(
        &cfyd,
        Method::GET,
        "/executions?_include_system_workflows=true",
        None,
    )
    .await;
    let delete_env = execs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["workflow_id"] == "delete_deployment_environment" && e["deployment_id"] == "d1")
        .unwrap_or_else(|| panic!("no delete_deployment_environment execution: {execs}"));
    assert_eq!(delete_env["status"], "terminated");
    let id = delete_env["id"].as_str().unwrap();
    assert_eq!(
        event_types(&cfyd, id, 3).await,
        vec!["workflow_started", "workflow_stage", "workflow_succeeded"]
    );
}
