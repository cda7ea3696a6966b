//! `/deployments`: create (inputs, nodes, node instances, the environment
//! execution), list, get, delete, outputs.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Map, Value, json};
use store::WriteOp;

use super::RestState;
use super::error::RestError;
use super::list::{self, ApiVersion};
use crate::dsl;
use crate::model::runtime::StoredRuntime;
use crate::model::{BLUEPRINTS, DEPLOYMENTS, EXECUTIONS, NODE_INSTANCES, NODES, time};

pub const FIELDS: &[&str] = &[
    "id",
    "created_at",
    "updated_at",
    "blueprint_id",
    "workflows",
    "inputs",
    "policy_types",
    "policy_triggers",
    "groups",
    "outputs",
];

/// The stored workflows dict as the list the client expects.
fn shape(mut doc: Value) -> Value {
    if let Some(wf) = doc.get("workflows").and_then(Value::as_object) {
        let list: Vec<Value> = wf
            .iter()
            .map(|(name, w)| json!({"name": name, "created_at": null, "parameters": w["parameters"]}))
            .collect();
        doc["workflows"] = Value::Array(list);
    }
    if let Value::Object(m) = &mut doc {
        m.retain(|k, _| FIELDS.contains(&k.as_str()));
    }
    doc
}

pub async fn list(
    State(s): State<RestState>,
    Extension(v): Extension<ApiVersion>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, RestError> {
    let mut fields = FIELDS.to_vec();
    fields.push("permalink");
    let p = list::parse(&q, &fields, &[])?;
    list::page(&s.model.store, v, &p, DEPLOYMENTS, |d| shape(d.doc))
}

pub async fn get(
    State(s): State<RestState>,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, RestError> {
    list::one(
        &s.model.store,
        DEPLOYMENTS,
        "deployment",
        &id,
        &q,
        FIELDS,
        |d| shape(d.doc),
    )
}

pub async fn create(
    State(s): State<RestState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RestError> {
    super::check_id("deployment", &id)?;
    let req = super::body::json_object(&headers, &body)?;
    let blueprint_id = req
        .get("blueprint_id")
        .and_then(Value::as_str)
        .ok_or_else(|| RestError::bad_parameters("blueprint_id parameter is missing"))?
        .to_owned();
    let inputs = match req.get("inputs") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(RestError::bad_parameters(
                "inputs parameter is expected to be of type dict",
            ));
        }
    };
    let bp = list::existing(&s.model.store, BLUEPRINTS, "blueprint", &blueprint_id)?;
    if s.model.store.get(DEPLOYMENTS, &id)?.is_some() {
        return Err(RestError::conflict(format!(
            "deployment with id '{id}' already exists"
        )));
    }
    let plan = &bp.doc["plan"];
    let expected: Vec<&String> = plan["inputs"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    // Instance ids are random and unique within a deployment; one may meet
    // another deployment's id, so a conflict plans the instances again.
    let mut attempt = 0;
    let (deployment, exec_id) = loop {
        let taken: std::collections::HashSet<String> = s
            .model
            .store
            .list(
                NODE_INSTANCES,
                &store::Query {
                    include: Some(vec!["id".into()]),
                    ..store::Query::default()
                },
            )?
            .items
            .into_iter()
            .map(|i| i.id)
            .collect();
        let prepared =
            dsl::prepare_deployment_avoiding(plan, &inputs, taken).map_err(|e| match e.code {
                dsl::error::code::MISSING_INPUT => RestError::new(
                    StatusCode::BAD_REQUEST,
                    "missing_required_deployment_input_error",
                    format!(
                        "Required inputs were not specified - {} - expected inputs: {expected:?}",
                        e.message
                    ),
                ),
                dsl::error::code::UNKNOWN_INPUT => RestError::new(
                    StatusCode::BAD_REQUEST,
                    "unknown_deployment_input_error",
                    format!("{} - expected inputs: {expected:?}", e.message),
                ),
                _ => RestError::new(
                    StatusCode::BAD_REQUEST,
                    "functions_evaluation_error",
                    e.message,
                ),
            })?;
        let now = time::now();
        let deployment = json!({
            "id": id, "blueprint_id": blueprint_id, "created_at": now, "updated_at": now,
            "inputs": prepared.inputs, "outputs": prepared.outputs, "workflows": plan["workflows"],
            "policy_types": plan["policy_types"], "policy_triggers": plan["policy_triggers"], "groups": plan["groups"],
            "permalink": null,
        });
        let mut ops = vec![WriteOp::Insert {
            collection: DEPLOYMENTS.into(),
            id: id.clone(),
            doc: deployment.clone(),
        }];
        for n in &prepared.nodes {
            let node_id = n["id"].as_str().unwrap_or_default();
            let deploy = n["instances"]["deploy"].as_u64().unwrap_or(1).to_string();
            let plugins_to_install = host_plugins(node_id, &prepared.nodes);
            ops.push(WriteOp::Insert {
                collection: NODES.into(),
                id: format!("{id}/{node_id}"),
                doc: json!({
                    "id": node_id, "deployment_id": id, "blueprint_id": blueprint_id, "type": n["type"],
                    "type_hierarchy": n["type_hierarchy"], "number_of_instances": deploy,
                    "planned_number_of_instances": deploy, "deploy_number_of_instances": deploy,
                    "host_id": n["host_id"], "properties": n["properties"], "operations": n["operations"],
                    "plugins": n["plugins"], "plugins_to_install": plugins_to_install, "relationships": n["relationships"],
                }),
            });
        }
        for i in &prepared.node_instances {
            let iid = i["id"].as_str().unwrap_or_default().to_owned();
            ops.push(WriteOp::Insert {
                collection: NODE_INSTANCES.into(),
                id: iid.clone(),
                doc: json!({
                    "id": iid, "node_id": i["node_id"], "deployment_id": id, "host_id": i["host_id"],
                    "relationships": i["relationships"], "runtime_properties": {}, "state": "uninitialized",
                }),
            });
        }
        // The system execution runs before the answer, as the 3.3 CLI waits
        // for it anyway; in-process it takes microseconds.
        let exec_id = uuid::Uuid::new_v4().to_string();
        ops.push(WriteOp::Insert {
            collection: EXECUTIONS.into(),
            id: exec_id.clone(),
            doc: json!({
                "id": exec_id, "workflow_id": "create_deployment_environment", "blueprint_id": blueprint_id,
                "deployment_id": id, "status": "pending", "error": "", "created_at": now,
                "parameters": {
                    "deployment_plugins_to_install": plan["deployment_plugins_to_install"],
                    "workflow_plugins_to_install": plan["workflow_plugins_to_install"],
                    "policy_configuration": {"policy_types": plan["policy_types"], "policy_triggers": plan["policy_triggers"], "groups": plan["groups"]},
                },
                "is_system_workflow": false,
            }),
        });
        match s.model.store.write(ops) {
            Ok(_) => break (deployment, exec_id),
            Err(store::Error::AlreadyExists { collection, .. })
                if collection == NODE_INSTANCES && attempt < 8 =>
            {
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    };
    let status = s
        .workflows
        .run(&exec_id)
        .await
        .map_err(|e| RestError::internal(e.to_string()))?;
    if status != "terminated" {
        tracing::warn!(deployment = %id, execution = %exec_id, status, "the deployment environment was not created");
    }
    Ok((StatusCode::CREATED, Json(shape(deployment))).into_response())
}

/// host_agent plugins of the nodes a Compute node hosts (null elsewhere).
fn host_plugins(node_id: &str, nodes: &[Value]) -> Value {
    let is_host = nodes
        .iter()
        .find(|n| n["id"] == node_id)
        .and_then(|n| n["type_hierarchy"].as_array())
        .is_some_and(|h| h.iter().any(|t| t == "cloudify.nodes.Compute"));
    if !is_host {
        return Value::Null;
    }
    let mut out: Vec<Value> = Vec::new();
    for n in nodes.iter().filter(|n| n["host_id"] == node_id) {
        for p in n["plugins"].as_array().into_iter().flatten() {
            if p["executor"] == "host_agent"
                && p["install"] != false
                && !out.iter().any(|o| o["name"] == p["name"])
            {
                out.push(p.clone());
            }
        }
    }
    Value::Array(out)
}

pub async fn delete(
    State(s): State<RestState>,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, RestError> {
    list::existing(&s.model.store, DEPLOYMENTS, "deployment", &id)?;
    let ignore_live = q
        .iter()
        .find(|(k, _)| k == "ignore_live_nodes")
        .map(|(_, v)| Value::String(v.clone()));
    let ignore_live = list::boolean("ignore_live_nodes", ignore_live.as_ref(), false)?;
    let execs = s.model.store.list(
        EXECUTIONS,
        &store::Query::default().filter("deployment_id", id.clone()),
    )?;
    let running: Vec<String> = execs
        .items
        .iter()
        .filter(|e| {
            !matches!(
                e.doc["status"].as_str(),
                Some("terminated" | "failed" | "cancelled")
            )
        })
        .map(|e| e.id.clone())
        .collect();
    if !running.is_empty() {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            "dependent_exists_error",
            format!(
                "Can't delete deployment {id} - There are running executions for this deployment. Running executions ids: {}",
                running.join(",")
            ),
        ));
    }
    let instances = s.model.store.list(
        NODE_INSTANCES,
        &store::Query::default().filter("deployment_id", id.clone()),
    )?;
    if !ignore_live {
        let live: Vec<String> = instances
            .items
            .iter()
            .filter(|i| !matches!(i.doc["state"].as_str(), Some("uninitialized" | "deleted")))
            .map(|i| i.id.clone())
            .collect();
        if !live.is_empty() {
            return Err(RestError::new(
                StatusCode::BAD_REQUEST,
                "dependent_exists_error",
                format!(
                    "Can't delete deployment {id} - There are live nodes for this deployment. Live nodes ids: {}",
                    live.join(",")
                ),
            ));
        }
    }
    let nodes = s.model.store.list(
        NODES,
        &store::Query::default().filter("deployment_id", id.clone()),
    )?;
    let mut ops = vec![WriteOp::Delete {
        collection: DEPLOYMENTS.into(),
        id: id.clone(),
        expected: None,
    }];
    ops.extend(nodes.items.into_iter().map(|n| WriteOp::Delete {
        collection: NODES.into(),
        id: format!("{id}/{}", n.doc["id"].as_str().unwrap_or_default()),
        expected: None,
    }));
    ops.extend(instances.items.into_iter().map(|i| WriteOp::Delete {
        collection: NODE_INSTANCES.into(),
        id: i.id,
        expected: None,
    }));
    // As 3.3, a system execution tears the environment down, synchronously.
    let d = s.model.store.get(DEPLOYMENTS, &id)?;
    let exec_id = uuid::Uuid::new_v4().to_string();
    ops.push(WriteOp::Insert {
        collection: EXECUTIONS.into(),
        id: exec_id.clone(),
        doc: json!({
            "id": exec_id, "workflow_id": "delete_deployment_environment",
            "blueprint_id": d.map(|d| d.doc["blueprint_id"].clone()).unwrap_or(Value::Null),
            "deployment_id": id, "status": "pending", "error": "", "created_at": time::now(),
            "parameters": {"deployment_id": id}, "is_system_workflow": true,
        }),
    });
    s.model.store.write(ops)?;
    let status = s
        .workflows
        .run(&exec_id)
        .await
        .map_err(|e| RestError::internal(e.to_string()))?;
    if status != "terminated" {
        return Err(RestError::internal(format!(
            "the delete_deployment_environment execution {exec_id} ended {status}"
        )));
    }
    let mut out = Map::new();
    for f in FIELDS {
        out.insert((*f).to_owned(), Value::Null);
    }
    out.insert("id".into(), Value::String(id));
    Ok(Json(Value::Object(out)))
}

/// Node name → properties of a deployment's nodes.
pub fn node_properties(
    s: &RestState,
    deployment_id: &str,
) -> Result<Map<String, Value>, RestError> {
    let nodes = s.model.store.list(
        NODES,
        &store::Query::default().filter("deployment_id", deployment_id.to_owned()),
    )?;
    Ok(nodes
        .items
        .into_iter()
        .filter_map(|n| {
            Some((
                n.doc["id"].as_str()?.to_owned(),
                n.doc["properties"].clone(),
            ))
        })
        .collect())
}

pub async fn outputs(
    State(s): State<RestState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RestError> {
    let d = list::existing(&s.model.store, DEPLOYMENTS, "deployment", &id)?;
    let props = node_properties(&s, &id)?;
    let inputs = d.doc["inputs"].as_object().cloned().unwrap_or_default();
    let statics = dsl::functions::Evaluator {
        inputs: &inputs,
        properties: &props,
    };
    let rt = StoredRuntime {
        model: &s.model,
        deployment_id: &id,
    };
    let mut out = Map::new();
    for (name, o) in d.doc["outputs"].as_object().into_iter().flatten() {
        let evaluated = statics
            .eval(&o["value"], None, 0)
            .and_then(|v| {
                dsl::functions::eval_runtime(&v, &dsl::functions::Context::default(), &rt, &props)
            })
            .map_err(|e| {
                RestError::new(
                    StatusCode::BAD_REQUEST,
                    "deployment_outputs_evaluation_error",
                    format!("Error evaluating output {name}: {}", e.message),
                )
            })?;
        out.insert(name.clone(), evaluated);
    }
    Ok(Json(json!({"deployment_id": id, "outputs": out})))
}

/// `POST /evaluate/functions`.
pub async fn evaluate(
    State(s): State<RestState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, RestError> {
    let req = super::body::json_object(&headers, &body)?;
    let id = req
        .get("deployment_id")
        .and_then(Value::as_str)
        .ok_or_else(|| RestError::bad_parameters("deployment_id parameter is missing"))?
        .to_owned();
    let d = list::existing(&s.model.store, DEPLOYMENTS, "deployment", &id)?;
    let ctx = req.get("context").cloned().unwrap_or(Value::Null);
    let pick = |k: &str| ctx.get(k).and_then(Value::as_str).map(str::to_owned);
    let context = dsl::functions::Context {
        self_instance: pick("self"),
        source: pick("source"),
        target: pick("target"),
    };
    let props = node_properties(&s, &id)?;
    let inputs = d.doc["inputs"].as_object().cloned().unwrap_or_default();
    let statics = dsl::functions::Evaluator {
        inputs: &inputs,
        properties: &props,
    };
    let rt = StoredRuntime {
        model: &s.model,
        deployment_id: &id,
    };
    let self_node = context
        .self_instance
        .as_deref()
        .and_then(|i| dsl::functions::Runtime::node_of(&rt, i));
    let payload = req.get("payload").cloned().unwrap_or(Value::Null);
    let evaluated = statics
        .eval(&payload, self_node.as_deref(), 0)
        .and_then(|v| dsl::functions::eval_runtime(&v, &context, &rt, &props))
        .map_err(|e| {
            RestError::new(
                StatusCode::BAD_REQUEST,
                "functions_evaluation_error",
                e.message,
            )
        })?;
    Ok(Json(json!({"deployment_id": id, "payload": evaluated})))
}
