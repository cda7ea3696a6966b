//! The metrics pipeline (3.3's amqp-influxdb): Diamond metrics published
//! to the `cloudify-monitoring` topic exchange go into the time-series
//! store (embedded, or an external InfluxDB 1.x with `metrics.url`) — database `cloudify`, measurement `<name>_<path>`, tags
//! `deployment_id`, `node_name`, `node_id`, `host`, field `value` — and
//! onto an in-process stream for the policy engine. Messages are
//! acknowledged after the write that holds them is durable.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{broadcast, watch};

use crate::bus::{BusMessage, MessageBus};
use tsdb::line::{FieldValue, Point, Precision};

/// The database metrics land in (3.3's InfluxDB database).
pub const DATABASE: &str = "cloudify";
/// The queue this pipeline binds to `cloudify-monitoring`.
pub const QUEUE: &str = "cfyd-metrics";
const PREFETCH: u16 = 20_000;
const BATCH: usize = 5_000;
const BATCH_WAIT: Duration = Duration::from_millis(100);

/// One metric as the policy engine sees it (Diamond's fields).
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub deployment_id: String,
    pub node_name: String,
    pub node_id: String,
    pub host: String,
    /// `<deployment>.<node>.<instance>.<name>.<path>`, what policies match.
    pub service: String,
    pub name: String,
    pub path: String,
    pub value: f64,
    /// Nanoseconds since the epoch.
    pub time: i64,
}

impl Metric {
    /// Reads a Diamond message (cloudify-api.md §5.4); `None` when it is not
    /// one. `now` (ns) stands in for a missing `time`.
    pub fn from_diamond(body: &[u8], now: i64) -> Option<Metric> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let text = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        let value = match &v["metric"] {
            Value::Number(n) => n.as_f64()?,
            Value::String(s) => s.trim().parse().ok()?,
            _ => return None,
        };
        if !value.is_finite() {
            return None;
        }
        let time = match &v["time"] {
            Value::Number(n) => {
                let secs = n.as_f64()?;
                let ns = secs * 1e9;
                (ns.is_finite() && ns.abs() < 9.2e18).then_some(ns as i64)?
            }
            _ => now,
        };
        let (name, path) = (text("name"), text("path"));
        if name.is_empty() {
            return None;
        }
        Some(Metric {
            deployment_id: text("deployment_id"),
            node_name: text("node_name"),
            node_id: text("node_id"),
            host: text("host"),
            service: text("service"),
            name,
            path,
            value,
            time,
        })
    }

    /// The measurement 3.3's series name ended with: `<name>_<path>`.
    pub fn measurement(&self) -> String {
        if self.path.is_empty() {
            self.name.clone()
        } else {
            format!("{}_{}", self.name, self.path.replace('.', "_"))
        }
    }

    pub fn point(&self) -> Point {
        let mut tags: Vec<(String, String)> = [
            ("deployment_id", &self.deployment_id),
            ("host", &self.host),
            ("node_id", &self.node_id),
            ("node_name", &self.node_name),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_owned(), v.clone()))
        .collect();
        tags.sort();
        Point {
            measurement: self.measurement(),
            tags,
            fields: vec![("value".into(), FieldValue::Float(self.value))],
            timestamp: Some(self.time),
        }
    }
}

fn now_ns() -> i64 {
    crate::influx_api::now_ns()
}

/// Where metrics are written: the embedded store, or an external InfluxDB
/// 1.x over its HTTP API (`metrics.url`).
#[derive(Clone)]
pub enum Sink {
    Embedded(Arc<tsdb::Tsdb>),
    External { url: String, http: reqwest::Client },
}

impl Sink {
    pub fn external(url: &str) -> Sink {
        Sink::External {
            url: url.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// Creates the metrics database (no error when it exists).
    pub async fn prepare(&self) -> Result<(), String> {
        match self {
            Sink::Embedded(store) => store
                .create_database(DATABASE, None)
                .map_err(|e| e.to_string()),
            Sink::External { url, http } => {
                let r = http
                    .post(format!("{url}/query"))
                    .form(&[("q", format!("CREATE DATABASE {DATABASE}"))])
                    .send()
                    .await
                    .map_err(|e| format!("cannot reach InfluxDB at {url}: {e}"))?;
                if r.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("InfluxDB at {url} answered {}", r.status()))
                }
            }
        }
    }

