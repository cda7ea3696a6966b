//! The embedded AMQP broker as the manager runs it: its settings from the
//! configuration, and the RabbitMQ-management-compatible admin API (15672).

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use broker::Broker;
use serde_json::{Value, json};

use crate::config::Config;

/// Broker settings derived from the manager's configuration.
pub fn broker_config(config: &Config) -> broker::Config {
    let b = &config.broker;
    broker::Config {
        users: vec![broker::User {
            name: b.user.clone(),
            password: b.password.clone(),
            vhosts: vec![],
            loopback_only: b.loopback_only,
        }],
        data_dir: Some(config.data_dir.join("broker")),
        fsync: b.fsync,
        heartbeat: b.heartbeat,
        max_connections: b.max_connections as usize,
        memory_high_watermark: b.memory_high_watermark_mb.saturating_mul(1 << 20),
        ..broker::Config::default()
    }
}

/// `/api/overview`, `/api/queues`, `/api/exchanges`, `/api/connections`.
pub fn admin_router(broker: Broker) -> Router {
    Router::new()
        .route("/api/overview", get(overview))
        .route("/api/queues", get(queues))
        .route("/api/queues/{vhost}", get(queues_in))
        .route("/api/queues/{vhost}/{name}", get(queue))
        .route("/api/exchanges", get(exchanges))
        .route("/api/connections", get(connections))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                Json(json!({"error": "Object Not Found", "reason": "Not Found"})),
            )
        })
        .with_state(broker)
}

/// RabbitMQ's management API requires HTTP basic auth with a broker user.
fn authorised(broker: &Broker, headers: &HeaderMap) -> bool {
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(decoded) = auth
        .strip_prefix("Basic ")
        .and_then(|e| base64_decode(e.trim()))
    else {
        return false;
    };
    let text = String::from_utf8_lossy(&decoded);
    let Some((user, pass)) = text.split_once(':') else {
        return false;
    };
    broker
        .config()
        .users
        .iter()
        .any(|u| u.name == user && u.password == pass)
}

fn denied() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [("www-authenticate", "Basic realm=\"cfyd broker\"")],
        Json(json!({"error": "not_authorised", "reason": "Login failed"})),
    )
        .into_response()
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes: Vec<u8> = s.bytes().filter(|b| *b != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c)? << (18 - 6 * i);
        }
        let produced = chunk.len().saturating_sub(1);
        for i in 0..produced {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

async fn overview(State(b): State<Broker>, headers: HeaderMap) -> Response {
    if !authorised(&b, &headers) {
        return denied();
    }
    let o = b.overview();
    Json(json!({
        "management_version": o.version,
        "rabbitmq_version": o.version,
        "product_name": "cfyd",
        "product_version": env!("CARGO_PKG_VERSION"),
        "object_totals": {
            "connections": o.connections, "channels": o.channels, "exchanges": o.exchanges,
            "queues": o.queues, "consumers": o.consumers,
        },
        "queue_totals": {
            "messages": o.messages_ready + o.messages_unacknowledged,
            "messages_ready": o.messages_ready,
            "messages_unacknowledged": o.messages_unacknowledged,
        },
        "message_stats": {
            "publish": o.published, "publish_details": {"rate": o.rates.publish},
            "deliver_get": o.delivered, "deliver_get_details": {"rate": o.rates.deliver},
            "ack": o.acked, "ack_details": {"rate": o.rates.ack},
            "return_unroutable": o.returned, "drop_unroutable": 0,
        },
        "memory_alarm": o.memory_alarm,
    }))
    .into_response()
}

fn queue_json(q: &broker::QueueInfo) -> Value {
    json!({
        "name": q.name, "vhost": q.vhost, "durable": q.durable, "auto_delete": q.auto_delete,
        "exclusive": q.exclusive, "arguments": {},
        "messages": q.messages_ready + q.messages_unacknowledged,
        "messages_ready": q.messages_ready, "messages_unacknowledged": q.messages_unacknowledged,
        "message_bytes_ready": q.message_bytes_ready, "consumers": q.consumers,
        "message_stats": {
            "publish": q.published, "publish_details": {"rate": q.rates.publish},
            "deliver_get": q.delivered, "deliver_get_details": {"rate": q.rates.deliver},
            "ack": q.acked, "ack_details": {"rate": q.rates.ack},
        },
        "state": "running", "type": "classic",
    })
}

async fn queues(State(b): State<Broker>, headers: HeaderMap) -> Response {
    if !authorised(&b, &headers) {
        return denied();
    }
    Json(b.queues().iter().map(queue_json).collect::<Vec<_>>()).into_response()
}

async fn queues_in(
    State(b): State<Broker>,
    headers: HeaderMap,
    Path(vhost): Path<String>,
) -> Response {
    if !authorised(&b, &headers) {
        return denied();
    }
    Json(
        b.queues()
            .iter()
            .filter(|q| q.vhost == vhost)
            .map(queue_json)
            .collect::<Vec<_>>(),
    )
    .into_response()
}

async fn queue(
    State(b): State<Broker>,
    headers: HeaderMap,
    Path((vhost, name)): Path<(String, String)>,
) -> Response {
    if !authorised(&b, &headers) {
        return denied();
    }
    match b
        .queues()
        .iter()
        .find(|q| q.vhost == vhost && q.name == name)
    {
        Some(q) => Json(queue_json(q)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "Object Not Found", "reason": "Not Found"})),
        )
            .into_response(),
    }
}

async fn exchanges(State(b): State<Broker>, headers: HeaderMap) -> Response {
    if !authorised(&b, &headers) {
        return denied();
    }
    let list: Vec<Value> = b
        .exchanges()
        .iter()
        .map(|e| json!({"name": e.name, "vhost": e.vhost, "type": e.kind, "durable": e.durable, "auto_delete": e.auto_delete, "internal": e.internal, "arguments": {}}))
        .collect();
    Json(list).into_response()
}

async fn connections(State(b): State<Broker>, headers: HeaderMap) -> Response {
    if !authorised(&b, &headers) {
        return denied();
    }
    let list: Vec<Value> = b
        .connections()
        .iter()
        .map(|c| json!({"name": c.name, "user": c.user, "vhost": c.vhost, "channels": c.channels, "connected_at": c.connected_at_ms, "state": "running", "protocol": "AMQP 0-9-1"}))
        .collect();
    Json(list).into_response()
}

#[cfg(test)]
mod tests {
    use super::base64_decode;

    #[test]
    fn decodes_basic_auth() {
        assert_eq!(base64_decode("Z3Vlc3Q6Z3Vlc3Q=").unwrap(), b"guest:guest");
        assert!(base64_decode("***").is_none());
    }
}
