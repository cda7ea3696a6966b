//! Celery 3.1 protocol-v1 messages as Cloudify 3.3 used them (cloudify-api.md
//! §5.1–5.2), sans-IO: the task message the manager sends to an agent's
//! queue, and the result the agent stores in the AMQP result backend
//! (`celeryresults` exchange, one queue per task named by the task id
//! without dashes). Bodies are JSON; a pickled body (what a stock Python
//! 3.3 workflow engine sends) is refused with a clear error.

use serde_json::{Map, Value, json};

/// The direct exchange results are published to.
pub const RESULTS_EXCHANGE: &str = "celeryresults";
/// How long an unread result queue lives (Celery's 600 s result expiry).
pub const RESULT_EXPIRES_MS: u32 = 600_000;
/// The largest task or result body accepted.
pub const MAX_BODY: usize = 16 << 20;
/// The task name of cfyd's own "stop this agent" request.
pub const STOP_TASK: &str = "cfyd.agent.stop";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CeleryError {
    #[error("message body of {0} bytes is above the {MAX_BODY}-byte limit")]
    TooLarge(usize),
    #[error(
        "the task message is not JSON (content type {0}); cfyd agents take JSON task messages, not pickle"
    )]
    NotJson(String),
    #[error("malformed task message: {0}")]
    Malformed(String),
}

/// A task as an agent receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: String,
    pub name: String,
    /// Operation inputs, without `__cloudify_context`.
    pub kwargs: Map<String, Value>,
    /// The `__cloudify_context` (cloudify-api.md §4.2); empty for system tasks.
    pub context: Map<String, Value>,
}

/// The task message body (Celery protocol v1).
pub fn task_body(task: &Task) -> Vec<u8> {
    let mut kwargs = task.kwargs.clone();
    kwargs.insert(
        "__cloudify_context".into(),
        Value::Object(task.context.clone()),
    );
    json!({
        "id": task.id, "task": task.name, "args": [], "kwargs": kwargs,
        "retries": 0, "eta": null, "expires": null, "utc": true,
        "callbacks": null, "errbacks": null, "timelimit": [null, null],
        "taskset": null, "chord": null,
    })
    .to_string()
    .into_bytes()
}

/// Parses a task message; `content_type` is the AMQP property (absent
/// means JSON, as some publishers leave it out).
pub fn parse_task(content_type: Option<&str>, body: &[u8]) -> Result<Task, CeleryError> {
    if body.len() > MAX_BODY {
        return Err(CeleryError::TooLarge(body.len()));
    }
    if let Some(ct) = content_type.filter(|c| !c.is_empty() && *c != "application/json") {
        return Err(CeleryError::NotJson(ct.to_owned()));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| CeleryError::Malformed(format!("not JSON: {e}")))?;
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| CeleryError::Malformed(format!("no '{k}' string")))
    };
    let id = text("id")?;
    let name = text("task")?;
    let mut kwargs = match v.get("kwargs") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(CeleryError::Malformed("'kwargs' is not an object".into())),
    };
    let context = match kwargs.remove("__cloudify_context") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(CeleryError::Malformed(
                "'__cloudify_context' is not an object".into(),
            ));
        }
    };
    Ok(Task {
        id,
        name,
        kwargs,
        context,
    })
}

/// The result queue (and routing key) of a task: its id without dashes.
pub fn result_queue(task_id: &str) -> String {
    task_id.replace('-', "")
}

/// How a task ended, as the result backend carries it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Success(Value),
    /// `exc_type` is Cloudify's exception class name: `NonRecoverableError`,
    /// `RecoverableError`, `OperationRetry`, or any other (recoverable).
    Failure {
        exc_type: String,
        message: String,
        retry_after: Option<u64>,
        traceback: String,
    },
}

/// The result body Celery's JSON result serializer writes.
pub fn result_body(task_id: &str, outcome: &Outcome) -> Vec<u8> {
    let v = match outcome {
        Outcome::Success(r) => json!({
            "task_id": task_id, "status": "SUCCESS", "result": r,
            "traceback": null, "children": [],
        }),
        Outcome::Failure {
            exc_type,
            message,
            retry_after,
            traceback,
        } => json!({
            "task_id": task_id, "status": "FAILURE",
            "result": {"exc_type": exc_type, "exc_message": message, "retry_after": retry_after},
            "traceback": traceback, "children": [],
        }),
    };
    v.to_string().into_bytes()
}

