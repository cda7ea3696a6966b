//! The workflows beyond install/uninstall, through the REST API:
//! execute_operation on a subset, scale out and in through deployment
//! modifications, heal of one host's subgraph, and cancel / force-cancel
//! of a running execution.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::Cfyd;
use common::api::{call, deploy, events_until, instances, run_to_end, run_with, start, wait_end};
use reqwest::Method;
use serde_json::{Value, json};

const BLUEPRINT: &str = r#"
tosca_definitions_version: cloudify_dsl_1_2
imports: [http://www.getcloudify.org/spec/cloudify/3.3/types.yaml]
node_templates:
  vm:
    type: cloudify.nodes.Compute
    properties: {agent_config: {install_method: none}}
  app:
    type: cloudify.nodes.Root
    relationships: [{type: cloudify.relationships.contained_in, target: vm}]
    interfaces:
      cloudify.interfaces.lifecycle:
        create: mark.sh
      maint:
        touch: {implementation: touch.sh, inputs: {WHO: nobody}}
  db:
    type: cloudify.nodes.Root
    instances: {deploy: 2}
    interfaces:
      maint:
        touch: {implementation: touch.sh, executor: central_deployment_agent}
  web:
    type: cloudify.nodes.Root
    relationships:
      - type: cloudify.relationships.connected_to
        target: app
        source_interfaces:
          cloudify.interfaces.relationship_lifecycle:
            establish: {implementation: link.sh, executor: central_deployment_agent}
"#;

/// Marks each create with a fresh stamp.
const MARK: &str = "#!/bin/bash\nctx instance runtime-properties stamp \"$(date +%s%N)\"\n";
const TOUCH: &str = "#!/bin/bash\nctx instance runtime-properties touched_by \"${WHO:-default}\"\n";
/// Counts the source side's establishes (runtime properties of the source).
const LINK: &str = r#"#!/bin/bash
n=$(ctx source instance runtime-properties links)
[ "$n" = "" ] || [ "$n" = "null" ] && n=0
ctx source instance runtime-properties links $((n + 1))
"#;

fn files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("blueprint.yaml", BLUEPRINT),
        ("mark.sh", MARK),
        ("touch.sh", TOUCH),
        ("link.sh", LINK),
    ]
}

fn by_id<'a>(items: &'a [Value], id: &str) -> &'a Value {
    items.iter().find(|i| i["id"] == id).unwrap()
}

#[tokio::test]
async fn execute_operation_scale_and_heal() {
    let cfyd = Cfyd::start();
    deploy(&cfyd, "ops", &files()).await;
    assert_eq!(
        run_to_end(&cfyd, "ops", "install").await["status"],
        "terminated"
    );

    // execute_operation: a duplicate input without override fails; with
    // it the kwargs win, on the selected node only.
    let dup = run_with(
        &cfyd,
        "ops",
        "execute_operation",
        json!({"operation": "maint.touch", "node_ids": ["app"], "operation_kwargs": {"WHO": "alice"}}),
    )
    .await;
    assert_eq!(dup["status"], "failed", "{dup}");
    assert!(
        dup["error"]
            .as_str()
            .unwrap()
            .contains("Duplicate definition of WHO"),
        "{dup}"
    );
    let ok = run_with(
        &cfyd,
        "ops",
        "execute_operation",
        json!({"operation": "maint.touch", "node_ids": ["app"], "operation_kwargs": {"WHO": "alice"}, "allow_kwargs_override": true}),
    )
    .await;
    assert_eq!(ok["status"], "terminated", "{ok}");
    assert_eq!(
        instances(&cfyd, "ops", Some("app")).await[0]["runtime_properties"]["touched_by"],
        "alice"
    );
    let dbs = instances(&cfyd, "ops", Some("db")).await;
    assert!(
        dbs.iter()
            .all(|d| d["runtime_properties"]["touched_by"].is_null())
    );
    let one = dbs[0]["id"].as_str().unwrap();
    let ok = run_with(
        &cfyd,
        "ops",
        "execute_operation",
        json!({"operation": "maint.touch", "node_instance_ids": [one], "type_names": ["cloudify.nodes.Root"], "run_by_dependency_order": true}),
    )
    .await;
    assert_eq!(ok["status"], "terminated", "{ok}");
    let dbs = instances(&cfyd, "ops", Some("db")).await;
    assert_eq!(
        by_id(&dbs, one)["runtime_properties"]["touched_by"],
        "default"
    );
    assert_eq!(
        dbs.iter()
            .filter(|d| d["runtime_properties"]["touched_by"].is_null())
            .count(),
        1
    );
    let finished = |items: &[Value]| {
        items
            .iter()
            .any(|e| e["message"]["text"] == "Finished operation maint.touch")
    };
    let events = events_until(
        &cfyd,
        &format!(
            "execution_id={}&event_type=workflow_node_event",
            ok["id"].as_str().unwrap()
        ),
        finished,
    )
    .await;
    assert!(finished(&events), "{events:?}");

    // scale +2 on app scales its Compute host: 3 vms each with an app.
    let out = run_with(&cfyd, "ops", "scale", json!({"node_id": "app", "delta": 2})).await;
    assert_eq!(out["status"], "terminated", "{out}");
    let vms = instances(&cfyd, "ops", Some("vm")).await;
    let apps = instances(&cfyd, "ops", Some("app")).await;
    assert_eq!((vms.len(), apps.len()), (3, 3));
    assert!(
        vms.iter().chain(&apps).all(|i| i["state"] == "started"),
        "{apps:?}"
    );
    // web (intact) established its relationships to the new apps.
    let web = &instances(&cfyd, "ops", Some("web")).await[0];
    assert_eq!(web["relationships"].as_array().unwrap().len(), 3);
    assert_eq!(web["runtime_properties"]["links"], "3", "{web}");
    let (_, mods) = call(
        &cfyd,
        Method::GET,
        "/deployment-modifications?deployment_id=ops",
        None,
    )
    .await;
    assert_eq!(mods["items"][0]["status"], "finished", "{mods}");

    // scale -1 without scale_compute on a Compute: 2 left, apps follow.
    let out = run_with(
        &cfyd,
        "ops",
        "scale",
        json!({"node_id": "vm", "delta": -1, "scale_compute": false}),
    )
    .await;
    assert_eq!(out["status"], "terminated", "{out}");
    let vms = instances(&cfyd, "ops", Some("vm")).await;
    let apps = instances(&cfyd, "ops", Some("app")).await;
    assert_eq!((vms.len(), apps.len()), (2, 2));
    let web = &instances(&cfyd, "ops", Some("web")).await[0];
    assert_eq!(web["relationships"].as_array().unwrap().len(), 2, "{web}");
    // An impossible scale fails and leaves nothing started.
    let bad = run_with(&cfyd, "ops", "scale", json!({"node_id": "db", "delta": -5})).await;
    assert_eq!(bad["status"], "failed", "{bad}");
    assert_eq!(instances(&cfyd, "ops", Some("db")).await.len(), 2);

    // heal one app: its vm and app are reinstalled, the other pair not.
    let apps = instances(&cfyd, "ops", Some("app")).await;
    let (sick, well) = (&apps[0], &apps[1]);
    let healed = run_with(
        &cfyd,
        "ops",
        "heal",
        json!({"node_instance_id": sick["id"], "diagnose_value": "test"}),
    )
    .await;
    assert_eq!(healed["status"], "terminated", "{healed}");
    let after = instances(&cfyd, "ops", Some("app")).await;
    let sick_id = sick["id"].as_str().unwrap();
    let well_id = well["id"].as_str().unwrap();
    assert_ne!(
        by_id(&after, sick_id)["runtime_properties"]["stamp"],
        sick["runtime_properties"]["stamp"]
    );
    assert_eq!(
        by_id(&after, well_id)["runtime_properties"]["stamp"],
        well["runtime_properties"]["stamp"]
    );
    assert!(after.iter().all(|i| i["state"] == "started"));
    let said = format!("Starting 'heal' workflow on {sick_id}, Diagnosis: test");
    let logs = events_until(
        &cfyd,
        &format!(
            "execution_id={}&type=cloudify_log",
            healed["id"].as_str().unwrap()
        ),
        |items| items.iter().any(|e| e["message"]["text"] == said.as_str()),
    )
    .await;
    assert!(
        logs.iter().any(|e| e["message"]["text"] == said.as_str()),
        "{logs:?}"
    );
}

