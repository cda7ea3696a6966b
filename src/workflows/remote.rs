//! Operations on host agents: the task goes over AMQP to the host's agent
//! queue (`runtime_properties.cloudify_agent.queue` of the host instance)
//! as a Celery protocol-v1 message with 3.3's `__cloudify_context`, and
//! the outcome comes back through the `celeryresults` exchange. An agent
//! that is not consuming when the task is due fails it at once; one that
//! goes away while running it fails it as recoverable (the retry then
//! finds it back, or reports it dead) — never a hang.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::Engine;
use super::events::WorkflowContext;
use super::members::Member;
use super::script::TaskError;
use crate::bus::Props;
use crate::celery::{self, Task};
use crate::model::NODE_INSTANCES;

/// How long a task waits for its agent to be consuming before it fails.
const ALIVE_WAIT: Duration = Duration::from_secs(15);
/// How long an agent may be gone while running a task.
const LOST_GRACE: Duration = Duration::from_secs(3);

/// The host's `cloudify_agent` runtime property: `(name, queue)`.
pub(super) fn agent_of(host_doc: &Value) -> Option<(String, String)> {
    let a = &host_doc["runtime_properties"]["cloudify_agent"];
    let queue = a["queue"].as_str().filter(|q| !q.is_empty())?;
    let name = a["name"].as_str().unwrap_or(queue);
    Some((name.to_owned(), queue.to_owned()))
}

