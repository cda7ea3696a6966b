//! `/deployment-modifications`: start, finish and roll back changes to
//! instance counts (the scale workflow's calls).

use std::collections::{BTreeMap, HashSet};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Map, Value, json};
use store::{Query as StoreQuery, WriteOp};

use super::RestState;
use super::error::RestError;
use super::list::{self, ApiVersion};
use crate::model::{DEPLOYMENTS, MODIFICATIONS, NODE_INSTANCES, NODES, time};

const FIELDS: &[&str] = &[
    "id",
    "deployment_id",
    "status",
    "created_at",
    "ended_at",
    "modified_nodes",
    "node_instances",
    "context",
];

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_owned))
        .collect()
}

fn by_deployment(id: &str) -> StoreQuery {
    StoreQuery::default().filter("deployment_id", id.to_owned())
}

pub async fn list(
    State(s): State<RestState>,
    Extension(v): Extension<ApiVersion>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, RestError> {
    let p = list::parse(&q, FIELDS, &[])?;
    list::page(&s.model.store, v, &p, MODIFICATIONS, |d| d.doc)
}

pub async fn get(
    State(s): State<RestState>,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, RestError> {
    list::one(
        &s.model.store,
        MODIFICATIONS,
        "deployment_modification",
        &id,
        &q,
        FIELDS,
        |d| d.doc,
    )
}

pub async fn start(
    State(s): State<RestState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RestError> {
    let req = super::body::json_object(&headers, &body)?;
    let dep = req
        .get("deployment_id")
        .and_then(Value::as_str)
        .ok_or_else(|| RestError::bad_parameters("deployment_id parameter is missing"))?
        .to_owned();
    let modified = req
        .get("nodes")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| RestError::bad_parameters("nodes parameter is missing"))?;
    list::existing(&s.model.store, DEPLOYMENTS, "deployment", &dep)?;
    let started = s.model.store.list(
        MODIFICATIONS,
        &StoreQuery::default().filter("status", "started"),
    )?;
    if let Some(m) = started.items.first() {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            "existing_started_deployment_modification_error",
            format!(
                "Cannot start deployment modification while there are existing started deployment modifications. Currently started deployment modifications: {}",
                m.id
            ),
        ));
    }
    let nodes = s.model.store.list(NODES, &by_deployment(&dep))?.items;
    let plan_nodes: Vec<Value> = nodes
        .iter()
        .map(|n| {
            let deploy: u64 = n.doc["number_of_instances"].as_str().and_then(|c| c.parse().ok()).unwrap_or(1);
            json!({"id": n.doc["id"], "type_hierarchy": n.doc["type_hierarchy"], "relationships": n.doc["relationships"], "instances": {"deploy": deploy}})
        })
        .collect();
    let current: Vec<store::Versioned> = s
        .model
        .store
        .list(NODE_INSTANCES, &by_deployment(&dep))?
        .items;
    let current_docs: Vec<Value> = current.iter().map(|d| d.doc.clone()).collect();
    let mut counts = BTreeMap::new();
    let (mut include_hint, mut exclude_hint) = (Vec::new(), Vec::new());
    for (node, spec) in &modified {
        let n = spec
            .get("instances")
            .and_then(Value::as_u64)
            .ok_or_else(|| {
                RestError::bad_parameters(format!(
                    "nodes.{node}.instances must be a non-negative integer"
                ))
            })?;
        counts.insert(node.clone(), n);
        include_hint.extend(strings(spec.get("removed_ids_include_hint")));
        exclude_hint.extend(strings(spec.get("removed_ids_exclude_hint")));
    }
    let m = crate::dsl::modify::modify(
        &plan_nodes,
        &current_docs,
        &counts,
        &include_hint,
        &exclude_hint,
    )
    .map_err(|e| RestError::bad_parameters(e.message))?;

    let added: HashSet<String> = m
        .added_and_related
        .iter()
        .filter(|i| i["modification"] == "added")
        .filter_map(|i| i["id"].as_str().map(str::to_owned))
        .collect();
    let mut ops = Vec::new();
    for inst in &m.added_and_related {
        let id = inst["id"].as_str().unwrap_or_default().to_owned();
        if added.contains(&id) {
            ops.push(WriteOp::Insert {
                collection: NODE_INSTANCES.into(),
                id: id.clone(),
                doc: json!({"id": id, "node_id": inst["node_id"], "deployment_id": dep, "host_id": inst["host_id"], "relationships": inst["relationships"], "runtime_properties": {}, "state": "uninitialized"}),
            });
        } else if let Some(old) = current.iter().find(|c| c.id == id) {
            // Existing instances gain their relationships to the new ones.
            let new_rels = inst["relationships"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if new_rels.is_empty() {
                continue;
            }
            let mut rels = old.doc["relationships"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            rels.extend(new_rels);
            let mut patch = Map::new();
            patch.insert("relationships".into(), Value::Array(rels));
            ops.push(WriteOp::Update {
                collection: NODE_INSTANCES.into(),
                id: id.clone(),
                patch,
                expected: None,
            });
        }
    }
    for (node, n) in &counts {
        let mut patch = Map::new();
        patch.insert("planned_number_of_instances".into(), json!(n.to_string()));
        ops.push(WriteOp::Update {
            collection: NODES.into(),
            id: format!("{dep}/{node}"),
            patch,
            expected: None,
        });
    }
    let id = uuid::Uuid::new_v4().to_string();
    let doc = json!({
        "id": id, "deployment_id": dep, "status": "started", "created_at": time::now(), "ended_at": null,
        "modified_nodes": modified, "context": req.get("context").cloned().unwrap_or_else(|| json!({})),
        "node_instances": {"added_and_related": m.added_and_related, "removed_and_related": m.removed_and_related, "before_modification": current_docs},
    });
    ops.push(WriteOp::Insert {
        collection: MODIFICATIONS.into(),
        id: id.clone(),
        doc: doc.clone(),
    });
    s.model.store.write(ops)?;
    Ok((StatusCode::CREATED, Json(doc)).into_response())
}

fn ended(s: &RestState, id: &str) -> Result<store::Versioned, RestError> {
    let m =
        s.model.store.get(MODIFICATIONS, id)?.ok_or_else(|| {
            RestError::not_found(format!("deployment_modification {id} not found"))
        })?;
    if m.doc["status"] != "started" {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            "deployment_modification_already_ended_error",
            format!(
                "Cannot end deployment modification {id}. It is already in {} status.",
                m.doc["status"].as_str().unwrap_or_default()
            ),
        ));
    }
    Ok(m)
}

