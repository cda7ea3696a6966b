//! One operation on one instance: a NOP without an implementation, the
//! built-in script plugin, or a host agent over AMQP; with 3.3's retry
//! rules, task events and runtime-property write-back.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::Engine;
use super::ctx::{OpContext, Resources, Side};
use super::events::{WorkflowContext, publish, workflow_event};
use super::members::{Member, cancelled};
use super::script::{self, TaskError};
use crate::model::NODE_INSTANCES;

/// The operations uninstall runs, whose failures are ignored, not retried.
const UNINSTALL_OPS: &[&str] = &[
    "cloudify.interfaces.monitoring.stop",
    "cloudify.interfaces.lifecycle.stop",
    "cloudify.interfaces.relationship_lifecycle.unlink",
    "cloudify.interfaces.lifecycle.delete",
];

/// Resolves once the execution is force-cancelled.
async fn force_cancelled(engine: &Engine, ctx: &WorkflowContext) {
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let forced = engine
            .model
            .store
            .get(crate::model::EXECUTIONS, &ctx.execution_id)
            .ok()
            .flatten()
            .is_some_and(|e| e.doc["status"] == "force_cancelling");
        if forced {
            return;
        }
    }
}

impl Engine {
    /// Runs one operation on `m` (for relationship operations `related` is
    /// `(source, target)`): a NOP without an implementation, the built-in
    /// script plugin locally, and retries as 3.3 does.
    pub(super) async fn operation(
        &self,
        ctx: &WorkflowContext,
        m: &Member,
        op: &Value,
        name: &str,
        all: &[Member],
        related: Option<(&Member, &Member)>,
    ) -> Result<(), String> {
        let task = op["operation"].as_str().unwrap_or_default();
        if task.is_empty() {
            return Ok(());
        }
        if cancelled(self, ctx) {
            return Err(format!(
                "Task '{task}' not sent: the execution is being cancelled"
            ));
        }
        let settings = self.task_settings(op);
        let total = settings.0;
        let mut attempt: i64 = 0;
        loop {
            let event = |t: &str, text: String| {
                let mut ev = workflow_event(ctx, t, &text, Value::Null);
                let c = &mut ev["context"];
                c["node_name"] = json!(m.node_name());
                c["node_id"] = json!(m.id());
                c["task_name"] = json!(task);
                c["operation"] = json!(name);
                c["plugin"] = op["plugin"].clone();
                c["task_current_retries"] = json!(attempt);
                c["task_total_retries"] = json!(total);
                ev
            };
            let suffix = if total < 0 {
                String::new()
            } else if attempt > 0 {
                format!(" [attempt {}/{}]", attempt + 1, total + 1)
            } else {
                String::new()
            };
            publish(
                &*self.bus,
                &event("sending_task", format!("Sending task '{task}'{suffix}")),
            )
            .await;
            publish(
                &*self.bus,
                &event("task_started", format!("Task started '{task}'{suffix}")),
            )
            .await;
            // A force-cancel stops the running operation (its process is
            // killed); a plain cancel lets it finish.
            let outcome = tokio::select! {
                o = self.execute(ctx, m, op, name, all, related) => o,
                () = force_cancelled(self, ctx) => {
                    return Err(format!("Task '{task}' killed by a force-cancel"));
                }
            };
            let error = match outcome {
                Ok(result) => {
                    let shown = result.map_or_else(String::new, |r| format!(" ({r})"));
                    publish(
                        &*self.bus,
                        &event(
                            "task_succeeded",
                            format!("Task succeeded '{task}{shown}'{suffix}"),
                        ),
                    )
                    .await;
                    return Ok(());
                }
                Err(e) => e,
            };
            // Uninstall's tasks have 3.3's "ignore" handler: only an
            // explicit `ctx operation retry` runs them again.
            let retries_failures = !UNINSTALL_OPS.contains(&name);
            let can_retry = match &error {
                TaskError::NonRecoverable(_) => false,
                TaskError::Recoverable(_) if !retries_failures => false,
                _ => total < 0 || attempt < total,
            };
            let shown_attempt = if total < 0 {
                String::new()
            } else {
                format!(" [attempt {}/{}]", attempt + 1, total + 1)
            };
            let (kind, after) = match &error {
                TaskError::Retry(_, after) if can_retry => {
                    ("task_rescheduled", after.map(|a| a as f64))
                }
                _ => ("task_failed", None),
            };
            publish(
                &*self.bus,
                &event(
                    kind,
                    format!(
                        "Task {} '{task}' -> {}{shown_attempt}",
                        if kind == "task_rescheduled" {
                            "rescheduled"
                        } else {
                            "failed"
                        },
                        error.message()
                    ),
                ),
            )
            .await;
            if !can_retry {
                return Err(format!("Task failed '{task}' -> {}", error.message()));
            }
            let wait = after.unwrap_or(settings.1);
            let until =
                tokio::time::Instant::now() + std::time::Duration::from_secs_f64(wait.max(0.0));
            while tokio::time::Instant::now() < until {
                if cancelled(self, ctx) {
                    return Err(format!("Task '{task}' cancelled while waiting to retry"));
                }
                tokio::time::sleep(
                    std::time::Duration::from_millis(100).min(until - tokio::time::Instant::now()),
                )
                .await;
            }
            attempt += 1;
        }
    }

