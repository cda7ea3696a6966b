//! `execute_operation`: one operation on a filtered set of instances
//! (`node_ids`, `node_instance_ids`, `type_names`, ANDed; empty = all),
//! with `operation_kwargs` merged into the operation's inputs, optionally
//! in relationship order. No state changes, as in 3.3.

use std::collections::HashSet;

use futures_util::StreamExt;
use serde_json::{Map, Value};

use super::events::WorkflowContext;
use super::lifecycle::{PARALLEL, dependency_layers};
use super::members::{Member, cancelled};
use super::params::{flag, strings, text};
use super::{Engine, Outcome};

fn selected(m: &Member, node_ids: &[String], instance_ids: &[String], types: &[String]) -> bool {
    let hierarchy: Vec<&str> = m.node["type_hierarchy"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    (node_ids.is_empty() || node_ids.iter().any(|n| n == m.node_name()))
        && (instance_ids.is_empty() || instance_ids.iter().any(|i| i == m.id()))
        && (types.is_empty() || types.iter().any(|t| hierarchy.contains(&t.as_str())))
}

/// The operation's plan entry with `kwargs` merged into its inputs;
/// a key given by both is an error unless `allow_override` (3.3).
pub(super) fn with_kwargs(
    m: &Member,
    name: &str,
    kwargs: &Map<String, Value>,
    allow_override: bool,
) -> Result<Value, String> {
    let Some(op) = m.node["operations"].get(name) else {
        return Err(format!(
            "{name} operation of node instance {} does not exist",
            m.id()
        ));
    };
    let mut op = op.clone();
    let mut inputs = op["inputs"].as_object().cloned().unwrap_or_default();
    for (k, v) in kwargs {
        if inputs.contains_key(k) && !allow_override {
            return Err(format!(
                "Duplicate definition of {k} in operation {name} and by the workflow (pass allow_kwargs_override: true to override it)"
            ));
        }
        inputs.insert(k.clone(), v.clone());
    }
    op["inputs"] = Value::Object(inputs);
    Ok(op)
}

impl Engine {
    pub(super) async fn execute_operation(&self, ctx: &WorkflowContext) -> Result<(), Outcome> {
        let p = &ctx.parameters;
        let name = text(p.get("operation"), "operation")?;
        let kwargs = match p.get("operation_kwargs") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                return Err(Outcome::Failed(
                    "operation_kwargs must be a dictionary".into(),
                ));
            }
        };
        let allow_override = flag(p.get("allow_kwargs_override"), false)?;
        let by_order = flag(p.get("run_by_dependency_order"), false)?;
        let node_ids = strings(p.get("node_ids"), "node_ids")?;
        let instance_ids = strings(p.get("node_instance_ids"), "node_instance_ids")?;
        let types = strings(p.get("type_names"), "type_names")?;

        let members = self.members(&ctx.deployment_id)?;
        let set: HashSet<String> = members
            .iter()
            .filter(|m| selected(m, &node_ids, &instance_ids, &types))
            .map(|m| m.id().to_owned())
            .collect();
        let layers = if by_order {
            dependency_layers(&members, &set)?
        } else {
            vec![
                (0..members.len())
                    .filter(|i| set.contains(members[*i].id()))
                    .collect(),
            ]
        };
        let shown = if kwargs.is_empty() {
            String::new()
        } else {
            format!(" (Operation parameters: {})", Value::Object(kwargs.clone()))
        };
        for layer in layers {
            let results: Vec<Result<(), Outcome>> = futures_util::stream::iter(layer)
                .map(|i| {
                    let (members, name, kwargs, shown) = (&members, &name, &kwargs, &shown);
                    async move {
                        if cancelled(self, ctx) {
                            return Err(Outcome::Cancelled);
                        }
                        let m = &members[i];
                        let op = with_kwargs(m, name, kwargs, allow_override)
                            .map_err(Outcome::Failed)?;
                        self.node_event(ctx, m, &format!("Starting operation {name}{shown}"))
                            .await;
                        self.operation(ctx, m, &op, name, members, None)
                            .await
                            .map_err(Outcome::Failed)?;
                        self.node_event(ctx, m, &format!("Finished operation {name}"))
                            .await;
                        Ok(())
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
