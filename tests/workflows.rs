//! The workflow engine over the REST API: the deployment environment
//! executions run through their lifecycle with Cloudify's events, and a
//! restart fails what was left running.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::Cfyd;
use common::api::{archive_of, call, instances, run_to_end, start, wait_end};
use reqwest::Method;
use serde_json::json;

/// A tar.gz of one of `../shared/blueprints/runnable/`.
fn runnable_archive(name: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/blueprints/runnable")
        .join(name);
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    b.append_dir_all(name, &dir).unwrap();
    b.into_inner().unwrap().finish().unwrap()
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
            .filter_map(|e| e["event_type"].as_str().map(str::to_owned))
            .collect();
        let ended = types.iter().any(|t| {
            matches!(
                t.as_str(),
                "workflow_succeeded" | "workflow_failed" | "workflow_cancelled"
            )
        });
        if (types.len() >= want && ended) || start.elapsed() > Duration::from_secs(10) {
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
        .body(runnable_archive("hello-web"))
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

const NOOP_BLUEPRINT: &str = r#"
tosca_definitions_version: cloudify_dsl_1_2
imports: [http://www.getcloudify.org/spec/cloudify/3.3/types.yaml]
node_types:
  Greeter:
    derived_from: cloudify.nodes.Root
    properties: {greeting: {default: hi}}
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
    type: Greeter
    properties: {greeting: hello}
    relationships: [{type: cloudify.relationships.contained_in, target: vm}]
    interfaces:
      cloudify.interfaces.lifecycle:
        create: create.sh
        configure:
          implementation: flaky.sh
          inputs: {FAIL_TIMES: 1}
          max_retries: 2
          retry_interval: 0
        start:
          implementation: fail.sh
          max_retries: 1
          retry_interval: 0
workflows:
  my_install: default_workflows.cloudify.plugins.workflows.install
  custom: mine.wf.run
plugins:
  mine: {executor: central_deployment_agent, source: mine}
"#;

/// Reads a node property, sets runtime properties (nested, JSON), logs.
const CREATE: &str = r#"#!/bin/bash
set -e
greeting=$(ctx node properties greeting)
ctx instance runtime-properties greeting "${greeting} from $(ctx instance id)"
ctx instance runtime-properties nested.list @[1,2]
ctx logger info "created with ${greeting}"
"#;

/// Fails FAIL_TIMES times (a counter in the instance's runtime
/// properties would be lost: 3.3 saves none on failure), then succeeds.
const FLAKY: &str = r#"#!/bin/bash
counter="${TMPDIR:-/tmp}/cfyd-flaky-$(ctx deployment id)-$(ctx instance id)"
n=$(( $(cat "$counter" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$counter"
if [ "$n" -le "$FAIL_TIMES" ]; then echo "attempt $n fails" >&2; exit 1; fi
ctx instance runtime-properties attempts "$n"
rm -f "$counter"
"#;

#[tokio::test]
async fn install_and_uninstall_follow_relationships_and_refuse_what_cannot_run() {
    let cfyd = Cfyd::start();
    let cut = NOOP_BLUEPRINT.find("  scripted:").unwrap();
    let noop = format!(
        "{}{}",
        &NOOP_BLUEPRINT[..cut],
        &NOOP_BLUEPRINT[NOOP_BLUEPRINT.find("workflows:").unwrap()..]
    );
    for (bp, text) in [("noop", noop.as_str()), ("scripted", NOOP_BLUEPRINT)] {
        let resp = reqwest::Client::new()
            .put(cfyd.url(
                "rest",
                &format!("/api/v2/blueprints/{bp}?application_file_name=blueprint.yaml"),
            ))
            .body(archive_of(&[
                ("blueprint.yaml", text),
                ("create.sh", CREATE),
                ("flaky.sh", FLAKY),
                (
                    "fail.sh",
                    "#!/bin/bash\necho broken on purpose >&2\nexit 3\n",
                ),
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
    // A workflow mapped to a Python module is refused at start.
    let (code, unsupported) = start(&cfyd, "noop", "custom").await;
    assert_eq!(
        (code, unsupported["error_code"].as_str()),
        (501, Some("not_implemented_error")),
        "{unsupported}"
    );
    assert!(
        unsupported["message"]
            .as_str()
            .unwrap()
            .contains("mine.wf.run"),
        "{unsupported}"
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

    // Scripts run with ctx; configure fails once then succeeds on retry;
    // start always fails: after its one retry the execution fails.
    let exec = run_to_end(&cfyd, "scripted", "install").await;
    assert_eq!(exec["status"], "failed", "{exec}");
    assert!(
        exec["error"]
            .as_str()
            .unwrap()
            .contains("fail.sh exited with code 3"),
        "{exec}"
    );
    let (_, inst) = call(
        &cfyd,
        Method::GET,
        "/node-instances?deployment_id=scripted&node_id=scripted",
        None,
    )
    .await;
    let inst = &inst["items"][0];
    assert_eq!(inst["state"], "starting");
    let rp = &inst["runtime_properties"];
    assert_eq!(
        rp["greeting"],
        format!("hello from {}", inst["id"].as_str().unwrap())
    );
    assert_eq!(rp["nested"]["list"], json!([1, 2]));
    assert_eq!(rp["attempts"], "2");
    let id = exec["id"].as_str().unwrap();
    let types = event_types(&cfyd, id, 20).await;
    let count = |t: &str| types.iter().filter(|x| *x == t).count();
    assert_eq!(
        count("task_failed"),
        3,
        "configure once, start twice: {types:?}"
    );
    assert_eq!(types.last().map(String::as_str), Some("workflow_failed"));
    let (_, logs) = call(
        &cfyd,
        Method::GET,
        &format!("/events?execution_id={id}&type=cloudify_log"),
        None,
    )
    .await;
    assert_eq!(
        logs["items"][0]["message"]["text"], "created with hello",
        "{logs}"
    );
}

#[tokio::test]
async fn runnable_retry_then_succeed_installs_on_the_third_attempt() {
    let cfyd = Cfyd::start();
    let state = tempfile::tempdir().unwrap();
    let archive = runnable_archive("retry-then-succeed");
    let resp = reqwest::Client::new()
        .put(cfyd.url(
            "rest",
            "/api/v2/blueprints/rts?application_file_name=blueprint.yaml",
        ))
        .body(archive)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    // 3.3's defaults (retry forever) with a short interval.
    let (code, _) = call(
        &cfyd,
        Method::POST,
        "/provider/context",
        Some(json!({"name": "lab",
        "context": {"cloudify": {"workflows": {"task_retries": -1, "task_retry_interval": 0}}}})),
    )
    .await;
    assert_eq!(code, 201);
    let dep = format!(
        "rts-{}",
        state
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_lowercase()
            .replace('.', "")
    );
    let (code, d) = call(
        &cfyd,
        Method::PUT,
        &format!("/deployments/{dep}"),
        Some(json!({"blueprint_id": "rts"})),
    )
    .await;
    assert_eq!(code, 201, "{d}");
    let exec = run_to_end(&cfyd, &dep, "install").await;
    assert_eq!(exec["status"], "terminated", "{exec}");
    let inst = instances(&cfyd, &dep, None).await;
    assert!(inst.iter().all(|i| i["state"] == "started"), "{inst:?}");
    let (_, out) = call(
        &cfyd,
        Method::GET,
        &format!("/deployments/{dep}/outputs"),
        None,
    )
    .await;
    assert_eq!(out["outputs"]["configure_attempts"], "3", "{out}");
    let types = event_types(&cfyd, exec["id"].as_str().unwrap(), 1).await;
    assert_eq!(
        types.iter().filter(|t| *t == "task_failed").count(),
        2,
        "{types:?}"
    );
    let exec = run_to_end(&cfyd, &dep, "uninstall").await;
    assert_eq!(exec["status"], "terminated", "{exec}");
}

/// A free TCP port on 127.0.0.1 for a blueprint's server input.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn runnable_blueprints_install_and_uninstall() {
    let cfyd = Cfyd::start();
    let run = tempfile::tempdir().unwrap();
    let suffix: String = run
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    // A failing script fails the test at once instead of retrying forever.
    let (code, _) = call(
        &cfyd,
        Method::POST,
        "/provider/context",
        Some(json!({"name": "lab",
        "context": {"cloudify": {"workflows": {"task_retries": 1, "task_retry_interval": 0}}}})),
    )
    .await;
    assert_eq!(code, 201);
    let cases = [
        ("hello-web", json!({"webserver_port": free_port()})),
        ("two-tier", json!({"db_port": free_port()})),
        ("multi-instance", json!({})),
        ("ops-and-inputs", json!({})),
    ];
    for (name, inputs) in cases {
        let resp = reqwest::Client::new()
            .put(cfyd.url(
                "rest",
                &format!("/api/v2/blueprints/{name}?application_file_name=blueprint.yaml"),
            ))
            .body(runnable_archive(name))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 201, "{name}");
        let dep = format!("{name}-{suffix}");
        let (code, d) = call(
            &cfyd,
            Method::PUT,
            &format!("/deployments/{dep}"),
            Some(json!({"blueprint_id": name, "inputs": inputs})),
        )
        .await;
        assert_eq!(code, 201, "{d}");
        let exec = run_to_end(&cfyd, &dep, "install").await;
        assert_eq!(exec["status"], "terminated", "{name}: {exec}");
        let (_, out) = call(
            &cfyd,
            Method::GET,
            &format!("/deployments/{dep}/outputs"),
            None,
        )
        .await;
        let outputs = &out["outputs"];
        match name {
            "hello-web" => {
                let url = outputs["http_endpoint"].as_str().unwrap();
                let page = reqwest::get(url).await.unwrap().text().await.unwrap();
                assert!(page.contains(&dep), "the page names the deployment: {page}");
            }
            "two-tier" => {
                assert_eq!(outputs["app_db_endpoint"], outputs["db_endpoint"], "{out}");
                assert_eq!(outputs["app_record_count"], "3", "{out}");
            }
            "multi-instance" => assert_eq!(outputs["worker_count"], "3", "{out}"),
            _ => assert_eq!(outputs["reader_saw"], 3, "{out}"),
        }
        let exec = run_to_end(&cfyd, &dep, "uninstall").await;
        assert_eq!(exec["status"], "terminated", "{name}: {exec}");
        let inst = instances(&cfyd, &dep, None).await;
        assert!(
            inst.iter().all(|i| i["state"] == "deleted"),
            "{name}: {inst:?}"
        );
    }
}

/// Instance ids are `<node>_<5 hex>` and global: two 3,000-instance
/// deployments of one blueprint would almost surely meet (≈ 9 expected
/// shared ids); creation picks ids no other deployment holds.
#[tokio::test]
async fn large_deployments_never_share_instance_ids() {
    let cfyd = Cfyd::start();
    let text = "tosca_definitions_version: cloudify_dsl_1_2\nimports: [http://www.getcloudify.org/spec/cloudify/3.3/types.yaml]\nnode_templates:\n  app:\n    type: cloudify.nodes.Root\n    instances: {deploy: 3000}\n";
    let resp = reqwest::Client::new()
        .put(cfyd.url(
            "rest",
            "/api/v2/blueprints/many?application_file_name=blueprint.yaml",
        ))
        .body(archive_of(&[("blueprint.yaml", text)]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    for dep in ["many1", "many2"] {
        let (code, d) = call(
            &cfyd,
            Method::PUT,
            &format!("/deployments/{dep}"),
            Some(json!({"blueprint_id": "many"})),
        )
        .await;
        assert_eq!(code, 201, "{d}");
    }
    let (_, all) = call(
        &cfyd,
        Method::GET,
        "/node-instances?_size=10000&_include=id",
        None,
    )
    .await;
    let ids: std::collections::HashSet<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 6000);
}