    /// `(total retries, retry interval s)`: the operation's, else the
    /// provider context's `cloudify.workflows` (3.3: -1 = forever, 30 s).
    fn task_settings(&self, op: &Value) -> (i64, f64) {
        let pc = self
            .model
            .store
            .get(crate::model::PROVIDER_CONTEXT, "CONTEXT")
            .ok()
            .flatten()
            .map_or_else(crate::rest::provider::default_context, |d| d.doc);
        let wf = &pc["context"]["cloudify"]["workflows"];
        let total = op["max_retries"]
            .as_i64()
            .or(wf["task_retries"].as_i64())
            .unwrap_or(-1);
        let interval = op["retry_interval"]
            .as_f64()
            .or(wf["task_retry_interval"].as_f64())
            .unwrap_or(30.0);
        (total, interval)
    }

    fn side(&self, m: &Member, all: &[Member]) -> Side {
        let (doc, version) = self
            .model
            .store
            .get(NODE_INSTANCES, m.id())
            .ok()
            .flatten()
            .map_or_else(|| (m.instance.clone(), 0), |d| (d.doc, d.version));
        let runtime = doc["runtime_properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let host = all
            .iter()
            .find(|h| h.instance["id"] == m.instance["host_id"]);
        let host_ip = host.and_then(|h| {
            let hd = self.model.store.get(NODE_INSTANCES, h.id()).ok().flatten();
            hd.and_then(|d| {
                d.doc["runtime_properties"]["ip"]
                    .as_str()
                    .map(str::to_owned)
            })
            .or_else(|| h.node["properties"]["ip"].as_str().map(str::to_owned))
        });
        Side {
            node: m.node.clone(),
            instance_id: m.id().to_owned(),
            runtime: Arc::new(parking_lot::Mutex::new(runtime)),
            dirty: Arc::new(parking_lot::Mutex::new(false)),
            host_ip,
            version,
        }
    }

    fn save(&self, side: &Side) -> Result<(), String> {
        if !*side.dirty.lock() {
            return Ok(());
        }
        let mut patch = Map::new();
        patch.insert(
            "runtime_properties".into(),
            Value::Object(side.runtime.lock().clone()),
        );
        self.model
            .store
            .update(NODE_INSTANCES, &side.instance_id, patch, None)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Operation inputs with `get_attribute` and `concat` evaluated now, as
    /// a 3.3 agent asked `/evaluate/functions` before running.
    fn runtime_inputs(
        &self,
        ctx: &WorkflowContext,
        m: &Member,
        all: &[Member],
        related: Option<(&Member, &Member)>,
        inputs: Map<String, Value>,
    ) -> Result<Map<String, Value>, TaskError> {
        let mut props = Map::new();
        for member in all {
            props
                .entry(member.node_name().to_owned())
                .or_insert_with(|| member.node["properties"].clone());
        }
        let context = crate::dsl::functions::Context {
            self_instance: Some(m.id().to_owned()),
            source: related.map(|(s, _)| s.id().to_owned()),
            target: related.map(|(_, t)| t.id().to_owned()),
        };
        let rt = crate::model::runtime::StoredRuntime {
            model: &self.model,
            deployment_id: &ctx.deployment_id,
        };
        match crate::dsl::functions::eval_runtime(&Value::Object(inputs), &context, &rt, &props) {
            Ok(Value::Object(evaluated)) => Ok(evaluated),
            Ok(_) => Err(TaskError::NonRecoverable(
                "operation inputs are not a dictionary".into(),
            )),
            Err(e) => Err(TaskError::NonRecoverable(format!(
                "cannot evaluate the operation inputs: {}",
                e.message
            ))),
        }
    }

    /// One attempt of an implemented operation.
    async fn execute(
        &self,
        ctx: &WorkflowContext,
        m: &Member,
        op: &Value,
        name: &str,
        all: &[Member],
        related: Option<(&Member, &Member)>,
    ) -> Result<Option<Value>, TaskError> {
        let task = op["operation"].as_str().unwrap_or_default();
        if task != "script_runner.tasks.run" {
            return Err(TaskError::NonRecoverable(format!(
                "plugin '{}' (task {task}) is not available in cfyd; only the script plugin runs so far",
                op["plugin"].as_str().unwrap_or_default()
            )));
        }
        let mut inputs = op["inputs"].as_object().cloned().unwrap_or_default();
        if op["has_intrinsic_functions"] == true {
            inputs = self.runtime_inputs(ctx, m, all, related, inputs)?;
        }
        if op["executor"] == "host_agent" {
            let host = all
                .iter()
                .find(|h| h.instance["id"] == m.instance["host_id"]);
            let method = host.map_or_else(|| "remote".to_owned(), Member::install_method);
            if method != "none" {
                let host = host.ok_or_else(|| {
                    TaskError::NonRecoverable(format!(
                        "node instance {} has a host_agent operation but no host",
                        m.id()
                    ))
                })?;
                return self
                    .send_to_agent(ctx, m, host, op, name, related, inputs)
                    .await;
            }
        }
        let resources = Resources::Local(
            self.model
                .resources
                .join("blueprints")
                .join(&ctx.blueprint_id),
        );
        let work = tempfile::Builder::new()
            .prefix("cfyd-op-")
            .tempdir()
            .map_err(|e| {
                TaskError::NonRecoverable(format!("cannot create an operation directory: {e}"))
            })?;
        let this = self.side(m, all);
        let sides = related.map(|(s, t)| {
            let source = if s.id() == m.id() {
                this.clone()
            } else {
                self.side(s, all)
            };
            let target = if t.id() == m.id() {
                this.clone()
            } else {
                self.side(t, all)
            };
            (source, target)
        });
        let opctx = Arc::new(OpContext {
            workflow: ctx.clone(),
            operation: name.to_owned(),
            task_name: task.to_owned(),
            plugin: op["plugin"].as_str().unwrap_or_default().to_owned(),
            this: this.clone(),
            related: sides.clone(),
            resources: resources.clone(),
            work_dir: work.path().to_owned(),
            bus: self.bus.clone(),
            returned: parking_lot::Mutex::new(None),
            retry: parking_lot::Mutex::new(None),
            abort: parking_lot::Mutex::new(None),
            agent_script: self.agent_script(ctx, m),
        });
        let script = script::local_script(&resources, &inputs)?;
        let result = script::run(opctx, script, &inputs).await?;
        // 3.3 writes runtime properties back only after a success.
        let mut written = vec![this];
        if let Some((s, t)) = sides {
            written.push(s);
            written.push(t);
        }
        for side in &written {
            self.save(side).map_err(TaskError::Recoverable)?;
        }
        Ok(result)
    }
}
