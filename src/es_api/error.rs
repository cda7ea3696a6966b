//! Elasticsearch's error JSON.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone)]
pub struct EsErr {
    pub status: StatusCode,
    pub kind: String,
    pub reason: String,
}

impl EsErr {
    pub fn new(status: StatusCode, kind: &str, reason: impl Into<String>) -> EsErr {
        EsErr {
            status,
            kind: kind.to_owned(),
            reason: reason.into(),
        }
    }

    pub fn bad_request(kind: &str, reason: impl Into<String>) -> EsErr {
        EsErr::new(StatusCode::BAD_REQUEST, kind, reason)
    }

    pub fn no_index(index: &str) -> EsErr {
        EsErr::new(
            StatusCode::NOT_FOUND,
            "index_not_found_exception",
            format!("no such index [{index}]"),
        )
    }

    /// A write to the read-only `cloudify_storage` view.
    pub fn read_only(index: &str) -> EsErr {
        EsErr::new(
            StatusCode::FORBIDDEN,
            "cluster_block_exception",
            format!(
                "index [{index}] blocked by: [FORBIDDEN/8/index write (api)]; cloudify_storage is a read-only view of the model, change it through the REST API"
            ),
        )
    }

    pub fn internal(reason: impl Into<String>) -> EsErr {
        EsErr::new(StatusCode::INTERNAL_SERVER_ERROR, "exception", reason)
    }

    /// The error as one item of a `_bulk` or `_mget` answer.
    pub fn item(&self) -> serde_json::Value {
        json!({"type": self.kind, "reason": self.reason})
    }
}

impl From<search::es::EsError> for EsErr {
    fn from(e: search::es::EsError) -> EsErr {
        EsErr::bad_request(e.kind, e.reason)
    }
}

impl From<search::Error> for EsErr {
    fn from(e: search::Error) -> EsErr {
        match e {
            search::Error::Query(reason) => {
                EsErr::bad_request("search_phase_execution_exception", reason)
            }
            other => EsErr::internal(other.to_string()),
        }
    }
}

impl IntoResponse for EsErr {
    fn into_response(self) -> Response {
        let body = json!({
            "error": {"root_cause": [{"type": self.kind, "reason": self.reason}], "type": self.kind, "reason": self.reason},
            "status": self.status.as_u16(),
        });
        (self.status, Json(body)).into_response()
    }
}
