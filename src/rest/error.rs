//! Cloudify's error envelope: `{message, error_code, server_traceback}`.
//!
//! The Python client indexes all three keys and picks its exception type by
//! `error_code`, so every error the REST service returns goes through here.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A REST error with the HTTP status and Cloudify `error_code` it maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    message: &'a str,
    error_code: &'a str,
    server_traceback: &'a str,
}

impl RestError {
    pub fn not_found(message: impl Into<String>) -> Self {
        RestError {
            status: StatusCode::NOT_FOUND,
            code: "not_found_error",
            message: message.into(),
        }
    }

    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        RestError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_parameters(message: impl Into<String>) -> Self {
        RestError::new(StatusCode::BAD_REQUEST, "bad_parameters_error", message)
    }

    /// An archive URL cfyd cannot fetch (it runs offline).
    pub fn url_not_found(param: &str) -> Self {
        RestError::new(
            StatusCode::BAD_REQUEST,
            "param_url_not_found_error",
            format!(
                "{param} cannot be fetched: cfyd runs offline and does not support archive URLs yet; upload the archive in the request body"
            ),
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        RestError::new(StatusCode::CONFLICT, "conflict_error", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        RestError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            format!(
                "Internal error occurred in manager REST server - {}",
                message.into()
            ),
        )
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        RestError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "method_not_allowed_error",
            message: message.into(),
        }
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let body = Body {
            message: &self.message,
            error_code: self.code,
            server_traceback: "",
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<store::Error> for RestError {
    fn from(e: store::Error) -> Self {
        let doc_type = |c: &str| c.trim_end_matches('s').to_owned();
        match e {
            store::Error::NotFound { collection, id } => {
                RestError::not_found(format!("{} {id} not found", doc_type(&collection)))
            }
            store::Error::AlreadyExists { collection, id } => RestError::conflict(format!(
                "{} with ID '{id}' already exists",
                doc_type(&collection)
            )),
            store::Error::Conflict {
                current, expected, ..
            } => RestError::conflict(format!(
                "Node instance update conflict [current_version={current}, updated_version={expected}]"
            )),
            store::Error::BadId(id) => RestError::bad_parameters(format!("invalid id {id:?}")),
            other => RestError::internal(other.to_string()),
        }
    }
}
