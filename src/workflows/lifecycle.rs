//! `install` and `uninstall`: Cloudify 3.3's per-instance sequences of
//! state changes, node events and lifecycle/relationship operations, in
//! relationship order (`graph.rs`).
//!
//! Operations without an implementation are NOPs, as in 3.3. Executing an
//! implemented operation needs the operation executors (script plugin,
//! agents), which have not landed: such a task fails with a `task_failed`
//! event saying so, which fails `install` and is ignored by `uninstall`
//! (3.3 ignores uninstall task failures).

use serde_json::{Map, Value, json};

use super::events::{WorkflowContext, publish, workflow_event};
use super::graph::{Vertex, install_layers};
use super::{Engine, Outcome};
use crate::model::{EXECUTIONS, NODE_INSTANCES, NODES};

/// One instance with its node template.
struct Member {
    instance: Value,
    node: Value,
}

impl Member {
    fn id(&self) -> &str {
        self.instance["id"].as_str().unwrap_or_default()
    }

    fn node_name(&self) -> &str {
        self.instance["node_id"].as_str().unwrap_or_default()
    }

    fn is_compute(&self) -> bool {
        self.node["type_hierarchy"]
            .as_array()
            .is_some_and(|h| h.iter().any(|t| t == "cloudify.nodes.Compute"))
    }

    /// The legacy `install_agent: false` means none; otherwise
    /// `agent_config.install_method` (3.3's default: remote).
    fn install_method(&self) -> String {
        let p = &self.node["properties"];
        if p["install_agent"] == false {
            return "none".into();
        }
        p["agent_config"]["install_method"]
            .as_str()
            .unwrap_or("remote")
            .to_owned()
    }
}

fn node_event(ctx: &WorkflowContext, m: &Member, text: &str) -> Value {
    let mut ev = workflow_event(ctx, "workflow_node_event", text, Value::Null);
    ev["context"]["node_name"] = json!(m.node_name());
    ev["context"]["node_id"] = json!(m.id());
    ev
}

/// Whether the workflow should stop because of a cancel request.
fn cancelled(engine: &Engine, ctx: &WorkflowContext) -> bool {
    engine
        .model
        .store
        .get(EXECUTIONS, &ctx.execution_id)
        .ok()
        .flatten()
        .is_some_and(|e| {
            matches!(
                e.doc["status"].as_str(),
                Some("cancelling" | "force_cancelling")
            )
        })
}

impl Engine {
    fn members(&self, deployment_id: &str) -> Result<Vec<Member>, Outcome> {
        let q = store::Query::default().filter("deployment_id", deployment_id.to_owned());
        let store_err = |e: store::Error| Outcome::Failed(e.to_string());
        let nodes = self.model.store.list(NODES, &q).map_err(store_err)?;
        let instances = self
            .model
            .store
            .list(NODE_INSTANCES, &q)
            .map_err(store_err)?;
        Ok(instances
            .items
            .into_iter()
            .map(|i| {
                let node = nodes
                    .items
                    .iter()
                    .find(|n| n.doc["id"] == i.doc["node_id"])
                    .map(|n| n.doc.clone())
                    .unwrap_or(Value::Null);
                Member {
                    instance: i.doc,
                    node,
                }
            })
            .collect())
    }

    async fn set_state(&self, m: &Member, state: &str) -> Result<(), Outcome> {
        let mut patch = Map::new();
        patch.insert("state".into(), json!(state));
        self.model
            .store
            .update(NODE_INSTANCES, m.id(), patch, None)
            .map(|_| ())
            .map_err(|e| Outcome::Failed(e.to_string()))
    }

    async fn node_event(&self, ctx: &WorkflowContext, m: &Member, text: &str) {
        publish(&*self.bus, &node_event(ctx, m, text)).await;
    }

    /// Runs one operation: a NOP when it has no implementation; otherwise
    /// the `task_failed` of a missing executor.
    async fn operation(
        &self,
        ctx: &WorkflowContext,
        m: &Member,
        op: &Value,
        name: &str,
    ) -> Result<(), String> {
        let task = op["operation"].as_str().unwrap_or_default();
        if task.is_empty() {
            return Ok(());
        }
        let why = format!(
            "running operations is not supported yet by cfyd (the executor for plugin '{}' has not landed)",
            op["plugin"].as_str().unwrap_or_default()
        );
        let mut ev = workflow_event(
            ctx,
            "task_failed",
            &format!("Task failed '{task}' -> {why}"),
            json!({"error": why}),
        );
        let c = &mut ev["context"];
        c["node_name"] = json!(m.node_name());
        c["node_id"] = json!(m.id());
        c["task_name"] = json!(task);
        c["operation"] = json!(name);
        c["plugin"] = op["plugin"].clone();
        publish(&*self.bus, &ev).await;
        Err(format!("Task failed '{task}' -> {why}"))
    }

    async fn lifecycle_op(
        &self,
        ctx: &WorkflowContext,
        m: &Member,
        name: &str,
    ) -> Result<(), String> {
        let op = m.node["operations"]
            .get(name)
            .cloned()
            .unwrap_or(Value::Null);
        self.operation(ctx, m, &op, name).await
    }

