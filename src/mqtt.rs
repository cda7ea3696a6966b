//! MQTT for edge devices: an embedded rumqttd broker (MQTT 3.1.1) whose
//! messages under `cloudify/` are bridged into the manager's exchanges:
//!
//! - `cloudify/metrics/<deployment>/<node instance>/<name>[/<path>…]` —
//!   payload a number, or JSON `{"metric"|"value": n, "unit", "type",
//!   "time"}` — becomes a Diamond message on `cloudify-monitoring` (routing
//!   key the deployment), so it lands in the metrics store (measurement
//!   `<name>_<path…>`) and reaches the policy engine like any agent's;
//! - `cloudify/events/<deployment>/…` and `cloudify/logs/<deployment>/…` —
//!   payload a Cloudify event or log JSON — go to the `cloudify-events` /
//!   `cloudify-logs` queues and so into the event index.
//!
//! The node name is the instance id without its `_xxxxx` suffix. Anything
//! else under `cloudify/` is dropped with a warning.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::bus::MessageBus;

/// The largest MQTT payload accepted.
pub const MAX_PAYLOAD: usize = 1 << 20;

/// What a message under `cloudify/` becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Bridged {
    /// A Diamond message for `cloudify-monitoring` with its routing key.
    Metric { routing_key: String, body: Value },
    /// A document for the `cloudify-events` or `cloudify-logs` queue.
    Document { queue: &'static str, body: Value },
}

fn node_name(instance: &str) -> &str {
    match instance.rsplit_once('_') {
        Some((name, suffix))
            if suffix.len() == 5 && suffix.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            name
        }
        _ => instance,
    }
}

/// Maps a topic and payload to what the manager consumes (sans-IO);
/// `Err` says why it is refused.
pub fn bridge(topic: &str, payload: &[u8], now_s: f64) -> Result<Bridged, String> {
    let parts: Vec<&str> = topic.split('/').collect();
    match parts.as_slice() {
        ["cloudify", "metrics", deployment, instance, name, path @ ..]
            if !deployment.is_empty() && !instance.is_empty() && !name.is_empty() =>
        {
            let text = std::str::from_utf8(payload).map_err(|_| "payload is not UTF-8")?;
            let (metric, extra) = match text.trim().parse::<f64>() {
                Ok(v) => (v, Value::Null),
                Err(_) => {
                    let v: Value = serde_json::from_str(text)
                        .map_err(|_| "payload is neither a number nor JSON".to_owned())?;
                    let m = v["metric"]
                        .as_f64()
                        .or_else(|| v["value"].as_f64())
                        .ok_or("JSON payload has no numeric metric or value")?;
                    (m, v)
                }
            };
            if !metric.is_finite() {
                return Err("metric is not a finite number".into());
            }
            let node = node_name(instance);
            let path_dots = path.join(".");
            let mut service = format!("{deployment}.{node}.{instance}.{name}");
            if !path.is_empty() {
                service.push('.');
                service.push_str(&path_dots);
            }
            let body = json!({
                "node_id": instance, "node_name": node, "deployment_id": deployment,
                "name": name, "path": path.join("_"), "metric": metric,
                "unit": extra["unit"].as_str().unwrap_or(""),
                "type": extra["type"].as_str().unwrap_or("GAUGE"),
                "host": instance, "service": service,
                "time": extra["time"].as_f64().unwrap_or(now_s),
            });
            Ok(Bridged::Metric {
                routing_key: (*deployment).to_owned(),
                body,
            })
        }
        ["cloudify", kind @ ("events" | "logs"), deployment, ..] if !deployment.is_empty() => {
            let body: Value =
                serde_json::from_slice(payload).map_err(|_| "payload is not JSON".to_owned())?;
            if !body.is_object() {
                return Err("payload is not a JSON object".into());
            }
            let queue = if *kind == "events" {
                "cloudify-events"
            } else {
                "cloudify-logs"
            };
            Ok(Bridged::Document { queue, body })
        }
        _ => Err(format!(
            "topic {topic} is not cloudify/metrics/<deployment>/<instance>/<name>[/…], cloudify/events/<deployment>/… or cloudify/logs/<deployment>/…"
        )),
    }
}