const SLOW: &str = r#"
tosca_definitions_version: cloudify_dsl_1_2
imports: [http://www.getcloudify.org/spec/cloudify/3.3/types.yaml]
inputs:
  seconds: {default: 2}
node_templates:
  slow:
    type: cloudify.nodes.Root
    interfaces:
      cloudify.interfaces.lifecycle:
        create:
          implementation: sleep.sh
          executor: central_deployment_agent
          inputs: {SECONDS_TO_SLEEP: {get_input: seconds}}
  after:
    type: cloudify.nodes.Root
    relationships: [{type: cloudify.relationships.depends_on, target: slow}]
"#;

async fn cancel(cfyd: &Cfyd, id: &str, action: &str) {
    let (code, v) = call(
        cfyd,
        Method::POST,
        &format!("/executions/{id}"),
        Some(json!({"action": action})),
    )
    .await;
    assert_eq!(code, 200, "{v}");
}

/// Waits until the slow node's create is running.
async fn wait_creating(cfyd: &Cfyd, dep: &str) {
    let t = Instant::now();
    while instances(cfyd, dep, Some("slow")).await[0]["state"] != "creating" {
        assert!(t.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn cancel_waits_for_the_running_task_and_force_cancel_kills_it() {
    let cfyd = Cfyd::start();
    let sleep = "#!/bin/bash\nsleep \"$SECONDS_TO_SLEEP\"\n";
    deploy(
        &cfyd,
        "slow",
        &[("blueprint.yaml", SLOW), ("sleep.sh", sleep)],
    )
    .await;
    let (_, exec) = start(&cfyd, "slow", "install").await;
    let id = exec["id"].as_str().unwrap();
    wait_creating(&cfyd, "slow").await;
    cancel(&cfyd, id, "cancel").await;
    let end = wait_end(&cfyd, id).await;
    assert_eq!(end["status"], "cancelled", "{end}");
    // The running create finished; the sequence stopped at the next step.
    assert_eq!(
        instances(&cfyd, "slow", Some("slow")).await[0]["state"],
        "creating"
    );
    assert_eq!(
        instances(&cfyd, "slow", Some("after")).await[0]["state"],
        "uninitialized"
    );

    let (code, d) = call(
        &cfyd,
        Method::PUT,
        "/deployments/forever",
        Some(json!({"blueprint_id": "slow", "inputs": {"seconds": 600}})),
    )
    .await;
    assert_eq!(code, 201, "{d}");
    let (_, exec) = start(&cfyd, "forever", "install").await;
    let id = exec["id"].as_str().unwrap();
    wait_creating(&cfyd, "forever").await;
    let asked = Instant::now();
    cancel(&cfyd, id, "force-cancel").await;
    let end = wait_end(&cfyd, id).await;
    assert_eq!(end["status"], "cancelled", "{end}");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "force-cancel took {:?}",
        asked.elapsed()
    );
}
