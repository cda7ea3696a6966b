//! `heal` (3.3's `auto_heal_reinstall_node_subgraph`): the failing
//! instance's host and everything contained in it are uninstalled and
//! installed again; intact instances unlink from and re-establish their
//! relationships to that subgraph.

use std::collections::HashSet;

use super::events::{WorkflowContext, workflow_log};
use super::members::Member;
use super::params::text;
use super::{Engine, Outcome};

/// The instance `m` is contained in, if any.
fn container(m: &Member) -> Option<&str> {
    m.instance["relationships"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| {
            m.node["relationships"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| {
                    p["target_id"] == r["target_name"]
                        && p["type"] == r["type"]
                        && p["type_hierarchy"].as_array().is_some_and(|h| {
                            h.iter().any(|t| t == "cloudify.relationships.contained_in")
                        })
                })
        })
        .and_then(|r| r["target_id"].as_str())
}

/// `root` and every instance (transitively) contained in it.
pub(super) fn subgraph(members: &[Member], root: &str) -> HashSet<String> {
    let mut set = HashSet::from([root.to_owned()]);
    loop {
        let before = set.len();
        for m in members {
            if container(m).is_some_and(|c| set.contains(c)) {
                set.insert(m.id().to_owned());
            }
        }
        if set.len() == before {
            return set;
        }
    }
}

impl Engine {
    pub(super) async fn heal(&self, ctx: &WorkflowContext) -> Result<(), Outcome> {
        let p = &ctx.parameters;
        let failing = text(p.get("node_instance_id"), "node_instance_id")?;
        let diagnose = p
            .get("diagnose_value")
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "Not provided".into());
        let members = self.members(&ctx.deployment_id)?;
        let Some(m) = members.iter().find(|m| m.id() == failing) else {
            return Err(Outcome::Failed(format!(
                "node instance {failing} not found in deployment {}",
                ctx.deployment_id
            )));
        };
        workflow_log(
            &*self.bus,
            ctx,
            "info",
            &format!("Starting 'heal' workflow on {failing}, Diagnosis: {diagnose}"),
        )
        .await;
        let root = m.instance["host_id"].as_str().unwrap_or(m.id()).to_owned();
        let set = subgraph(&members, &root);
        self.uninstall_set(ctx, &members, &set).await?;
        // Install reads the instances again: uninstall changed their states.
        let members = self.members(&ctx.deployment_id)?;
        self.install_set(ctx, &members, &set).await
    }
}
