//! `/provider/context` and `/tokens`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::RestState;
use super::error::RestError;
use super::list;
use crate::model::PROVIDER_CONTEXT;

const KEY: &str = "CONTEXT";

/// The context a manager has from its first start (cloudify-api.md §1.3).
pub fn default_context() -> Value {
    json!({
        "name": "cfyd",
        "context": {"cloudify": {
            "transient_deployment_workers_mode": {"enabled": true, "global_parallel_executions_limit": 50},
            "workflows": {"task_retries": -1, "task_retry_interval": 30, "subgraph_retries": 0},
            "cloudify_agent": {"min_workers": 2, "max_workers": 5, "remote_execution_port": 22, "user": "ubuntu"},
            "policy_engine": {"start_timeout": 30},
            "resources_prefix": "",
            "validate_definitions_version": true,
        }},
    })
}

pub async fn get(
    State(s): State<RestState>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, RestError> {
    let include = list::include(&q, &["name", "context"])?;
    let doc = match s.model.store.get(PROVIDER_CONTEXT, KEY)? {
        Some(d) => d.doc,
        None => default_context(),
    };
    Ok(Json(list::project(doc, &include)))
}

pub async fn post(
    State(s): State<RestState>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RestError> {
    let req = super::body::json_object(&headers, &body)?;
    let name = req
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| RestError::bad_parameters("name parameter is missing"))?;
    let context = req
        .get("context")
        .filter(|c| c.is_object())
        .ok_or_else(|| RestError::bad_parameters("context parameter is missing or not a dict"))?;
    let update = q
        .iter()
        .find(|(k, _)| k == "update")
        .map(|(_, v)| Value::String(v.clone()));
    let update = list::boolean("update", update.as_ref(), false)?;
    let doc = json!({"name": name, "context": context});
    let existing = s.model.store.get(PROVIDER_CONTEXT, KEY)?;
    match (existing, update) {
        (Some(_), false) => Err(RestError::conflict("Provider Context already set")),
        (Some(e), true) => {
            s.model
                .store
                .replace(PROVIDER_CONTEXT, KEY, doc, Some(e.version))?;
            Ok((StatusCode::OK, Json(json!({"status": "ok"}))).into_response())
        }
        (None, _) => {
            s.model.store.insert(PROVIDER_CONTEXT, KEY, doc)?;
            Ok((StatusCode::CREATED, Json(json!({"status": "ok"}))).into_response())
        }
    }
}

/// Security is off in this build: 3.3 answered 401 application_not_secured_error.
pub async fn tokens() -> RestError {
    RestError::new(
        StatusCode::UNAUTHORIZED,
        "application_not_secured_error",
        "Cannot generate token, application is not secured",
    )
}

/// `PATCH /provider/context` (v2): `{"global_parallel_executions_limit": int}`,
/// allowed while transient deployment workers mode is on.
pub async fn patch(
    State(s): State<RestState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, RestError> {
    let req = super::body::json_object(&headers, &body)?;
    let limit = match req.get("global_parallel_executions_limit") {
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.clone(),
        other => {
            return Err(RestError::bad_parameters(format!(
                "global_parallel_executions_limit must be an integer, got {}",
                other.map_or("nothing".to_owned(), Value::to_string)
            )));
        }
    };
    let (mut doc, version) = match s.model.store.get(PROVIDER_CONTEXT, KEY)? {
        Some(d) => (d.doc, Some(d.version)),
        None => (default_context(), None),
    };
    let mode = &doc["context"]["cloudify"]["transient_deployment_workers_mode"];
    if mode["enabled"] != true {
        return Err(RestError::bad_parameters(
            "global_parallel_executions_limit can only be set while transient deployment workers mode is enabled",
        ));
    }
    doc["context"]["cloudify"]["transient_deployment_workers_mode"]["global_parallel_executions_limit"] =
        Value::Number(limit);
    match version {
        Some(v) => s
            .model
            .store
            .replace(PROVIDER_CONTEXT, KEY, doc.clone(), Some(v))?,
        None => s.model.store.insert(PROVIDER_CONTEXT, KEY, doc.clone())?,
    };
    Ok(Json(doc))
}
