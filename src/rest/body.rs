//! JSON request bodies as Flask-RESTful read them in 3.3: the content type
//! must be exactly `application/json`.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value};

use super::error::RestError;

pub fn json_object(headers: &HeaderMap, body: &Bytes) -> Result<Map<String, Value>, RestError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if ct != "application/json" {
        return Err(RestError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_type_error",
            "Content type must be application/json",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(RestError::bad_parameters(
            "Request body must be a JSON object",
        )),
        Err(e) => Err(RestError::bad_parameters(format!(
            "Failed to decode JSON object: {e}"
        ))),
    }
}
