//! `/executions`: list, get, start, cancel, status updates.
//!
//! Starting a workflow validates its parameters as 3.3 did and hands the
//! execution to the workflow engine (`crate::workflows`); a workflow mapped
//! to a Python module cfyd does not have is refused here with a clear 501,
//! never pretending to run.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Map, Value, json};

use super::RestState;
use super::error::RestError;
use super::list::{self, ApiVersion};
use crate::model::{DEPLOYMENTS, EXECUTIONS};

pub const FIELDS: &[&str] = &[
    "id",
    "workflow_id",
    "blueprint_id",
    "deployment_id",
    "status",
    "error",
    "created_at",
    "parameters",
    "is_system_workflow",
];

pub async fn list(
    State(s): State<RestState>,
    Extension(v): Extension<ApiVersion>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, RestError> {
    let mut p = list::parse(&q, FIELDS, &[])?;
    let include_system = q
        .iter()
        .find(|(k, _)| k == "_include_system_workflows" || k == "include_system_workflows")
        .map(|(_, v)| Value::String(v.clone()));
    let include_system =
        list::boolean("_include_system_workflows", include_system.as_ref(), false)?;
    if !include_system
        && !p
            .query
            .filters
            .iter()
            .any(|f| f.field == "is_system_workflow")
    {
        p.query.filters.push(store::Filter {
            field: "is_system_workflow".into(),
            any_of: vec![Value::Bool(false)],
        });
    }
    if let Some(f) = p.query.filters.iter().find(|f| f.field == "deployment_id") {
        for d in f.any_of.iter().filter_map(Value::as_str) {
            if s.model.store.get(DEPLOYMENTS, d)?.is_none() {
                return Err(RestError::not_found(format!("deployment {d} not found")));
            }
        }
    }
    list::page(&s.model.store, v, &p, EXECUTIONS, |d| d.doc)
}

pub async fn get(
    State(s): State<RestState>,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, RestError> {
    list::one(
        &s.model.store,
        EXECUTIONS,
        "execution",
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
        .ok_or_else(|| RestError::bad_parameters("deployment_id parameter is missing"))?;
    let wf = req
        .get("workflow_id")
        .and_then(Value::as_str)
        .ok_or_else(|| RestError::bad_parameters("workflow_id parameter is missing"))?;
    let params = match req.get("parameters") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(RestError::bad_parameters(
                "parameters parameter is expected to be of type dict",
            ));
        }
    };
    let allow_custom = list::boolean(
        "allow_custom_parameters",
        req.get("allow_custom_parameters"),
        false,
    )?;
    let d = list::existing(&s.model.store, DEPLOYMENTS, "deployment", dep)?;
    let Some(def) = d.doc["workflows"].get(wf) else {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            "nonexistent_workflow_error",
            format!("Workflow {wf} does not exist in deployment {dep}"),
        ));
    };
    let declared = def["parameters"].as_object().cloned().unwrap_or_default();
    let missing: Vec<&String> = declared
        .iter()
        .filter(|(k, v)| v.get("default").is_none() && !params.contains_key(*k))
        .map(|(k, _)| k)
        .collect();
    let custom: Vec<&String> = params
        .keys()
        .filter(|k| !declared.contains_key(*k))
        .collect();
    if !missing.is_empty() || (!custom.is_empty() && !allow_custom) {
        let mut why = Vec::new();
        if !missing.is_empty() {
            why.push(format!(
                "Workflow {wf} is missing mandatory parameters: {missing:?}"
            ));
        }
        if !custom.is_empty() && !allow_custom {
            why.push(format!("Workflow {wf} does not accept custom parameters {custom:?} (allow_custom_parameters is false)"));
        }
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            "illegal_execution_parameters_error",
            why.join("; "),
        ));
    }
    let Some(kind) = crate::workflows::built_in(def) else {
        let functions: Vec<&str> = crate::workflows::BUILT_IN.iter().map(|(f, _)| *f).collect();
        return Err(RestError::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_implemented_error",
            format!(
                "Cannot start workflow '{wf}' on deployment '{dep}': it is mapped to '{}', a Python workflow cfyd cannot run; cfyd runs the built-in cloudify.plugins.workflows functions {}",
                [def["plugin"].as_str(), def["operation"].as_str()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("."),
                functions.join(", ")
            ),
        ));
    };
    let force = list::boolean("force", req.get("force"), false)?;
    let running = s.model.store.list(
        EXECUTIONS,
        &store::Query::default().filter("deployment_id", dep.to_owned()),
    )?;
    if let Some(r) = running.items.iter().find(|e| {
        !crate::workflows::END_STATES.contains(&e.doc["status"].as_str().unwrap_or_default())
    }) && !force
    {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            "existing_running_execution_error",
            format!(
                "The following executions are currently running for this deployment: ['{}']. To execute this workflow anyway, pass \"force=true\" as a query parameter to this request",
                r.id
            ),
        ));
    }
    let mut merged = Map::new();
    for (k, v) in &declared {
        if let Some(d) = v.get("default") {
            merged.insert(k.clone(), d.clone());
        }
    }
    merged.extend(params);
    let id = uuid::Uuid::new_v4().to_string();
    let doc = json!({
        "id": id, "workflow_id": wf, "blueprint_id": d.doc["blueprint_id"], "deployment_id": dep,
        "status": "pending", "error": "", "created_at": crate::model::time::now(),
        "parameters": merged, "is_system_workflow": false,
    });
    s.model.store.insert(EXECUTIONS, &id, doc.clone())?;
    tracing::info!(execution = %id, workflow = wf, built_in = kind, deployment = dep, "execution started");
    s.workflows.spawn(id);
    Ok((StatusCode::CREATED, Json(doc)).into_response())
}

pub async fn action(
    State(s): State<RestState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, RestError> {
    let req = super::body::json_object(&headers, &body)?;
    let action = req
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let e = list::existing(&s.model.store, EXECUTIONS, "execution", &id)?;
    let status = e.doc["status"].as_str().unwrap_or_default().to_owned();
    let new = match action {
        "cancel" if matches!(status.as_str(), "pending" | "started") => "cancelling",
        "force-cancel" if matches!(status.as_str(), "pending" | "started" | "cancelling") => {
            "force_cancelling"
        }
        "cancel" | "force-cancel" => {
            return Err(RestError::new(
                StatusCode::BAD_REQUEST,
                "illegal_action_error",
                format!("Can't {action} execution {id} because it's in status {status}"),
            ));
        }
        other => {
            return Err(RestError::bad_parameters(format!(
                "Unknown action: {other}. Valid actions are: ['cancel', 'force-cancel']"
            )));
        }
    };
    let mut patch = Map::new();
    patch.insert("status".into(), json!(new));
    Ok(Json(
        s.model
            .store
            .update(EXECUTIONS, &id, patch, Some(e.version))?
            .doc,
    ))
}

/// `PATCH /executions/{id}`: workers report status (not validated, as in 3.3).
pub async fn update(
    State(s): State<RestState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, RestError> {
    let req = super::body::json_object(&headers, &body)?;
    let status = req
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| RestError::bad_parameters("status parameter is missing"))?;
    list::existing(&s.model.store, EXECUTIONS, "execution", &id)?;
    let mut patch = Map::new();
    patch.insert("status".into(), json!(status));
    patch.insert(
        "error".into(),
        req.get("error").cloned().unwrap_or(json!("")),
    );
    Ok(Json(
        s.model.store.update(EXECUTIONS, &id, patch, None)?.doc,
    ))
}
