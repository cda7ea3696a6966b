//! `/deployment-modifications`: start, finish and roll back changes to
//! instance counts (the scale workflow's calls).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Map, Value, json};

use super::RestState;
use super::error::RestError;
use super::list::{self, ApiVersion};
use crate::model::MODIFICATIONS;
use crate::model::modifications::{self, ModificationError};

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
    let context = req.get("context").cloned().unwrap_or_else(|| json!({}));
    let doc = modifications::start(&s.model, &dep, &modified, context)?;
    Ok((StatusCode::CREATED, Json(doc)).into_response())
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
    modifications::finish(&s.model, &id)?;
    Ok(Json(summary(&id, "finished")))
}

pub async fn rollback(
    State(s): State<RestState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RestError> {
    modifications::rollback(&s.model, &id)?;
    Ok(Json(summary(&id, "rolledback")))
}

impl From<ModificationError> for RestError {
    fn from(e: ModificationError) -> Self {
        match e {
            ModificationError::Store(e) => e.into(),
            ModificationError::NotFound(m) => RestError::not_found(m),
            ModificationError::Invalid(m) => RestError::bad_parameters(m),
            e @ ModificationError::AlreadyStarted(_) => RestError::new(
                StatusCode::BAD_REQUEST,
                "existing_started_deployment_modification_error",
                e.to_string(),
            ),
            e @ ModificationError::AlreadyEnded(..) => RestError::new(
                StatusCode::BAD_REQUEST,
                "deployment_modification_already_ended_error",
                e.to_string(),
            ),
        }
    }
}