/// Parses a result body.
pub fn parse_result(body: &[u8]) -> Result<(String, Outcome), CeleryError> {
    if body.len() > MAX_BODY {
        return Err(CeleryError::TooLarge(body.len()));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| CeleryError::Malformed(format!("result is not JSON: {e}")))?;
    let id = v["task_id"]
        .as_str()
        .ok_or_else(|| CeleryError::Malformed("result without task_id".into()))?
        .to_owned();
    let outcome = match v["status"].as_str() {
        Some("SUCCESS") => Outcome::Success(v["result"].clone()),
        Some("FAILURE") => {
            let r = &v["result"];
            let message = match &r["exc_message"] {
                Value::String(s) => s.clone(),
                // Celery may carry the exception's args as a list.
                Value::Array(a) => a
                    .iter()
                    .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(", "),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            Outcome::Failure {
                exc_type: r["exc_type"].as_str().unwrap_or("Exception").to_owned(),
                message,
                retry_after: r["retry_after"].as_u64(),
                traceback: v["traceback"].as_str().unwrap_or_default().to_owned(),
            }
        }
        other => {
            return Err(CeleryError::Malformed(format!(
                "result status {other:?} is not SUCCESS or FAILURE"
            )));
        }
    };
    Ok((id, outcome))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn task() -> Task {
        let mut kwargs = Map::new();
        kwargs.insert("script_path".into(), json!("scripts/x.sh"));
        let mut context = Map::new();
        context.insert("__cloudify_context".into(), json!("0.3"));
        context.insert("node_id".into(), json!("vm_1a2b3"));
        Task {
            id: "2c6b9a4e-1d1f-4a57-9f40-1f4fd8d37a51".into(),
            name: "script_runner.tasks.run".into(),
            kwargs,
            context,
        }
    }

    #[test]
    fn task_messages_round_trip_in_celery_v1_shape() {
        let t = task();
        let body = task_body(&t);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["task"], "script_runner.tasks.run");
        assert_eq!(v["args"], json!([]));
        assert_eq!(v["timelimit"], json!([null, null]));
        assert_eq!(v["kwargs"]["__cloudify_context"]["node_id"], "vm_1a2b3");
        assert_eq!(parse_task(Some("application/json"), &body).unwrap(), t);
        assert_eq!(result_queue(&t.id), "2c6b9a4e1d1f4a579f401f4fd8d37a51");
    }

    #[test]
    fn bad_messages_get_clear_errors() {
        assert!(matches!(
            parse_task(Some("application/x-python-serialize"), b"\x80\x02}q"),
            Err(CeleryError::NotJson(_))
        ));
        for bad in [
            &b"{"[..],
            b"[]",
            b"{\"id\": \"x\"}",
            b"{\"id\": \"x\", \"task\": \"t\", \"kwargs\": 3}",
            b"{\"id\": \"x\", \"task\": \"t\", \"kwargs\": {\"__cloudify_context\": 1}}",
        ] {
            assert!(matches!(
                parse_task(None, bad),
                Err(CeleryError::Malformed(_))
            ));
        }
        assert!(parse_result(b"{\"task_id\": \"x\", \"status\": \"PENDING\"}").is_err());
    }

    #[test]
    fn failures_keep_their_kind_and_retry_after() {
        let f = Outcome::Failure {
            exc_type: "OperationRetry".into(),
            message: "later".into(),
            retry_after: Some(5),
            traceback: "tb".into(),
        };
        assert_eq!(
            parse_result(&result_body("t", &f)).unwrap(),
            ("t".to_owned(), f)
        );
        // Celery's own JSON failure: exc_message as a list of args.
        let celery = br#"{"task_id": "t", "status": "FAILURE", "result": {"exc_type": "NonRecoverableError", "exc_message": ["boom"]}, "traceback": "x"}"#;
        let (_, o) = parse_result(celery).unwrap();
        assert!(
            matches!(o, Outcome::Failure { ref exc_type, ref message, .. } if exc_type == "NonRecoverableError" && message == "boom")
        );
    }

    proptest! {
        #[test]
        fn parsers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_task(None, &body);
            let _ = parse_result(&body);
        }

        #[test]
        fn any_task_round_trips(
            id in "[a-f0-9-]{1,40}",
            name in "[a-z_.]{1,40}",
            keys in proptest::collection::btree_map("[A-Za-z_]{1,8}", "[ -~]{0,16}", 0..6),
        ) {
            let kwargs: Map<String, Value> = keys
                .into_iter()
                .filter(|(k, _)| k != "__cloudify_context")
                .map(|(k, v)| (k, json!(v)))
                .collect();
            let t = Task { id, name, kwargs, context: Map::new() };
            prop_assert_eq!(parse_task(None, &task_body(&t)).unwrap(), t);
        }
    }
}