/// Starts the broker on `addr` (its own threads, as rumqttd runs) and the
/// bridge; `auth` is `(user, password)` when clients must authenticate.
pub fn start(
    addr: SocketAddr,
    auth: Option<(String, String)>,
    bus: Arc<dyn MessageBus>,
    runtime: tokio::runtime::Handle,
) -> Result<(), String> {
    let auth_map = auth.map(|(u, p)| json!({ u: p }));
    let server = json!({
        "name": "cfyd-mqtt", "listen": addr.to_string(), "next_connection_delay_ms": 1,
        "connections": {
            "connection_timeout_ms": 60000, "max_payload_size": MAX_PAYLOAD,
            "max_inflight_count": 100, "auth": auth_map,
        },
    });
    let config = json!({
        "id": 0,
        "router": {
            "max_connections": 10010, "max_outgoing_packet_count": 200,
            "max_segment_size": 104_857_600, "max_segment_count": 10,
        },
        "v4": { "1": server },
    });
    let config: rumqttd::Config =
        serde_json::from_value(config).map_err(|e| format!("mqtt config: {e}"))?;
    let mut broker = rumqttd::Broker::new(config);
    let (mut link_tx, mut link_rx) = broker
        .link("cfyd-bridge")
        .map_err(|e| format!("mqtt bridge link: {e}"))?;
    link_tx
        .subscribe("cloudify/#")
        .map_err(|e| format!("mqtt bridge subscribe: {e}"))?;
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "the MQTT broker stopped");
            }
        })
        .map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name("mqtt-bridge".into())
        .spawn(move || {
            // Keeps the link's sender alive for as long as the bridge runs.
            let _tx = link_tx;
            loop {
                let notification = match link_rx.recv() {
                    Ok(Some(n)) => n,
                    Ok(None) => continue,
                    Err(e) => {
                        tracing::error!(error = %e, "the MQTT bridge lost its link");
                        return;
                    }
                };
                let rumqttd::Notification::Forward(f) = notification else {
                    continue;
                };
                let topic = String::from_utf8_lossy(&f.publish.topic).into_owned();
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                let sent = match bridge(&topic, &f.publish.payload, now) {
                    Ok(Bridged::Metric { routing_key, body }) => runtime.block_on(bus.publish(
                        "cloudify-monitoring",
                        &routing_key,
                        Bytes::from(body.to_string()),
                        false,
                    )),
                    Ok(Bridged::Document { queue, body }) => runtime.block_on(bus.publish(
                        "",
                        queue,
                        Bytes::from(body.to_string()),
                        true,
                    )),
                    Err(why) => {
                        tracing::warn!(topic, why, "dropping an MQTT message");
                        continue;
                    }
                };
                if let Err(e) = sent {
                    tracing::error!(topic, error = %e, "cannot bridge an MQTT message");
                }
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn topics_map_to_the_manager_s_messages() {
        let Bridged::Metric { routing_key, body } =
            bridge("cloudify/metrics/d1/vm_1a2b3/cpu/total/user", b"12.5", 7.0).unwrap()
        else {
            panic!("not a metric")
        };
        assert_eq!(routing_key, "d1");
        assert_eq!(body["node_name"], "vm");
        assert_eq!(body["service"], "d1.vm.vm_1a2b3.cpu.total.user");
        assert_eq!(body["path"], "total_user");
        assert_eq!(
            (body["metric"].as_f64(), body["time"].as_f64()),
            (Some(12.5), Some(7.0))
        );
        let Bridged::Metric { body, .. } = bridge(
            "cloudify/metrics/d1/sensor/temp",
            br#"{"value": 21, "unit": "C", "time": 100}"#,
            7.0,
        )
        .unwrap() else {
            panic!("not a metric")
        };
        assert_eq!(
            (body["node_name"].as_str(), body["unit"].as_str()),
            (Some("sensor"), Some("C"))
        );
        assert!(matches!(
            bridge("cloudify/events/d1/x", br#"{"event_type": "e"}"#, 0.0).unwrap(),
            Bridged::Document {
                queue: "cloudify-events",
                ..
            }
        ));
        for (topic, payload) in [
            ("cloudify/metrics/d1/vm", &b"1"[..]),
            ("cloudify/metrics/d1/vm/cpu", b"abc"),
            ("cloudify/metrics/d1/vm/cpu", b"NaN"),
            ("cloudify/logs/d1", b"[1]"),
            ("other/x", b"1"),
        ] {
            assert!(bridge(topic, payload, 0.0).is_err(), "{topic}");
        }
    }
}
