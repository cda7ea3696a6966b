//! Workflow events in Cloudify 3.3's shape, published to the
//! `cloudify-events` queue (default exchange) as agents publish them, so
//! they reach the event index like any other event.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::bus::MessageBus;

/// What a workflow-level event says about its execution.
#[derive(Debug, Clone)]
pub struct WorkflowContext {
    pub execution_id: String,
    pub workflow_id: String,
    pub deployment_id: String,
    pub blueprint_id: String,
    /// The execution's parameters (declared defaults merged in).
    pub parameters: serde_json::Map<String, Value>,
}

/// `YYYY-MM-DD HH:MM:SS.mmm+0000`, as 3.3's events carry.
fn timestamp() -> String {
    let iso = search::format_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
    );
    // `2015-12-07T14:03:15.004Z` → `2015-12-07 14:03:15.004+0000`
    format!("{}+0000", iso.trim_end_matches('Z').replacen('T', " ", 1))
}

/// A workflow-level event document.
pub fn workflow_event(
    ctx: &WorkflowContext,
    event_type: &str,
    text: &str,
    arguments: Value,
) -> Value {
    json!({
        "type": "cloudify_event",
        "event_type": event_type,
        "timestamp": timestamp(),
        "message": {"text": text, "arguments": arguments},
        "message_code": null,
        "context": {
            "execution_id": ctx.execution_id,
            "workflow_id": ctx.workflow_id,
            "deployment_id": ctx.deployment_id,
            "blueprint_id": ctx.blueprint_id,
        },
    })
}

/// A workflow's own log record (`ctx.logger` in a 3.3 workflow).
pub async fn workflow_log(bus: &dyn MessageBus, ctx: &WorkflowContext, level: &str, text: &str) {
    let mut log = workflow_event(ctx, "", text, Value::Null);
    if let Some(o) = log.as_object_mut() {
        o.remove("event_type");
        o.insert("type".into(), json!("cloudify_log"));
        o.insert("level".into(), json!(level));
        o.insert("logger".into(), json!(ctx.execution_id));
    }
    log["message"] = json!({"text": text});
    publish(bus, &log).await;
}

/// Publishes an event to `cloudify-events`, a log record (`type:
/// cloudify_log`) to `cloudify-logs`, on the default exchange as 3.3's
/// agents did; a broker failure is logged, never fails the workflow.
pub async fn publish(bus: &dyn MessageBus, event: &Value) {
    let queue = if event["type"] == "cloudify_log" {
        "cloudify-logs"
    } else {
        "cloudify-events"
    };
    let body = Bytes::from(event.to_string());
    if let Err(e) = bus.publish("", queue, body, false).await {
        tracing::warn!(error = %e, queue, "cannot publish a workflow event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_timestamp() {
        let ctx = WorkflowContext {
            execution_id: "e".into(),
            workflow_id: "install".into(),
            deployment_id: "d".into(),
            blueprint_id: "b".into(),
            parameters: Default::default(),
        };
        let ev = workflow_event(
            &ctx,
            "workflow_started",
            "Starting 'install' workflow execution",
            Value::Null,
        );
        assert_eq!(ev["context"]["execution_id"], "e");
        let ts = ev["timestamp"].as_str().unwrap_or_default();
        assert!(ts.ends_with("+0000") && ts.as_bytes()[10] == b' ', "{ts}");
        assert!(search::parse_millis(ts).is_some());
    }
}
