//! The workflow engine: runs executions through Cloudify's lifecycle
//! (`pending → started → terminated | failed | cancelled`), persisting every
//! transition and publishing the workflow events.
//!
//! The deployment environment workflows run inside deployment create and
//! delete; `install`/`uninstall` (`lifecycle.rs`), `execute_operation`,
//! `scale` and `heal` run in the background, each operation through
//! `operation.rs` (script plugin locally, or a host agent over AMQP).
//! Blueprint `workflows:` entries mapped to these built-ins run them with
//! their parameters; a mapping to any other (Python) workflow is refused
//! at start by the REST service.

mod agents;
pub(crate) mod ctx;
pub mod events;
mod execute_operation;
mod graph;
mod heal;
mod lifecycle;
mod members;
mod operation;
mod params;
mod remote;
pub mod render;
mod scale;
pub(crate) mod script;
mod ssh;

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::bus::MessageBus;
use crate::model::{DEPLOYMENTS, EXECUTIONS, Model};
use events::{WorkflowContext, publish, workflow_event};

/// Execution states after which nothing changes.
pub const END_STATES: &[&str] = &["terminated", "failed", "cancelled"];

/// The workflows this engine runs: 3.3's `cloudify.plugins.workflows`
/// functions and the workflow each runs as.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("install", "install"),
    ("uninstall", "uninstall"),
    ("execute_operation", "execute_operation"),
    ("scale", "scale"),
    ("auto_heal_reinstall_node_subgraph", "heal"),
];

/// The built-in a deployment's workflow entry maps to (its `operation`,
/// 3.3's `cloudify.plugins.workflows.<function>`), when this engine runs it.
pub fn built_in(definition: &Value) -> Option<&'static str> {
    let op = definition["operation"].as_str()?;
    let name = op.strip_prefix("cloudify.plugins.workflows.")?;
    BUILT_IN
        .iter()
        .find(|(function, _)| *function == name)
        .map(|(_, kind)| *kind)
}

/// How a workflow body ended, when not in success.
#[derive(Debug)]
pub enum Outcome {
    Failed(String),
    Cancelled,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("execution {0} has no workflow_id")]
    Malformed(String),
}

/// What hosts are told about this manager: where their agents connect.
#[derive(Debug, Clone)]
pub struct AgentEndpoints {
    /// `amqp://user:pass@host:port/` for `cfyd agent --broker`.
    pub broker_url: String,
    /// The internal REST API (`/api/v2`), for ctx calls of remote agents.
    pub rest_url: String,
    /// The file server: blueprint resources and the agent's binary.
    pub file_server_url: String,
    /// Default seconds install waits for a provided/init_script agent.
    pub start_timeout: u64,
}

pub struct Engine {
    model: Arc<Model>,
    bus: Arc<dyn MessageBus>,
    agents: std::sync::OnceLock<AgentEndpoints>,
}

fn status_patch(status: &str, error: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("status".into(), json!(status));
    m.insert("error".into(), json!(error));
    m
}

impl Engine {
    pub fn new(model: Arc<Model>, bus: Arc<dyn MessageBus>) -> Arc<Engine> {
        Arc::new(Engine {
            model,
            bus,
            agents: std::sync::OnceLock::new(),
        })
    }

    /// Tells the engine where hosts reach the manager, once it listens.
    pub fn set_agent_endpoints(&self, endpoints: AgentEndpoints) {
        let _ = self.agents.set(endpoints);
    }

    /// Marks the executions a previous run left unfinished as failed: cfyd
    /// does not resume executions after a restart.
    pub fn recover(&self) -> Result<usize, EngineError> {
        let all = self
            .model
            .store
            .list(EXECUTIONS, &store::Query::default())?;
        let mut n = 0;
        for e in all.items {
            let status = e.doc["status"].as_str().unwrap_or("pending");
            if END_STATES.contains(&status) {
                continue;
            }
            let why = format!(
                "cfyd stopped while this execution was {status}; executions are not resumed after a restart, start the workflow again"
            );
            self.model
                .store
                .update(EXECUTIONS, &e.id, status_patch("failed", &why), None)?;
            tracing::warn!(execution = %e.id, status, "marked an interrupted execution failed");
            n += 1;
        }
        Ok(n)
    }

