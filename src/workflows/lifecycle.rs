//! `install` and `uninstall`: Cloudify 3.3's per-instance sequences of
//! state changes, node events and lifecycle/relationship operations, in
//! relationship order (`graph.rs`).
//!
//! The sequences run on a set of instances (all of them for `install` and
//! `uninstall`, a host's subgraph for `heal`, the added or removed ones for
//! `scale`); instances outside the set are intact and only establish or
//! unlink their relationships to it. Uninstall ignores task failures, as
//! 3.3 does.

use std::collections::HashSet;

use serde_json::Value;

use futures_util::StreamExt;

use super::events::WorkflowContext;
use super::graph::{Vertex, install_layers};
use super::members::{Member, cancelled};
use super::{Engine, Outcome};

/// Instances of one layer that install (or uninstall) at once.
pub(super) const PARALLEL: usize = 16;

impl Engine {
    async fn lifecycle_op(
        &self,
        ctx: &WorkflowContext,
        m: &Member,
        name: &str,
        all: &[Member],
    ) -> Result<(), String> {
        let op = m.node["operations"]
            .get(name)
            .cloned()
            .unwrap_or(Value::Null);
        self.operation(ctx, m, &op, name, all, None).await
    }

    /// The source and target operations `name` of every relationship of `m`.
    async fn relationship_ops(
        &self,
        ctx: &WorkflowContext,
        m: &Member,
        name: &str,
        all: &[Member],
        only_targets: Option<&HashSet<String>>,
    ) -> Result<(), String> {
        for r in m.instance["relationships"].as_array().into_iter().flatten() {
            if let Some(only) = only_targets
                && !only.contains(r["target_id"].as_str().unwrap_or_default())
            {
                continue;
            }
            let Some(plan) = m.node["relationships"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["target_id"] == r["target_name"] && p["type"] == r["type"])
            else {
                continue;
            };
            let Some(target) = all.iter().find(|t| t.instance["id"] == r["target_id"]) else {
                continue;
            };
            for side in ["source_operations", "target_operations"] {
                let op = plan[side].get(name).cloned().unwrap_or(Value::Null);
                let on = if side == "source_operations" {
                    m
                } else {
                    target
                };
                self.operation(ctx, on, &op, name, all, Some((m, target)))
                    .await?;
            }
        }
        Ok(())
    }

    async fn install_one(
        &self,
        ctx: &WorkflowContext,
        m: &Member,
        all: &[Member],
    ) -> Result<(), Outcome> {
        let fail = Outcome::Failed;
        self.set_state(ctx, m, "initializing").await?;
        self.node_event(ctx, m, "Creating node").await;
        self.set_state(ctx, m, "creating").await?;
        if m.is_compute() {
            self.prepare_agent(ctx, m).await?;
        }
        self.lifecycle_op(ctx, m, "cloudify.interfaces.lifecycle.create", all)
            .await
            .map_err(fail)?;
        self.set_state(ctx, m, "created").await?;
        self.relationship_ops(
            ctx,
            m,
            "cloudify.interfaces.relationship_lifecycle.preconfigure",
            all,
            None,
        )
        .await
        .map_err(fail)?;
        self.set_state(ctx, m, "configuring").await?;
        self.node_event(ctx, m, "Configuring node").await;
        self.lifecycle_op(ctx, m, "cloudify.interfaces.lifecycle.configure", all)
            .await
            .map_err(fail)?;
        self.set_state(ctx, m, "configured").await?;
        self.relationship_ops(
            ctx,
            m,
            "cloudify.interfaces.relationship_lifecycle.postconfigure",
            all,
            None,
        )
        .await
        .map_err(fail)?;
        self.set_state(ctx, m, "starting").await?;
        self.node_event(ctx, m, "Starting node").await;
        self.lifecycle_op(ctx, m, "cloudify.interfaces.lifecycle.start", all)
            .await
            .map_err(fail)?;
        if m.is_compute() && m.install_method() != "none" {
            self.install_agent(ctx, m).await?;
        }
        self.lifecycle_op(ctx, m, "cloudify.interfaces.monitoring.start", all)
            .await
            .map_err(fail)?;
        self.relationship_ops(
            ctx,
            m,
            "cloudify.interfaces.relationship_lifecycle.establish",
            all,
            None,
        )
        .await
        .map_err(fail)?;
        self.set_state(ctx, m, "started").await
    }