    /// Writes points (nanosecond timestamps) durably.
    pub async fn write(&self, points: Vec<Point>, now: i64) -> Result<(), String> {
        match self {
            Sink::Embedded(store) => {
                let store = store.clone();
                tokio::task::spawn_blocking(move || {
                    store
                        .write(DATABASE, None, points, Precision::Nanoseconds, now)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
            }
            Sink::External { url, http } => {
                let mut body = String::new();
                for p in &points {
                    body.push_str(&tsdb::line::format_point(p));
                    body.push('\n');
                }
                let r = http
                    .post(format!("{url}/write?db={DATABASE}&precision=ns"))
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| format!("cannot reach InfluxDB at {url}: {e}"))?;
                if r.status().as_u16() == 204 {
                    Ok(())
                } else {
                    let code = r.status();
                    Err(format!(
                        "InfluxDB at {url} answered {code}: {}",
                        r.text().await.unwrap_or_default()
                    ))
                }
            }
        }
    }
}

/// Runs until `stop`: consume, write in batches, acknowledge, publish to
/// `policies`.
pub async fn run(
    bus: Arc<dyn MessageBus>,
    sink: Sink,
    policies: broadcast::Sender<Metric>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        match sink.prepare().await {
            Ok(()) => break,
            Err(e) => tracing::error!(error = %e, "cannot create the metrics database; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
    loop {
        let consumer = async {
            bus.declare_queue(QUEUE, false, false).await?;
            bus.bind(QUEUE, "cloudify-monitoring", "#").await?;
            bus.consume(QUEUE, PREFETCH).await
        }
        .await;
        match consumer {
            Ok(rx) => {
                if consume(&*bus, &sink, &policies, rx, &mut stop).await {
                    return;
                }
                tracing::error!("the metrics queue went away; consuming again");
            }
            Err(e) => tracing::error!(error = %e, "metrics pipeline cannot consume; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

async fn consume(
    bus: &dyn MessageBus,
    sink: &Sink,
    policies: &broadcast::Sender<Metric>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<BusMessage>,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    loop {
        let first = tokio::select! {
            m = rx.recv() => match m { Some(m) => m, None => return false },
            _ = stop.wait_for(|s| *s) => return true,
        };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + BATCH_WAIT;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(m)) => batch.push(m),
                Ok(None) | Err(_) => break,
            }
        }
        let now = now_ns();
        let metrics: Vec<Metric> = batch
            .iter()
            .filter_map(|m| Metric::from_diamond(&m.body, now))
            .collect();
        if metrics.len() < batch.len() {
            tracing::warn!(
                dropped = batch.len() - metrics.len(),
                "messages on cloudify-monitoring that are not Diamond metrics"
            );
        }
        let points: Vec<Point> = metrics.iter().map(Metric::point).collect();
        let written = if points.is_empty() {
            Ok(())
        } else {
            sink.write(points, now).await
        };
        if let Err(e) = written {
            // Not acknowledged: redelivered when the consumer comes back.
            tracing::error!(error = %e, "cannot store metrics");
            return false;
        }
        for m in &batch {
            let _ = bus.ack(m.delivery_tag).await;
        }
        for m in metrics {
            // No receiver (no policy engine yet) is fine.
            let _ = policies.send(m);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn diamond_messages_become_points() {
        let body = br#"{"node_id": "vm_1a2b3", "node_name": "vm", "deployment_id": "d1", "name": "cpu", "path": "total_user", "metric": 12.5, "unit": "", "type": "GAUGE", "host": "vm_1a2b3", "service": "d1.vm.vm_1a2b3.cpu.total.user", "time": 1451606400}"#;
        let m = Metric::from_diamond(body, 0).unwrap();
        assert_eq!(m.time, 1_451_606_400_000_000_000);
        let p = m.point();
        assert_eq!(p.measurement, "cpu_total_user");
        assert_eq!(p.tags[0], ("deployment_id".into(), "d1".into()));
        assert_eq!(p.fields[0].1, FieldValue::Float(12.5));
        assert!(Metric::from_diamond(b"{\"name\": \"x\"}", 0).is_none());
        assert!(Metric::from_diamond(b"nope", 0).is_none());
        let no_time = Metric::from_diamond(br#"{"name": "m", "metric": "3"}"#, 7).unwrap();
        assert_eq!((no_time.time, no_time.value), (7, 3.0));
    }
}
