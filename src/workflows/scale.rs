//! `scale`: changes a node's instance count through a deployment
//! modification, installs the added instances (intact related instances
//! establish their new relationships) or uninstalls the removed ones
//! (intact related instances unlink), then finishes the modification — or
//! rolls it back when anything fails (3.3's `cloudify.plugins.workflows.scale`).

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::events::{WorkflowContext, workflow_log};
use super::params::{flag, integer, text};
use super::{Engine, Outcome};
use crate::model::NODES;
use crate::model::modifications;

fn modified_ids(list: &Value, kind: &str) -> HashSet<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["modification"] == kind)
        .filter_map(|i| i["id"].as_str().map(str::to_owned))
        .collect()
}

impl Engine {
    pub(super) async fn scale(&self, ctx: &WorkflowContext) -> Result<(), Outcome> {
        let p = &ctx.parameters;
        let asked = text(p.get("node_id"), "node_id")?;
        let delta = integer(p.get("delta"), "delta", 1)?;
        let scale_compute = flag(p.get("scale_compute"), true)?;
        let failed = |e: &dyn std::fmt::Display| Outcome::Failed(e.to_string());
        let node_doc = |id: &str| {
            self.model
                .store
                .get(NODES, &format!("{}/{id}", ctx.deployment_id))
                .map_err(|e| failed(&e))?
                .ok_or_else(|| {
                    Outcome::Failed(format!(
                        "No node named {id} in deployment {}",
                        ctx.deployment_id
                    ))
                })
        };
        let mut node = node_doc(&asked)?;
        // A node contained in a Compute node scales with its host.
        if scale_compute
            && let Some(host) = node.doc["host_id"].as_str()
            && host != asked
        {
            node = node_doc(host)?;
        }
        let scaled = node.doc["id"].as_str().unwrap_or_default().to_owned();
        if delta == 0 {
            workflow_log(
                &*self.bus,
                ctx,
                "info",
                "delta parameter is 0, so no scaling will take place.",
            )
            .await;
            return Ok(());
        }
        let current: i64 = match &node.doc["number_of_instances"] {
            Value::String(s) => s.parse().unwrap_or(0),
            v => v.as_i64().unwrap_or(0),
        };
        let planned = current + delta;
        if planned < 0 {
            return Err(Outcome::Failed(format!(
                "Provided delta: {delta} is illegal. current number of instances of node {scaled} is {current}"
            )));
        }
        workflow_log(
            &*self.bus,
            ctx,
            "info",
            &format!("Scaling node {scaled} from {current} to {planned} instances"),
        )
        .await;
        let mut nodes = Map::new();
        nodes.insert(scaled.clone(), json!({"instances": planned}));
        let context = json!({
            "blueprint_id": ctx.blueprint_id, "deployment_id": ctx.deployment_id,
            "execution_id": ctx.execution_id, "workflow_id": ctx.workflow_id,
        });
        let modification = modifications::start(&self.model, &ctx.deployment_id, &nodes, context)
            .map_err(|e| failed(&e))?;
        let id = modification["id"].as_str().unwrap_or_default().to_owned();
        let changes = &modification["node_instances"];
        let members = self.members(&ctx.deployment_id)?;
        let result = if delta > 0 {
            let added = modified_ids(&changes["added_and_related"], "added");
            let out = self.install_set(ctx, &members, &added).await;
            if out.is_err() {
                workflow_log(
                    &*self.bus,
                    ctx,
                    "error",
                    "Scale out failed, scaling back in.",
                )
                .await;
                let _ = self.uninstall_set(ctx, &members, &added).await;
            }
            out
        } else {
            let removed = modified_ids(&changes["removed_and_related"], "removed");
            self.uninstall_set(ctx, &members, &removed).await
        };
        match result {
            Ok(()) => modifications::finish(&self.model, &id).map_err(|e| failed(&e)),
            Err(e) => {
                if let Err(r) = modifications::rollback(&self.model, &id) {
                    tracing::error!(modification = %id, error = %r, "cannot roll back a failed scale");
                }
                Err(e)
            }
        }
    }
}
