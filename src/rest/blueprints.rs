//! `/blueprints`: upload (archive body), list, get, archive download, delete.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Value, json};

use super::RestState;
use super::error::RestError;
use super::list::{self, ApiVersion};
use crate::model::{BLUEPRINTS, DEPLOYMENTS, time};

const FIELDS_V2: &[&str] = &[
    "id",
    "plan",
    "description",
    "created_at",
    "updated_at",
    "main_file_name",
];
const FIELDS_V1: &[&str] = &["id", "plan", "created_at", "updated_at"];

fn fields(v: ApiVersion) -> &'static [&'static str] {
    if v == ApiVersion::V2 {
        FIELDS_V2
    } else {
        FIELDS_V1
    }
}

fn shape(doc: Value, v: ApiVersion) -> Value {
    list::project(
        doc,
        &Some(fields(v).iter().map(|s| (*s).to_owned()).collect()),
    )
}

pub async fn list(
    State(s): State<RestState>,
    Extension(v): Extension<ApiVersion>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, RestError> {
    let p = list::parse(&q, fields(v), &[])?;
    list::page(&s.model.store, v, &p, BLUEPRINTS, |d| shape(d.doc, v))
}

pub async fn get(
    State(s): State<RestState>,
    Extension(v): Extension<ApiVersion>,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, RestError> {
    list::one(
        &s.model.store,
        BLUEPRINTS,
        "blueprint",
        &id,
        &q,
        fields(v),
        |d| shape(d.doc, v),
    )
}

pub async fn upload(
    State(s): State<RestState>,
    Extension(v): Extension<ApiVersion>,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
    body: Bytes,
) -> Result<Response, RestError> {
    super::check_id("blueprint", &id)?;
    let param = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if param("blueprint_archive_url").is_some() {
        if !body.is_empty() {
            return Err(RestError::bad_parameters(
                "Can't pass both a blueprint URL via query parameters and blueprint data via the request body at the same time",
            ));
        }
        return Err(RestError::url_not_found("blueprint_archive_url"));
    }
    if body.is_empty() {
        return Err(RestError::bad_parameters(
            "Missing data in request body. You may want to use the blueprint_archive_url query parameter",
        ));
    }
    if s.model.store.get(BLUEPRINTS, &id)?.is_some() {
        return Err(RestError::conflict(format!(
            "blueprint with id '{id}' already exists"
        )));
    }
    let model = s.model.clone();
    // The 3.3 client quotes the name before requests encodes the query
    // again; 3.3 unquoted it a second time, so does cfyd.
    let main = param("application_file_name")
        .map(|m| crate::fileserver::percent_decode(&m).unwrap_or(m))
        .unwrap_or_else(|| "blueprint.yaml".to_owned());
    let doc = tokio::task::spawn_blocking(move || store_blueprint(&model, &id, &main, &body))
        .await
        .map_err(|e| RestError::internal(e.to_string()))??;
    Ok((StatusCode::CREATED, Json(shape(doc, v))).into_response())
}

/// Extracts, parses and stores one uploaded blueprint.
fn store_blueprint(
    model: &crate::model::Model,
    id: &str,
    main: &str,
    body: &[u8],
) -> Result<Value, RestError> {
    if id.contains('/') || id.starts_with('.') {
        return Err(RestError::bad_parameters(format!(
            "invalid blueprint id '{id}'"
        )));
    }
    let tmp = model
        .resources
        .join("tmp")
        .join(uuid::Uuid::new_v4().to_string());
    std::fs::create_dir_all(&tmp).map_err(|e| RestError::internal(e.to_string()))?;
    let result = (|| {
        let format = super::archive::extract(body, &tmp)
            .map_err(|e| RestError::bad_parameters(e.to_string()))?;
        let root = super::archive::single_root(&tmp)
            .ok_or_else(|| RestError::bad_parameters("archive must contain exactly 1 directory"))?;
        let main_rel = super::archive::safe_path(main)
            .map_err(|e| RestError::bad_parameters(e.to_string()))?;
        if !root.join(&main_rel).is_file() {
            return Err(RestError::bad_parameters(format!(
                "{main} does not exist in the application directory"
            )));
        }
        let resolver = crate::dsl::Resolver {
            rules: Vec::new(),
            resources_base: Some(model.resources.clone()),
        };
        let plan = crate::dsl::parse(&root.join(&main_rel), &resolver).map_err(|e| {
            RestError::new(
                StatusCode::BAD_REQUEST,
                "invalid_blueprint_error",
                format!("Invalid blueprint - {}", e.message),
            )
        })?;
        let dest = model.resources.join("blueprints").join(id);
        let _ = std::fs::remove_dir_all(&dest);
        std::fs::rename(&root, &dest).map_err(|e| RestError::internal(e.to_string()))?;
        let archive_dir = model.resources.join("uploaded-blueprints").join(id);
        std::fs::create_dir_all(&archive_dir).map_err(|e| RestError::internal(e.to_string()))?;
        std::fs::write(
            archive_dir.join(format!("{id}.{}", format.extension())),
            body,
        )
        .map_err(|e| RestError::internal(e.to_string()))?;
        let now = time::now();
        let doc = json!({
            "id": id, "plan": plan, "created_at": now, "updated_at": now,
            "description": plan["description"], "main_file_name": main,
        });
        model.store.insert(BLUEPRINTS, id, doc.clone())?;
        Ok(doc)
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

pub async fn archive(
    State(s): State<RestState>,
    Path(id): Path<String>,
) -> Result<Response, RestError> {
    list::existing(&s.model.store, BLUEPRINTS, "blueprint", &id)?;
    let dir = s.model.resources.join("uploaded-blueprints").join(&id);
    let file = std::fs::read_dir(&dir)
        .ok()
        .and_then(|mut d| d.find_map(|e| e.ok().map(|e| e.path())))
        .ok_or_else(|| RestError::internal(format!("archive of blueprint {id} is missing")))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = tokio::fs::read(&file)
        .await
        .map_err(|e| RestError::internal(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename={name}"),
            ),
            (header::CACHE_CONTROL, "no-cache".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

pub async fn delete(
    State(s): State<RestState>,
    Extension(v): Extension<ApiVersion>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RestError> {
    list::existing(&s.model.store, BLUEPRINTS, "blueprint", &id)?;
    let deps = s.model.store.list(
        DEPLOYMENTS,
        &store::Query::default().filter("blueprint_id", id.clone()),
    )?;
    if deps.total > 0 {
        let ids: Vec<String> = deps.items.into_iter().map(|d| d.id).collect();
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            "dependent_exists_error",
            format!(
                "Can't delete blueprint {id} - There exist deployments for this blueprint; Deployments ids: {}",
                ids.join(",")
            ),
        ));
    }
    s.model.store.delete(BLUEPRINTS, &id, None)?;
    let _ = std::fs::remove_dir_all(s.model.resources.join("blueprints").join(&id));
    let _ = std::fs::remove_dir_all(s.model.resources.join("uploaded-blueprints").join(&id));
    let mut out = serde_json::Map::new();
    for f in fields(v) {
        out.insert((*f).to_owned(), Value::Null);
    }
    out.insert("id".into(), Value::String(id));
    Ok(Json(Value::Object(out)))
}
