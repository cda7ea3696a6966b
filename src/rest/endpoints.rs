//! Every REST endpoint, once: the router and the OpenAPI description
//! (`/api/v2/swagger.json`) are both built from this table, so the
//! description cannot drift from what is served.

use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use serde_json::{Map, Value, json};

use super::{
    RestState, blueprints, deployments, events, executions, modifications, nodes, plugins,
    provider, snapshots, status,
};

/// What a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    None,
    Json,
    /// Raw bytes (archives).
    Binary,
}

pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    pub success: u16,
    pub body: Body,
    pub route: fn() -> MethodRouter<RestState>,
}

macro_rules! ep {
    ($m:ident $route:ident, $path:literal, $summary:literal, $status:literal, $body:ident, $handler:path) => {
        Endpoint {
            method: Method::$m,
            path: $path,
            summary: $summary,
            success: $status,
            body: Body::$body,
            route: || $route($handler),
        }
    };
}

pub static ENDPOINTS: &[Endpoint] = &[
    ep!(GET get, "/status", "Status of the manager's services", 200, None, status::status),
    ep!(GET get, "/version", "Manager version", 200, None, status::version),
    ep!(GET get, "/blueprints", "List blueprints", 200, None, blueprints::list),
    ep!(GET get, "/blueprints/{id}", "Get a blueprint", 200, None, blueprints::get),
    ep!(PUT put, "/blueprints/{id}", "Upload a blueprint archive", 201, Binary, blueprints::upload),
    ep!(DELETE delete, "/blueprints/{id}", "Delete a blueprint", 200, None, blueprints::delete),
    ep!(GET get, "/blueprints/{id}/archive", "Download a blueprint archive", 200, None, blueprints::archive),
    ep!(GET get, "/deployments", "List deployments", 200, None, deployments::list),
    ep!(GET get, "/deployments/{id}", "Get a deployment", 200, None, deployments::get),
    ep!(PUT put, "/deployments/{id}", "Create a deployment", 201, Json, deployments::create),
    ep!(DELETE delete, "/deployments/{id}", "Delete a deployment", 200, None, deployments::delete),
    ep!(GET get, "/deployments/{id}/outputs", "Evaluated deployment outputs", 200, None, deployments::outputs),
    ep!(GET get, "/executions", "List executions", 200, None, executions::list),
    ep!(POST post, "/executions", "Start an execution", 201, Json, executions::start),
    ep!(GET get, "/executions/{id}", "Get an execution", 200, None, executions::get),
    ep!(POST post, "/executions/{id}", "Cancel or force-cancel an execution", 200, Json, executions::action),
    ep!(PATCH patch, "/executions/{id}", "Update an execution's status", 200, Json, executions::update),
    ep!(GET get, "/nodes", "List nodes", 200, None, nodes::list_nodes),
    ep!(GET get, "/node-instances", "List node instances", 200, None, nodes::list_instances),
    ep!(GET get, "/node-instances/{id}", "Get a node instance", 200, None, nodes::get_instance),
    ep!(PATCH patch, "/node-instances/{id}", "Update a node instance (versioned)", 200, Json, nodes::patch_instance),
    ep!(GET get, "/deployment-modifications", "List deployment modifications", 200, None, modifications::list),
    ep!(POST post, "/deployment-modifications", "Start a deployment modification", 201, Json, modifications::start),
    ep!(GET get, "/deployment-modifications/{id}", "Get a deployment modification", 200, None, modifications::get),
    ep!(POST post, "/deployment-modifications/{id}/finish", "Finish a deployment modification", 200, None, modifications::finish),
    ep!(POST post, "/deployment-modifications/{id}/rollback", "Roll back a deployment modification", 200, None, modifications::rollback),
    ep!(GET get, "/plugins", "List plugins", 200, None, plugins::list),
    ep!(POST post, "/plugins", "Upload a plugin (Wagon)", 201, Binary, plugins::upload),
    ep!(GET get, "/plugins/{id}", "Get a plugin", 200, None, plugins::get),
    ep!(DELETE delete, "/plugins/{id}", "Delete a plugin", 200, None, plugins::delete),
    ep!(GET get, "/plugins/{id}/archive", "Download a plugin archive", 200, None, plugins::archive),
    ep!(GET get, "/snapshots", "List snapshots", 200, None, snapshots::list),
    ep!(GET get, "/snapshots/{id}", "Get a snapshot", 200, None, snapshots::get),
    ep!(PUT put, "/snapshots/{id}", "Create a snapshot", 201, Json, snapshots::create),
    ep!(DELETE delete, "/snapshots/{id}", "Delete a snapshot", 200, None, snapshots::delete),
    ep!(PATCH patch, "/snapshots/{id}", "Update a snapshot's status", 200, Json, snapshots::patch),
    ep!(GET get, "/snapshots/{id}/archive", "Download a snapshot archive", 200, None, snapshots::download),
    ep!(PUT put, "/snapshots/{id}/archive", "Upload a snapshot archive", 201, Binary, snapshots::upload),
    ep!(POST post, "/snapshots/{id}/restore", "Restore a snapshot", 200, Json, snapshots::restore),
    ep!(POST post, "/evaluate/functions", "Evaluate intrinsic functions", 200, Json, deployments::evaluate),
    ep!(GET get, "/provider/context", "Get the provider context", 200, None, provider::get),
    ep!(POST post, "/provider/context", "Set the provider context", 201, Json, provider::post),
    ep!(PATCH patch, "/provider/context", "Set the global parallel executions limit", 200, Json, provider::patch),
    ep!(GET get, "/tokens", "Get an authentication token", 200, None, provider::tokens),
    ep!(GET get, "/events", "Search events and logs (v2: query parameters; v1: an Elasticsearch body)", 200, None, events::list),
    ep!(POST post, "/events", "v1: search events with an Elasticsearch body (405 on v2)", 200, Json, events::post_v2),
    ep!(GET get, "/events/stream", "Live tail: new events matching the v2 filters, as server-sent events", 200, None, events::stream),
    ep!(POST post, "/search", "Search the model with an Elasticsearch body (the cloudify_storage view)", 200, Json, events::storage_search),
];

fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["message", "error_code", "server_traceback"],
        "properties": {
            "message": {"type": "string"},
            "error_code": {"type": "string"},
            "server_traceback": {"type": "string"},
        },
    })
}

/// The OpenAPI 3.0 description of everything under `prefix`.
pub fn openapi(prefix: &str) -> Value {
    let mut paths = Map::new();
    for e in ENDPOINTS {
        let mut op = Map::new();
        op.insert("summary".into(), json!(e.summary));
        op.insert(
            "operationId".into(),
            json!(format!(
                "{}{}",
                e.method.as_str().to_lowercase(),
                e.path.replace(['/', '{', '}', '-'], "_")
            )),
        );
        let params: Vec<Value> = e
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        op.insert("parameters".into(), Value::Array(params));
        match e.body {
            Body::None => {}
            Body::Json => {
                op.insert(
                    "requestBody".into(),
                    json!({"content": {"application/json": {"schema": {"type": "object"}}}}),
                );
            }
            Body::Binary => {
                op.insert("requestBody".into(), json!({"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}));
            }
        }
        op.insert(
            "responses".into(),
            json!({
                e.success.to_string(): {"description": "success"},
                "default": {"description": "Cloudify error", "content": {"application/json": {"schema": error_schema()}}},
            }),
        );
        let entry = paths
            .entry(format!("{prefix}{}", e.path))
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            m.insert(e.method.as_str().to_lowercase(), Value::Object(op));
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "cfyd REST API (Cloudify 3.3 compatible)", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_is_described_once() {
        let doc = openapi("/api/v2");
        let mut n = 0;
        for (_, methods) in doc["paths"].as_object().unwrap() {
            n += methods.as_object().unwrap().len();
        }
        assert_eq!(
            n,
            ENDPOINTS.len(),
            "no two endpoints share a method and path"
        );
        assert!(
            doc["paths"]["/api/v2/node-instances/{id}"]["patch"]["parameters"][0]["name"] == "id"
        );
    }
}
