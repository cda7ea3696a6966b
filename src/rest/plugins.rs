//! `/plugins` (v2): Wagon archives uploaded, listed, downloaded, deleted.

use std::io::Read;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Value, json};

use super::RestState;
use super::error::RestError;
use super::list::{self, ApiVersion};
use crate::model::{PLUGINS, time};

const FIELDS: &[&str] = &[
    "id",
    "package_name",
    "archive_name",
    "package_source",
    "package_version",
    "supported_platform",
    "distribution",
    "distribution_version",
    "distribution_release",
    "wheels",
    "excluded_wheels",
    "supported_py_versions",
    "uploaded_at",
];

fn invalid(message: impl Into<String>) -> RestError {
    RestError::new(StatusCode::BAD_REQUEST, "invalid_plugin_error", message)
}

/// `package.json` of a Wagon: the first directory's metadata.
fn wagon_metadata(bytes: &[u8]) -> Result<Value, RestError> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let entries = archive
        .entries()
        .map_err(|e| invalid(format!("plugin archive is not a tar.gz Wagon: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| invalid(format!("plugin archive is corrupt: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| invalid(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        if path.split('/').filter(|p| !p.is_empty()).count() == 2 && path.ends_with("/package.json")
        {
            let mut text = String::new();
            entry
                .by_ref()
                .take(1 << 20)
                .read_to_string(&mut text)
                .map_err(|e| invalid(e.to_string()))?;
            return serde_json::from_str(&text)
                .map_err(|e| invalid(format!("package.json is not valid JSON: {e}")));
        }
    }
    Err(invalid("plugin archive has no <dir>/package.json"))
}

pub async fn upload(
    State(s): State<RestState>,
    Query(q): Query<Vec<(String, String)>>,
    body: Bytes,
) -> Result<Response, RestError> {
    if q.iter().any(|(k, _)| k == "plugin_archive_url") {
        return Err(RestError::url_not_found("plugin_archive_url"));
    }
    if body.is_empty() {
        return Err(RestError::bad_parameters("Missing data in request body"));
    }
    let meta = wagon_metadata(&body)?;
    let get = |k: &str| meta.get(k).cloned().unwrap_or(Value::Null);
    let package_name = meta
        .get("package_name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("package.json has no package_name"))?
        .to_owned();
    let archive_name = meta
        .get("archive_name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("package.json has no archive_name"))?
        .to_owned();
    if archive_name.contains('/') || archive_name.starts_with('.') {
        return Err(invalid(format!(
            "archive_name {archive_name:?} is not a plain file name"
        )));
    }
    let same = s.model.store.list(
        PLUGINS,
        &store::Query::default().filter("package_name", package_name.clone()),
    )?;
    if same
        .items
        .iter()
        .any(|p| p.doc["archive_name"] == archive_name.as_str())
    {
        return Err(RestError::conflict(format!(
            "a plugin with archive {archive_name} of package {package_name} already exists"
        )));
    }
    let build = meta
        .get("build_server_os_properties")
        .cloned()
        .unwrap_or(Value::Null);
    let id = uuid::Uuid::new_v4().to_string();
    let doc = json!({
        "id": id, "package_name": package_name, "archive_name": archive_name, "package_source": get("package_source"),
        "package_version": get("package_version"), "supported_platform": get("supported_platform"),
        "distribution": build["distribution"], "distribution_version": build["distribution_version"],
        "distribution_release": build["distribution_release"], "wheels": meta.get("wheels").cloned().unwrap_or(json!([])),
        "excluded_wheels": meta.get("excluded_wheels").cloned().unwrap_or(json!([])),
        "supported_py_versions": meta.get("supported_python_versions").cloned().unwrap_or(json!([])),
        "uploaded_at": time::now(),
    });
    let dir = s.model.resources.join("plugins").join(&id);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| RestError::internal(e.to_string()))?;
    tokio::fs::write(dir.join(&archive_name), &body)
        .await
        .map_err(|e| RestError::internal(e.to_string()))?;
    s.model.store.insert(PLUGINS, &id, doc.clone())?;
    Ok((StatusCode::CREATED, Json(doc)).into_response())
}

pub async fn list(
    State(s): State<RestState>,
    Extension(v): Extension<ApiVersion>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, RestError> {
    let p = list::parse(&q, FIELDS, &[])?;
    list::page(&s.model.store, v, &p, PLUGINS, |d| d.doc)
}

pub async fn get(
    State(s): State<RestState>,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, RestError> {
    list::one(&s.model.store, PLUGINS, "plugin", &id, &q, FIELDS, |d| {
        d.doc
    })
}

pub async fn delete(
    State(s): State<RestState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RestError> {
    let d = s
        .model
        .store
        .delete(PLUGINS, &id, None)
        .map_err(|e| match e {
            store::Error::NotFound { .. } => RestError::not_found(format!("plugin {id} not found")),
            other => other.into(),
        })?;
    let _ = tokio::fs::remove_dir_all(s.model.resources.join("plugins").join(&id)).await;
    Ok(Json(d.doc))
}

pub async fn archive(
    State(s): State<RestState>,
    Path(id): Path<String>,
) -> Result<Response, RestError> {
    let d = list::existing(&s.model.store, PLUGINS, "plugin", &id)?;
    let name = d.doc["archive_name"].as_str().unwrap_or_default();
    let bytes = tokio::fs::read(s.model.resources.join("plugins").join(&id).join(name))
        .await
        .map_err(|e| RestError::internal(format!("archive of plugin {id} is missing: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename={id}.tar.gz"),
            ),
        ],
        bytes,
    )
        .into_response())
}