    /// The source and target operations `name` of every relationship of `m`.
    async fn relationship_ops(
        &self,
        ctx: &WorkflowContext,
        m: &Member,
        name: &str,
    ) -> Result<(), String> {
        for r in m.instance["relationships"].as_array().into_iter().flatten() {
            let Some(plan) = m.node["relationships"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["target_id"] == r["target_name"] && p["type"] == r["type"])
            else {
                continue;
            };
            for side in ["source_operations", "target_operations"] {
                let op = plan[side].get(name).cloned().unwrap_or(Value::Null);
                self.operation(ctx, m, &op, name).await?;
            }
        }
        Ok(())
    }

    async fn install_one(&self, ctx: &WorkflowContext, m: &Member) -> Result<(), Outcome> {
        let fail = Outcome::Failed;
        self.set_state(m, "initializing").await?;
        self.node_event(ctx, m, "Creating node").await;
        self.set_state(m, "creating").await?;
        self.lifecycle_op(ctx, m, "cloudify.interfaces.lifecycle.create")
            .await
            .map_err(fail)?;
        self.set_state(m, "created").await?;
        self.relationship_ops(
            ctx,
            m,
            "cloudify.interfaces.relationship_lifecycle.preconfigure",
        )
        .await
        .map_err(fail)?;
        self.set_state(m, "configuring").await?;
        self.node_event(ctx, m, "Configuring node").await;
        self.lifecycle_op(ctx, m, "cloudify.interfaces.lifecycle.configure")
            .await
            .map_err(fail)?;
        self.set_state(m, "configured").await?;
        self.relationship_ops(
            ctx,
            m,
            "cloudify.interfaces.relationship_lifecycle.postconfigure",
        )
        .await
        .map_err(fail)?;
        self.set_state(m, "starting").await?;
        self.node_event(ctx, m, "Starting node").await;
        self.lifecycle_op(ctx, m, "cloudify.interfaces.lifecycle.start")
            .await
            .map_err(fail)?;
        if m.is_compute() {
            let method = m.install_method();
            if method != "none" {
                return Err(Outcome::Failed(format!(
                    "node instance {} needs an agent (agent_config.install_method: {method}); agents are not supported yet by cfyd — use install_method: none",
                    m.id()
                )));
            }
        }
        self.lifecycle_op(ctx, m, "cloudify.interfaces.monitoring.start")
            .await
            .map_err(fail)?;
        self.relationship_ops(
            ctx,
            m,
            "cloudify.interfaces.relationship_lifecycle.establish",
        )
        .await
        .map_err(fail)?;
        self.set_state(m, "started").await
    }

    /// Uninstall ignores task failures, as 3.3 does.
    async fn uninstall_one(&self, ctx: &WorkflowContext, m: &Member) -> Result<(), Outcome> {
        let ignore = |r: Result<(), String>| async move {
            if let Err(why) = r {
                self.node_event(ctx, m, &format!("Ignoring task failure: {why}"))
                    .await;
            }
        };
        self.set_state(m, "stopping").await?;
        self.node_event(ctx, m, "Stopping node").await;
        ignore(
            self.lifecycle_op(ctx, m, "cloudify.interfaces.monitoring.stop")
                .await,
        )
        .await;
        ignore(
            self.lifecycle_op(ctx, m, "cloudify.interfaces.lifecycle.stop")
                .await,
        )
        .await;
        self.set_state(m, "stopped").await?;
        ignore(
            self.relationship_ops(ctx, m, "cloudify.interfaces.relationship_lifecycle.unlink")
                .await,
        )
        .await;
        self.set_state(m, "deleting").await?;
        self.node_event(ctx, m, "Deleting node").await;
        ignore(
            self.lifecycle_op(ctx, m, "cloudify.interfaces.lifecycle.delete")
                .await,
        )
        .await;
        self.set_state(m, "deleted").await
    }

    /// `install` (or, reversed, `uninstall`) of every instance of the deployment.
    pub(super) async fn lifecycle(
        &self,
        ctx: &WorkflowContext,
        install: bool,
    ) -> Result<(), Outcome> {
        let members = self.members(&ctx.deployment_id)?;
        let vertices: Vec<Vertex> = members
            .iter()
            .map(|m| Vertex {
                id: m.id().to_owned(),
                targets: m.instance["relationships"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r["target_id"].as_str().map(str::to_owned))
                    .collect(),
            })
            .collect();
        let mut layers = install_layers(&vertices).map_err(|e| Outcome::Failed(e.to_string()))?;
        if !install {
            layers.reverse();
        }
        for layer in layers {
            for i in layer {
                if cancelled(self, ctx) {
                    return Err(Outcome::Cancelled);
                }
                if install {
                    self.install_one(ctx, &members[i]).await?;
                } else {
                    self.uninstall_one(ctx, &members[i]).await?;
                }
            }
        }
        Ok(())
    }
}