fn summary(id: &str, status: &str) -> Value {
    let mut out: Map<String, Value> = FIELDS
        .iter()
        .map(|f| ((*f).to_owned(), Value::Null))
        .collect();
    out.insert("id".into(), json!(id));
    out.insert("status".into(), json!(status));
    Value::Object(out)
}

pub async fn finish(
    State(s): State<RestState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RestError> {
    let m = ended(&s, &id)?;
    let dep = m.doc["deployment_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let removed: HashSet<String> = m.doc["node_instances"]["removed_and_related"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["modification"] == "removed")
        .filter_map(|i| i["id"].as_str().map(str::to_owned))
        .collect();
    let mut ops = Vec::new();
    for inst in s
        .model
        .store
        .list(NODE_INSTANCES, &by_deployment(&dep))?
        .items
    {
        if removed.contains(&inst.id) {
            ops.push(WriteOp::Delete {
                collection: NODE_INSTANCES.into(),
                id: inst.id,
                expected: None,
            });
            continue;
        }
        let rels = inst.doc["relationships"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let kept: Vec<Value> = rels
            .iter()
            .filter(|r| !removed.contains(r["target_id"].as_str().unwrap_or_default()))
            .cloned()
            .collect();
        if kept.len() != rels.len() {
            let mut patch = Map::new();
            patch.insert("relationships".into(), Value::Array(kept));
            ops.push(WriteOp::Update {
                collection: NODE_INSTANCES.into(),
                id: inst.id,
                patch,
                expected: None,
            });
        }
    }
    for (node, spec) in m.doc["modified_nodes"].as_object().into_iter().flatten() {
        let mut patch = Map::new();
        patch.insert(
            "number_of_instances".into(),
            json!(spec["instances"].as_u64().unwrap_or(0).to_string()),
        );
        ops.push(WriteOp::Update {
            collection: NODES.into(),
            id: format!("{dep}/{node}"),
            patch,
            expected: None,
        });
    }
    let mut patch = Map::new();
    patch.insert("status".into(), json!("finished"));
    patch.insert("ended_at".into(), json!(time::now()));
    ops.push(WriteOp::Update {
        collection: MODIFICATIONS.into(),
        id: id.clone(),
        patch,
        expected: Some(m.version),
    });
    s.model.store.write(ops)?;
    Ok(Json(summary(&id, "finished")))
}

pub async fn rollback(
    State(s): State<RestState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RestError> {
    let m = ended(&s, &id)?;
    let dep = m.doc["deployment_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let before: Vec<Value> = m.doc["node_instances"]["before_modification"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let now_instances = s
        .model
        .store
        .list(NODE_INSTANCES, &by_deployment(&dep))?
        .items;
    let before_rollback: Vec<Value> = now_instances.iter().map(|i| i.doc.clone()).collect();
    let mut ops: Vec<WriteOp> = now_instances
        .into_iter()
        .map(|i| WriteOp::Delete {
            collection: NODE_INSTANCES.into(),
            id: i.id,
            expected: None,
        })
        .collect();
    for inst in &before {
        let iid = inst["id"].as_str().unwrap_or_default().to_owned();
        ops.push(WriteOp::Insert {
            collection: NODE_INSTANCES.into(),
            id: iid,
            doc: inst.clone(),
        });
    }
    for n in s.model.store.list(NODES, &by_deployment(&dep))?.items {
        let mut patch = Map::new();
        patch.insert(
            "planned_number_of_instances".into(),
            n.doc["number_of_instances"].clone(),
        );
        ops.push(WriteOp::Update {
            collection: NODES.into(),
            id: format!("{dep}/{}", n.doc["id"].as_str().unwrap_or_default()),
            patch,
            expected: None,
        });
    }
    let mut patch = Map::new();
    patch.insert("status".into(), json!("rolledback"));
    patch.insert("ended_at".into(), json!(time::now()));
    let mut nis = m.doc["node_instances"].clone();
    nis["before_rollback"] = Value::Array(before_rollback);
    patch.insert("node_instances".into(), nis);
    ops.push(WriteOp::Update {
        collection: MODIFICATIONS.into(),
        id: id.clone(),
        patch,
        expected: Some(m.version),
    });
    s.model.store.write(ops)?;
    Ok(Json(summary(&id, "rolledback")))
}
