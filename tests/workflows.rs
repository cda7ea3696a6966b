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

fn archive_of(files: &[(&str, &str)]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("bp");
    std::fs::create_dir_all(&root).unwrap();
    for (name, text) in files {
        std::fs::write(root.join(name), text).unwrap();
    }
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    b.append_dir_all("bp", &root).unwrap();
    b.into_inner().unwrap().finish().unwrap()
}

const NOOP_BLUEPRINT: &str = r#"
tosca_definitions_version: cloudify_dsl_1_2
imports: [http://www.getcloudify.org/spec/cloudify/3.3/types.yaml]
node_templates:
  vm:
    type: cloudify.nodes.Compute
    properties: {agent_config: {install_method: none}}
  db:
    type: cloudify.nodes.Root
    relationships: [{type: cloudify.relationships.contained_in, target: vm}]
  app:
    type: cloudify.nodes.Root
    instances: {deploy: 2}
    relationships:
      - {type: cloudify.relationships.contained_in, target: vm}
      - {type: cloudify.relationships.connected_to, target: db}
  scripted:
    type: cloudify.nodes.Root
    relationships: [{type: cloudify.relationships.contained_in, target: vm}]
    interfaces:
      cloudify.interfaces.lifecycle:
        create: create.sh
workflows:
  my_install: default_workflows.cloudify.plugins.workflows.install
"#;

async fn wait_end(cfyd: &Cfyd, id: &str) -> Value {
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

async fn start(cfyd: &Cfyd, dep: &str, wf: &str) -> (u16, Value) {
    call(
        cfyd,
        Method::POST,
        "/executions",
        Some(json!({"deployment_id": dep, "workflow_id": wf})),
    )
    .await
}

#[tokio::test]
async fn install_and_uninstall_follow_relationships_and_refuse_what_cannot_run() {
    let cfyd = Cfyd::start();
    let noop = NOOP_BLUEPRINT.replace("  scripted:\n    type: cloudify.nodes.Root\n    relationships: [{type: cloudify.relationships.contained_in, target: vm}]\n    interfaces:\n      cloudify.interfaces.lifecycle:\n        create: create.sh\n", "");
    for (bp, text) in [("noop", noop.as_str()), ("scripted", NOOP_BLUEPRINT)] {
        let resp = reqwest::Client::new()
            .put(cfyd.url(
                "rest",
                &format!("/api/v2/blueprints/{bp}?application_file_name=blueprint.yaml"),
            ))
            .body(archive_of(&[
                ("blueprint.yaml", text),
                ("create.sh", "#!/bin/sh\n"),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status().as_u16(),
            201,
            "{}",
            resp.text().await.unwrap()
        );
        let (code, d) = call(
            &cfyd,
            Method::PUT,
            &format!("/deployments/{bp}"),
            Some(json!({"blueprint_id": bp})),
        )
        .await;
        assert_eq!(code, 201, "{d}");
    }

    // A blueprint-mapped name runs the built-in install.
    let (code, exec) = start(&cfyd, "noop", "my_install").await;
    assert_eq!(code, 201, "{exec}");
    let exec = wait_end(&cfyd, exec["id"].as_str().unwrap()).await;
    assert_eq!(exec["status"], "terminated", "{exec}");
    let (_, instances) = call(
        &cfyd,
        Method::GET,
        "/node-instances?deployment_id=noop",
        None,
    )
    .await;
    let items = instances["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert!(items.iter().all(|i| i["state"] == "started"), "{instances}");
    // Node events in relationship order: the host first, the app last.
    let id = exec["id"].as_str().unwrap();
    let polled = Instant::now();
    let creating: Vec<String> = loop {
        let (_, v) = call(&cfyd, Method::GET, &format!("/events?execution_id={id}&event_type=workflow_node_event&_sort=@timestamp&_size=100"), None).await;
        let names: Vec<String> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["message"]["text"] == "Creating node")
            .map(|e| e["context"]["node_name"].as_str().unwrap().to_owned())
            .collect();
        if names.len() >= 4 || polled.elapsed() > Duration::from_secs(10) {
            break names;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(creating.len(), 4, "{creating:?}");
    assert_eq!(
        (
            creating[0].as_str(),
            creating[1].as_str(),
            creating[3].as_str()
        ),
        ("vm", "db", "app")
    );

    let (code, again) = start(&cfyd, "noop", "nonexistent").await;
    assert_eq!(
        (code, again["error_code"].as_str()),
        (400, Some("nonexistent_workflow_error"))
    );
    let (code, unsupported) = start(&cfyd, "noop", "heal").await;
    assert_eq!(code, 400, "heal needs its parameter: {unsupported}");
    let (code, unsupported) = call(&cfyd, Method::POST, "/executions", Some(json!({"deployment_id": "noop", "workflow_id": "execute_operation", "parameters": {"operation": "x"}}))).await;
    assert_eq!(
        (code, unsupported["error_code"].as_str()),
        (501, Some("not_implemented_error"))
    );

    let (code, exec) = start(&cfyd, "noop", "uninstall").await;
    assert_eq!(code, 201);
    let exec = wait_end(&cfyd, exec["id"].as_str().unwrap()).await;
    assert_eq!(exec["status"], "terminated");
    let (_, instances) = call(
        &cfyd,
        Method::GET,
        "/node-instances?deployment_id=noop",
        None,
    )
    .await;
    assert!(
        instances["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["state"] == "deleted")
    );

    // An implemented operation cannot run yet: task_failed, execution failed.
    let (_, exec) = start(&cfyd, "scripted", "install").await;
    let exec = wait_end(&cfyd, exec["id"].as_str().unwrap()).await;
    assert_eq!(exec["status"], "failed");
    assert!(
        exec["error"]
            .as_str()
            .unwrap()
            .contains("not supported yet"),
        "{exec}"
    );
    let id = exec["id"].as_str().unwrap();
    let types = event_types(&cfyd, id, 1).await;
    assert!(
        types.contains(&"task_failed".to_owned())
            && types.last().map(String::as_str) == Some("workflow_failed"),
        "{types:?}"
    );
}
