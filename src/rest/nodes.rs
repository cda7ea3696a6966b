//! `/nodes` and `/node-instances` (PATCH with optimistic versions).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Extension, Json};
use serde_json::{Map, Value};

use super::RestState;
use super::error::RestError;
use super::list::{self, ApiVersion};
use crate::model::{NODE_INSTANCES, NODES};

const NODE_FIELDS: &[&str] = &[
    "id",
    "deployment_id",
    "blueprint_id",
    "type",
    "type_hierarchy",
    "number_of_instances",
    "planned_number_of_instances",
    "deploy_number_of_instances",
    "host_id",
    "properties",
    "operations",
    "plugins",
    "plugins_to_install",
    "relationships",
];
const INSTANCE_FIELDS: &[&str] = &[
    "id",
    "node_id",
    "deployment_id",
    "host_id",
    "relationships",
    "runtime_properties",
    "state",
    "version",
];

pub async fn list_nodes(
    State(s): State<RestState>,
    Extension(v): Extension<ApiVersion>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, RestError> {
    let p = list::parse(&q, NODE_FIELDS, &[("node_id", "id")])?;
    list::page(&s.model.store, v, &p, NODES, |d| d.doc)
}

fn instance(d: store::Versioned, with_version: bool) -> Value {
    let mut doc = d.doc;
    doc["version"] = if with_version {
        Value::from(d.version)
    } else {
        Value::Null
    };
    doc
}

pub async fn list_instances(
    State(s): State<RestState>,
    Extension(v): Extension<ApiVersion>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, RestError> {
    let p = list::parse(&q, INSTANCE_FIELDS, &[("node_name", "node_id")])?;
    list::page(&s.model.store, v, &p, NODE_INSTANCES, |d| {
        instance(d, false)
    })
}

pub async fn get_instance(
    State(s): State<RestState>,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, RestError> {
    let include = list::include(&q, INSTANCE_FIELDS)?;
    let d = list::existing(&s.model.store, NODE_INSTANCES, "node_instance", &id)?;
    Ok(Json(list::project(instance(d, true), &include)))
}

pub async fn patch_instance(
    State(s): State<RestState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, RestError> {
    let req = super::body::json_object(&headers, &body)?;
    let version = match req.get("version") {
        None => {
            return Err(RestError::bad_parameters(
                "Request body must be a map containing a \"version\" field",
            ));
        }
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.as_u64().unwrap_or(0),
        Some(other) => {
            let ty = match other {
                Value::Bool(_) => "bool",
                Value::String(_) => "unicode",
                Value::Number(_) => "float",
                _ => "object",
            };
            return Err(RestError::bad_parameters(format!(
                "request body's 'version' field must be an int but is of type {ty}"
            )));
        }
    };
    let mut patch = Map::new();
    if let Some(rp) = req.get("runtime_properties").filter(|v| !v.is_null()) {
        if !rp.is_object() {
            return Err(RestError::bad_parameters(
                "runtime_properties must be a dict",
            ));
        }
        patch.insert("runtime_properties".into(), rp.clone());
    }
    if let Some(state) = req.get("state").filter(|v| !v.is_null()) {
        patch.insert("state".into(), state.clone());
    }
    let expected = (version != 0).then_some(version);
    let updated = match s.model.store.update(NODE_INSTANCES, &id, patch, expected) {
        Err(store::Error::NotFound { .. }) => {
            return Err(RestError::not_found(format!(
                "node_instance {id} not found"
            )));
        }
        other => other?,
    };
    Ok(Json(instance(updated, true)))
}
