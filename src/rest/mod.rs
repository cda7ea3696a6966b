//! The Cloudify REST service (8100, and 8101 for agents), `/api/v2`, `/api/v1`
//! and the un-prefixed 3.2 root paths.
//!
//! To add an endpoint: write the handler in the module of its resource and
//! add its route to [`resource_routes`]; it is then served under all three
//! prefixes.

pub mod archive;
mod blueprints;
mod body;
mod deployments;
pub mod endpoints;
pub mod error;
mod events;
mod executions;
pub mod list;
mod modifications;
mod nodes;
mod plugins;
pub(crate) mod provider;
mod snapshots;
pub mod status;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, OriginalUri};
use axum::http::Method;
use axum::routing::get;
use axum::{Extension, Router};

use error::RestError;
use list::ApiVersion;
use status::Service;

use crate::model::Model;

/// Ids users choose (blueprints, deployments, snapshots) end up in paths,
/// queue names and headers: printable, no `/`, not starting with `.`.
pub fn check_id(kind: &str, id: &str) -> Result<(), RestError> {
    let ok = !id.is_empty()
        && id.len() <= 255
        && !id.starts_with('.')
        && !id.chars().any(|c| c == '/' || c == '\\' || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(RestError::bad_parameters(format!(
            "invalid {kind} id {id:?}: ids are 1-255 printable characters without '/' and may not start with '.'"
        )))
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct RestState {
    pub services: Arc<Vec<Service>>,
    pub model: Arc<Model>,
    /// The event indices and storage view (`/events`, `/search`); `None`
    /// only in tests of other parts.
    pub es: Option<crate::es_api::EsState>,
    /// Runs executions.
    pub workflows: Arc<crate::workflows::Engine>,
    /// Largest request body accepted (413 above it).
    pub max_upload: usize,
    /// True on the internal port (8101), which agents use without auth.
    pub internal: bool,
}

/// The routes of every resource, relative to a version prefix.
fn resource_routes(version: ApiVersion, max_upload: usize) -> Router<RestState> {
    let mut router = Router::new();
    for e in endpoints::ENDPOINTS {
        router = router.route(e.path, (e.route)());
    }
    router
        .route("/swagger.json", get(swagger))
        .layer(Extension(version))
        .layer(DefaultBodyLimit::max(max_upload))
}

async fn swagger(Extension(v): Extension<ApiVersion>) -> axum::Json<serde_json::Value> {
    let prefix = if v == ApiVersion::V2 {
        "/api/v2"
    } else {
        "/api/v1"
    };
    axum::Json(endpoints::openapi(prefix))
}

/// The whole REST application.
pub fn router(state: RestState) -> Router {
    let max = state.max_upload;
    Router::new()
        .nest("/api/v2", resource_routes(ApiVersion::V2, max))
        .nest("/api/v1", resource_routes(ApiVersion::V1, max))
        .merge(resource_routes(ApiVersion::V1, max))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response(cloudify_errors))
        .with_state(state)
}

/// Errors raised by the HTTP layer itself (body too large, undecodable
/// path parameters) get Cloudify's error shape too.
async fn cloudify_errors(resp: axum::response::Response) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_parameters_error",
        StatusCode::NOT_FOUND => "not_found_error",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed_error",
        StatusCode::PAYLOAD_TOO_LARGE => "request_entity_too_large_error",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_content_type_error",
        s if s.is_server_error() => "internal_server_error",
        _ => "bad_parameters_error",
    };
    let body = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_owned();
    let message = if text.is_empty() {
        status.to_string()
    } else {
        text
    };
    RestError::new(status, code, message).into_response()
}

async fn not_found(method: Method, OriginalUri(uri): OriginalUri) -> RestError {
    RestError::not_found(format!(
        "Requested URL {} was not found on the server ({method})",
        uri.path()
    ))
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> RestError {
    RestError::method_not_allowed(format!(
        "The method {method} is not allowed for the requested URL {}",
        uri.path()
    ))
}
