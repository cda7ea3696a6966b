//! The instances a workflow works on, with their node templates, and the
//! small steps every workflow shares: state changes, node events, cancel
//! checks.

use serde_json::{Map, Value, json};

use super::events::{WorkflowContext, publish, workflow_event};
use super::{Engine, Outcome};
use crate::model::{EXECUTIONS, NODE_INSTANCES, NODES};

/// One instance with its node template.
pub struct Member {
    pub instance: Value,
    pub node: Value,
}

impl Member {
    pub fn id(&self) -> &str {
        self.instance["id"].as_str().unwrap_or_default()
    }

    pub fn node_name(&self) -> &str {
        self.instance["node_id"].as_str().unwrap_or_default()
    }

    pub fn is_compute(&self) -> bool {
        self.node["type_hierarchy"]
            .as_array()
            .is_some_and(|h| h.iter().any(|t| t == "cloudify.nodes.Compute"))
    }

    /// The legacy `install_agent: false` means none; otherwise
    /// `agent_config.install_method` (3.3's default: remote).
    pub fn install_method(&self) -> String {
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
pub fn cancelled(engine: &Engine, ctx: &WorkflowContext) -> bool {
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
    pub(super) fn members(&self, deployment_id: &str) -> Result<Vec<Member>, Outcome> {
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

    pub(super) async fn set_state(
        &self,
        ctx: &WorkflowContext,
        m: &Member,
        state: &str,
    ) -> Result<(), Outcome> {
        // The step boundary is where a cancel request stops a sequence.
        if cancelled(self, ctx) {
            return Err(Outcome::Cancelled);
        }
        let mut patch = Map::new();
        patch.insert("state".into(), json!(state));
        self.model
            .store
            // Made durable by the execution's next status write.
            .update_deferred(NODE_INSTANCES, m.id(), patch, None)
            .map(|_| ())
            .map_err(|e| Outcome::Failed(e.to_string()))
    }

    pub(super) async fn node_event(&self, ctx: &WorkflowContext, m: &Member, text: &str) {
        publish(&*self.bus, &node_event(ctx, m, text)).await;
    }
}