    /// Uninstall ignores task failures, as 3.3 does.
    async fn uninstall_one(
        &self,
        ctx: &WorkflowContext,
        m: &Member,
        all: &[Member],
    ) -> Result<(), Outcome> {
        let ignore = |r: Result<(), String>| async move {
            if let Err(why) = r {
                self.node_event(ctx, m, &format!("Ignoring task failure: {why}"))
                    .await;
            }
        };
        self.set_state(ctx, m, "stopping").await?;
        self.node_event(ctx, m, "Stopping node").await;
        ignore(
            self.lifecycle_op(ctx, m, "cloudify.interfaces.monitoring.stop", all)
                .await,
        )
        .await;
        if m.is_compute() && m.install_method() != "none" {
            self.uninstall_agent(ctx, m).await;
        }
        ignore(
            self.lifecycle_op(ctx, m, "cloudify.interfaces.lifecycle.stop", all)
                .await,
        )
        .await;
        self.set_state(ctx, m, "stopped").await?;
        ignore(
            self.relationship_ops(
                ctx,
                m,
                "cloudify.interfaces.relationship_lifecycle.unlink",
                all,
                None,
            )
            .await,
        )
        .await;
        self.set_state(ctx, m, "deleting").await?;
        self.node_event(ctx, m, "Deleting node").await;
        ignore(
            self.lifecycle_op(ctx, m, "cloudify.interfaces.lifecycle.delete", all)
                .await,
        )
        .await;
        self.set_state(ctx, m, "deleted").await
    }

    /// `install` (or, reversed, `uninstall`) of every instance of the deployment.
    pub(super) async fn lifecycle(
        &self,
        ctx: &WorkflowContext,
        install: bool,
    ) -> Result<(), Outcome> {
        let members = self.members(&ctx.deployment_id)?;
        let set: HashSet<String> = members.iter().map(|m| m.id().to_owned()).collect();
        if install {
            self.install_set(ctx, &members, &set).await
        } else {
            self.uninstall_set(ctx, &members, &set).await
        }
    }

    /// Installs the instances in `set` in relationship order; then every
    /// instance outside the set (intact) with a relationship to one in it
    /// runs `establish` for that relationship, as 3.3's scale and heal do.
    pub(super) async fn install_set(
        &self,
        ctx: &WorkflowContext,
        members: &[Member],
        set: &HashSet<String>,
    ) -> Result<(), Outcome> {
        self.in_layers(ctx, members, set, true).await?;
        for m in members.iter().filter(|m| !set.contains(m.id())) {
            self.relationship_ops(
                ctx,
                m,
                "cloudify.interfaces.relationship_lifecycle.establish",
                members,
                Some(set),
            )
            .await
            .map_err(Outcome::Failed)?;
        }
        Ok(())
    }

    /// Intact instances with relationships to the set `unlink` them (failures
    /// ignored), then the set uninstalls in reverse relationship order.
    pub(super) async fn uninstall_set(
        &self,
        ctx: &WorkflowContext,
        members: &[Member],
        set: &HashSet<String>,
    ) -> Result<(), Outcome> {
        for m in members.iter().filter(|m| !set.contains(m.id())) {
            if let Err(why) = self
                .relationship_ops(
                    ctx,
                    m,
                    "cloudify.interfaces.relationship_lifecycle.unlink",
                    members,
                    Some(set),
                )
                .await
            {
                self.node_event(ctx, m, &format!("Ignoring task failure: {why}"))
                    .await;
            }
        }
        self.in_layers(ctx, members, set, false).await
    }

    /// Runs install or uninstall of each instance of `set`, layer by layer.
    async fn in_layers(
        &self,
        ctx: &WorkflowContext,
        members: &[Member],
        set: &HashSet<String>,
        install: bool,
    ) -> Result<(), Outcome> {
        let mut layers = dependency_layers(members, set)?;
        if !install {
            layers.reverse();
        }
        for layer in layers {
            // The instances of a layer are independent: up to PARALLEL run
            // at once; the layer's first failure (or a cancel) ends the
            // workflow once the running ones finish.
            let results: Vec<Result<(), Outcome>> = futures_util::stream::iter(layer)
                .map(|i| async move {
                    if cancelled(self, ctx) {
                        return Err(Outcome::Cancelled);
                    }
                    if install {
                        self.install_one(ctx, &members[i], members).await
                    } else {
                        self.uninstall_one(ctx, &members[i], members).await
                    }
                })
                .buffer_unordered(PARALLEL)
                .collect()
                .await;
            if let Some(err) = results.into_iter().find_map(Result::err) {
                return Err(err);
            }
        }
        Ok(())
    }
}

/// The members in `set` (indexes into `members`) grouped into install
/// layers: relationships to instances outside the set are already met.
pub(super) fn dependency_layers(
    members: &[Member],
    set: &HashSet<String>,
) -> Result<Vec<Vec<usize>>, Outcome> {
    let chosen: Vec<usize> = (0..members.len())
        .filter(|i| set.contains(members[*i].id()))
        .collect();
    let vertices: Vec<Vertex> = chosen
        .iter()
        .map(|i| {
            let m = &members[*i];
            Vertex {
                id: m.id().to_owned(),
                targets: m.instance["relationships"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r["target_id"].as_str())
                    .filter(|t| set.contains(*t))
                    .map(str::to_owned)
                    .collect(),
            }
        })
        .collect();
    let layers = install_layers(&vertices).map_err(|e| Outcome::Failed(e.to_string()))?;
    Ok(layers
        .into_iter()
        .map(|l| l.into_iter().map(|v| chosen[v]).collect())
        .collect())
}
