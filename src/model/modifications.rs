//! Deployment modifications (the scale workflow's changes to instance
//! counts): start computes the new instance graph and stores the added
//! instances, finish applies it, rollback restores the instances as they
//! were. The REST service and the workflow engine both call these.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value, json};
use store::{Query as StoreQuery, WriteOp};

use super::{DEPLOYMENTS, MODIFICATIONS, Model, NODE_INSTANCES, NODES, time};

#[derive(Debug, thiserror::Error)]
pub enum ModificationError {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error(
        "Cannot start deployment modification while there are existing started deployment modifications. Currently started deployment modifications: {0}"
    )]
    AlreadyStarted(String),
    #[error("Cannot end deployment modification {0}. It is already in {1} status.")]
    AlreadyEnded(String, String),
}

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

/// Starts a modification of `dep`'s instance counts (`nodes`: node id →
/// `{"instances", "removed_ids_include_hint"?, "removed_ids_exclude_hint"?}`);
/// returns the stored DeploymentModification.
pub fn start(
    model: &Model,
    dep: &str,
    modified: &Map<String, Value>,
    context: Value,
) -> Result<Value, ModificationError> {
    if model.store.get(DEPLOYMENTS, dep)?.is_none() {
        return Err(ModificationError::NotFound(format!(
            "deployment {dep} not found"
        )));
    }
    let started = model.store.list(
        MODIFICATIONS,
        &StoreQuery::default().filter("status", "started"),
    )?;
    if let Some(m) = started.items.first() {
        return Err(ModificationError::AlreadyStarted(m.id.clone()));
    }
    let nodes = model.store.list(NODES, &by_deployment(dep))?.items;
    let plan_nodes: Vec<Value> = nodes
        .iter()
        .map(|n| {
            let deploy: u64 = n.doc["number_of_instances"].as_str().and_then(|c| c.parse().ok()).unwrap_or(1);
            json!({"id": n.doc["id"], "type_hierarchy": n.doc["type_hierarchy"], "relationships": n.doc["relationships"], "instances": {"deploy": deploy}})
        })
        .collect();
    let current: Vec<store::Versioned> =
        model.store.list(NODE_INSTANCES, &by_deployment(dep))?.items;
    let current_docs: Vec<Value> = current.iter().map(|d| d.doc.clone()).collect();
    let mut counts = BTreeMap::new();
    let (mut include_hint, mut exclude_hint) = (Vec::new(), Vec::new());
    for (node, spec) in modified {
        let n = spec
            .get("instances")
            .and_then(Value::as_u64)
            .ok_or_else(|| {
                ModificationError::Invalid(format!(
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
    .map_err(|e| ModificationError::Invalid(e.message))?;

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
        "modified_nodes": modified, "context": context,
        "node_instances": {"added_and_related": m.added_and_related, "removed_and_related": m.removed_and_related, "before_modification": current_docs},
    });
    ops.push(WriteOp::Insert {
        collection: MODIFICATIONS.into(),
        id: id.clone(),
        doc: doc.clone(),
    });
    model.store.write(ops)?;
    Ok(doc)
}

fn ended(model: &Model, id: &str) -> Result<store::Versioned, ModificationError> {
    let m = model.store.get(MODIFICATIONS, id)?.ok_or_else(|| {
        ModificationError::NotFound(format!("deployment_modification {id} not found"))
    })?;
    if m.doc["status"] != "started" {
        return Err(ModificationError::AlreadyEnded(
            id.to_owned(),
            m.doc["status"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    Ok(m)
}

/// Ends a modification: removed instances deleted, counts applied.
pub fn finish(model: &Model, id: &str) -> Result<(), ModificationError> {
    let m = ended(model, id)?;
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
    for inst in model
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
        id: id.to_owned(),
        patch,
        expected: Some(m.version),
    });
    model.store.write(ops)?;
    Ok(())
}

/// Undoes a modification: the instances as they were before it.
pub fn rollback(model: &Model, id: &str) -> Result<(), ModificationError> {
    let m = ended(model, id)?;
    let dep = m.doc["deployment_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let before: Vec<Value> = m.doc["node_instances"]["before_modification"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let now_instances = model
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
    for n in model.store.list(NODES, &by_deployment(&dep))?.items {
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
        id: id.to_owned(),
        patch,
        expected: Some(m.version),
    });
    model.store.write(ops)?;
    Ok(())
}