    /// Runs a stored execution to its end state; returns that state.
    pub async fn run(&self, execution_id: &str) -> Result<String, EngineError> {
        let exec = self
            .model
            .store
            .get(EXECUTIONS, execution_id)?
            .ok_or_else(|| store::Error::NotFound {
                collection: EXECUTIONS.into(),
                id: execution_id.into(),
            })?;
        let doc = &exec.doc;
        let text = |k: &str| doc[k].as_str().unwrap_or_default().to_owned();
        let ctx = WorkflowContext {
            execution_id: execution_id.to_owned(),
            workflow_id: doc["workflow_id"]
                .as_str()
                .ok_or_else(|| EngineError::Malformed(execution_id.into()))?
                .to_owned(),
            deployment_id: text("deployment_id"),
            blueprint_id: text("blueprint_id"),
            parameters: doc["parameters"].as_object().cloned().unwrap_or_default(),
        };
        let wf = ctx.workflow_id.clone();
        if matches!(
            doc["status"].as_str(),
            Some("cancelling" | "force_cancelling")
        ) {
            return self
                .finish(
                    &ctx,
                    "cancelled",
                    "",
                    "workflow_cancelled",
                    format!("'{wf}' workflow execution cancelled"),
                    Value::Null,
                )
                .await;
        }
        self.model
            .store
            .update(EXECUTIONS, execution_id, status_patch("started", ""), None)?;
        publish(
            &*self.bus,
            &workflow_event(
                &ctx,
                "workflow_started",
                &format!("Starting '{wf}' workflow execution"),
                Value::Null,
            ),
        )
        .await;
        // A blueprint may map its own workflow names to the built-ins.
        let kind = self
            .model
            .store
            .get(DEPLOYMENTS, &ctx.deployment_id)?
            .and_then(|d| built_in(&d.doc["workflows"][wf.as_str()]))
            .map_or_else(|| wf.clone(), str::to_owned);
        let mut outcome = self.body(&ctx, &kind).await;
        // A failure caused by a cancel request (a killed or unsent task)
        // ends the execution as cancelled.
        if matches!(outcome, Err(Outcome::Failed(_))) && members::cancelled(self, &ctx) {
            outcome = Err(Outcome::Cancelled);
        }
        match outcome {
            Ok(()) => {
                self.finish(
                    &ctx,
                    "terminated",
                    "",
                    "workflow_succeeded",
                    format!("'{wf}' workflow execution succeeded"),
                    Value::Null,
                )
                .await
            }
            Err(Outcome::Cancelled) => {
                self.finish(
                    &ctx,
                    "cancelled",
                    "",
                    "workflow_cancelled",
                    format!("'{wf}' workflow execution cancelled"),
                    Value::Null,
                )
                .await
            }
            Err(Outcome::Failed(why)) => {
                let text = format!("'{wf}' workflow execution failed: {why}");
                self.finish(
                    &ctx,
                    "failed",
                    &why,
                    "workflow_failed",
                    text,
                    json!({"error": why}),
                )
                .await
            }
        }
    }

    async fn finish(
        &self,
        ctx: &WorkflowContext,
        status: &str,
        error: &str,
        event_type: &str,
        text: String,
        arguments: Value,
    ) -> Result<String, EngineError> {
        self.model.store.update(
            EXECUTIONS,
            &ctx.execution_id,
            status_patch(status, error),
            None,
        )?;
        publish(
            &*self.bus,
            &workflow_event(ctx, event_type, &text, arguments),
        )
        .await;
        Ok(status.to_owned())
    }

    /// Runs a stored execution in the background.
    pub fn spawn(self: &Arc<Self>, execution_id: String) {
        let engine = self.clone();
        tokio::spawn(async move {
            if let Err(e) = engine.run(&execution_id).await {
                tracing::error!(execution = %execution_id, error = %e, "execution could not run");
            }
        });
    }

    /// The workflow itself.
    async fn body(&self, ctx: &WorkflowContext, kind: &str) -> Result<(), Outcome> {
        match kind {
            // cfyd runs deployment workers in-process: the environment
            // needs no provisioning (the policy engine will start here).
            "create_deployment_environment" => {
                let stage = workflow_event(
                    ctx,
                    "workflow_stage",
                    "Creating deployment environment",
                    Value::Null,
                );
                publish(&*self.bus, &stage).await;
                Ok(())
            }
            "delete_deployment_environment" => {
                let stage = workflow_event(
                    ctx,
                    "workflow_stage",
                    "Deleting deployment environment",
                    Value::Null,
                );
                publish(&*self.bus, &stage).await;
                Ok(())
            }
            "install" => self.lifecycle(ctx, true).await,
            "uninstall" => self.lifecycle(ctx, false).await,
            "execute_operation" => self.execute_operation(ctx).await,
            "scale" => self.scale(ctx).await,
            "heal" => self.heal(ctx).await,
            other => Err(Outcome::Failed(format!(
                "the '{other}' workflow is not supported yet by cfyd"
            ))),
        }
    }
}
