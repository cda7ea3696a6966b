//! The Cloudify REST service (8100, and 8101 for agents), `/api/v2`, `/api/v1`
//! and the un-prefixed 3.2 root paths.
//!
//! To add an endpoint: write the handler in the module of its resource and
//! add its route to [`resource_routes`]; it is then served under all three
//! prefixes.

pub mod error;
pub mod status;

use std::sync::Arc;

use axum::Router;
use axum::extract::OriginalUri;
use axum::http::Method;
use axum::routing::get;

use error::RestError;
use status::Service;

/// What every handler can reach.
#[derive(Clone)]
pub struct RestState {
    pub services: Arc<Vec<Service>>,
    /// True on the internal port (8101), which agents use without auth.
    pub internal: bool,
}

/// The routes of every resource, relative to a version prefix.
fn resource_routes() -> Router<RestState> {
    Router::new()
        .route("/status", get(status::status))
        .route("/version", get(status::version))
}

/// The whole REST application.
pub fn router(state: RestState) -> Router {
    Router::new()
        .nest("/api/v2", resource_routes())
        .nest("/api/v1", resource_routes())
        .merge(resource_routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
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
