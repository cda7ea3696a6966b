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
pub mod error;
mod executions;
pub mod list;
mod modifications;
mod nodes;
mod plugins;
mod provider;
mod snapshots;
pub mod status;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, OriginalUri};
use axum::http::Method;
use axum::routing::{get, post};
use axum::{Extension, Router};

use error::RestError;
use list::ApiVersion;
use status::Service;

use crate::model::Model;

/// Largest blueprint archive accepted (413 above it).
pub const MAX_UPLOAD: usize = 256 << 20;

/// What every handler can reach.
#[derive(Clone)]
pub struct RestState {
    pub services: Arc<Vec<Service>>,
    pub model: Arc<Model>,
    /// True on the internal port (8101), which agents use without auth.
    pub internal: bool,
}

/// The routes of every resource, relative to a version prefix.
fn resource_routes(version: ApiVersion) -> Router<RestState> {
    Router::new()
        .route("/status", get(status::status))
        .route("/version", get(status::version))
        .route("/blueprints", get(blueprints::list))
        .route(
            "/blueprints/{id}",
            get(blueprints::get)
                .put(blueprints::upload)
                .delete(blueprints::delete),
        )
        .route("/blueprints/{id}/archive", get(blueprints::archive))
        .route("/deployments", get(deployments::list))
        .route(
            "/deployments/{id}",
            get(deployments::get)
                .put(deployments::create)
                .delete(deployments::delete),
        )
        .route("/deployments/{id}/outputs", get(deployments::outputs))
        .route("/executions", get(executions::list).post(executions::start))
        .route(
            "/executions/{id}",
            get(executions::get)
                .post(executions::action)
                .patch(executions::update),
        )
        .route("/nodes", get(nodes::list_nodes))
        .route("/node-instances", get(nodes::list_instances))
        .route(
            "/node-instances/{id}",
            get(nodes::get_instance).patch(nodes::patch_instance),
        )
        .route(
            "/deployment-modifications",
            get(modifications::list).post(modifications::start),
        )
        .route("/deployment-modifications/{id}", get(modifications::get))
        .route(
            "/deployment-modifications/{id}/finish",
            post(modifications::finish),
        )
        .route(
            "/deployment-modifications/{id}/rollback",
            post(modifications::rollback),
        )
        .route("/plugins", get(plugins::list).post(plugins::upload))
        .route("/plugins/{id}", get(plugins::get).delete(plugins::delete))
        .route("/plugins/{id}/archive", get(plugins::archive))
        .route("/snapshots", get(snapshots::list))
        .route(
            "/snapshots/{id}",
            get(snapshots::get)
                .put(snapshots::create)
                .delete(snapshots::delete)
                .patch(snapshots::patch),
        )
        .route(
            "/snapshots/{id}/archive",
            get(snapshots::download).put(snapshots::upload),
        )
        .route("/snapshots/{id}/restore", post(snapshots::restore))
        .route("/evaluate/functions", post(deployments::evaluate))
        .route("/provider/context", get(provider::get).post(provider::post))
        .route("/tokens", get(provider::tokens))
        .layer(Extension(version))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD))
}

/// The whole REST application.
pub fn router(state: RestState) -> Router {
    Router::new()
        .nest("/api/v2", resource_routes(ApiVersion::V2))
        .nest("/api/v1", resource_routes(ApiVersion::V1))
        .merge(resource_routes(ApiVersion::V1))
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