impl Engine {
    /// Waits up to `wait` for a consumer on `queue`.
    pub(super) async fn agent_alive(&self, queue: &str, wait: Duration) -> bool {
        let until = tokio::time::Instant::now() + wait;
        loop {
            if matches!(self.bus.consumer_count(queue).await, Ok(Some(n)) if n > 0) {
                return true;
            }
            if tokio::time::Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Declares an agent queue as Celery does on every publish: a durable
    /// direct exchange named like the queue, bound with the queue's name.
    pub(super) async fn declare_agent_queue(&self, queue: &str) -> Result<(), String> {
        let bus = &self.bus;
        bus.declare_exchange(queue, "direct", true, false)
            .await
            .map_err(|e| e.to_string())?;
        bus.declare_queue(queue, true, false)
            .await
            .map_err(|e| e.to_string())?;
        bus.bind(queue, queue, queue)
            .await
            .map_err(|e| e.to_string())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn send_to_agent(
        &self,
        ctx: &WorkflowContext,
        m: &Member,
        host: &Member,
        op: &Value,
        name: &str,
        related: Option<(&Member, &Member)>,
        inputs: Map<String, Value>,
    ) -> Result<Option<Value>, TaskError> {
        let host_doc = self
            .model
            .store
            .get(NODE_INSTANCES, host.id())
            .map_err(|e| TaskError::Recoverable(e.to_string()))?
            .map(|d| d.doc)
            .unwrap_or(Value::Null);
        let (agent, queue) = agent_of(&host_doc).ok_or_else(|| {
            TaskError::NonRecoverable(format!(
                "Missing cloudify_agent runtime information. This most likely means that the Compute node {} never started successfully",
                host.id()
            ))
        })?;
        if !self.agent_alive(&queue, ALIVE_WAIT).await {
            return Err(TaskError::NonRecoverable(format!(
                "Worker celery@{agent} appears to be dead: nothing has consumed its queue {queue} for {} s (start it with `cfyd agent --queue {queue}`)",
                ALIVE_WAIT.as_secs()
            )));
        }
        let task_name = op["operation"].as_str().unwrap_or_default();
        let task_id = uuid::Uuid::new_v4().to_string();
        let mut context = Map::new();
        let mut put = |k: &str, v: Value| {
            context.insert(k.to_owned(), v);
        };
        put("__cloudify_context", json!("0.3"));
        put("task_id", json!(task_id));
        put("task_name", json!(task_name));
        put("task_queue", json!(queue));
        put("task_target", json!(agent));
        put("execution_id", json!(ctx.execution_id));
        put("workflow_id", json!(ctx.workflow_id));
        put("blueprint_id", json!(ctx.blueprint_id));
        put("deployment_id", json!(ctx.deployment_id));
        put("node_id", json!(m.id()));
        put("node_name", json!(m.node_name()));
        put("plugin", op["plugin"].clone());
        put(
            "operation",
            json!({"name": name, "retry_number": 0, "max_retries": op["max_retries"]}),
        );
        // The manager evaluated the inputs' functions already.
        put("has_intrinsic_functions", json!(false));
        put("host_id", host_doc["id"].clone());
        put("executor", json!("host_agent"));
        put("local", json!(false));
        if let Some((s, t)) = related {
            let (other, is_target) = if s.id() == m.id() {
                (t, true)
            } else {
                (s, false)
            };
            put(
                "related",
                json!({"node_id": other.id(), "node_name": other.node_name(), "is_target": is_target}),
            );
        }
        let body = celery::task_body(&Task {
            id: task_id.clone(),
            name: task_name.to_owned(),
            kwargs: inputs,
            context,
        });

        let fail = |e: crate::bus::BusError| TaskError::Recoverable(format!("broker: {e}"));
        let results = celery::result_queue(&task_id);
        self.bus
            .declare_exchange(celery::RESULTS_EXCHANGE, "direct", true, false)
            .await
            .map_err(fail)?;
        self.bus
            .declare_queue_expiring(&results, true, true, celery::RESULT_EXPIRES_MS)
            .await
            .map_err(fail)?;
        self.bus
            .bind(&results, celery::RESULTS_EXCHANGE, &results)
            .await
            .map_err(fail)?;
        let (tag, mut rx) = self.bus.subscribe(&results).await.map_err(fail)?;
        self.declare_agent_queue(&queue)
            .await
            .map_err(TaskError::Recoverable)?;
        if let Err(e) = self
            .bus
            .publish_with(&queue, &queue, Bytes::from(body), &Props::json(&task_id))
            .await
        {
            let _ = self.bus.unsubscribe(&tag).await;
            return Err(fail(e));
        }
        let outcome = self
            .await_result(&task_id, &queue, &agent, task_name, &mut rx)
            .await;
        let _ = self.bus.unsubscribe(&tag).await;
        match outcome? {
            celery::Outcome::Success(v) => Ok((!v.is_null()).then_some(v)),
            celery::Outcome::Failure {
                exc_type,
                message,
                retry_after,
                ..
            } => Err(match exc_type.as_str() {
                "NonRecoverableError" => TaskError::NonRecoverable(message),
                "OperationRetry" => TaskError::Retry(message, retry_after),
                "RecoverableError" => TaskError::Recoverable(message),
                other => TaskError::Recoverable(format!("{other}: {message}")),
            }),
        }
    }

    async fn await_result(
        &self,
        task_id: &str,
        queue: &str,
        agent: &str,
        task_name: &str,
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<crate::bus::BusMessage>,
    ) -> Result<celery::Outcome, TaskError> {
        let mut gone_since: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                msg = rx.recv() => {
                    let Some(msg) = msg else {
                        return Err(TaskError::Recoverable(format!(
                            "lost the broker while waiting for task {task_id}"
                        )));
                    };
                    match celery::parse_result(&msg.body) {
                        Ok((id, outcome)) if id == task_id => return Ok(outcome),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(task = task_id, error = %e, "unreadable task result"),
                    }
                }
                () = tokio::time::sleep(Duration::from_millis(500)) => {
                    let alive = matches!(self.bus.consumer_count(queue).await, Ok(Some(n)) if n > 0);
                    match (alive, gone_since) {
                        (true, _) => gone_since = None,
                        (false, None) => gone_since = Some(tokio::time::Instant::now()),
                        (false, Some(t)) if t.elapsed() >= LOST_GRACE => {
                            return Err(TaskError::Recoverable(format!(
                                "Worker celery@{agent} went away while running task '{task_name}' ({task_id}): nothing consumes queue {queue}; the operation may have been cut short"
                            )));
                        }
                        (false, Some(_)) => {}
                    }
                }
            }
        }
    }
}
