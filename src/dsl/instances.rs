//! Node instances of a deployment (cloudify-api.md §2.10): `deploy`
//! instances per parent instance down contained_in chains, ids
//! `<node>_<5 hex>`, host ids, and relationship instances.

use std::collections::{BTreeMap, HashSet};

use rand::Rng;
use serde_json::{Value, json};

use super::error::{DslError, DslResult, code};

/// Most node instances one deployment may have.
pub const MAX_INSTANCES: usize = 100_000;

pub(crate) fn contained_in(node: &Value) -> Option<&str> {
    node["relationships"].as_array()?.iter().find_map(|r| {
        let contained = r["type_hierarchy"]
            .as_array()?
            .iter()
            .any(|t| t == "cloudify.relationships.contained_in");
        if contained {
            r["target_id"].as_str()
        } else {
            None
        }
    })
}

pub(crate) fn new_id(node: &str, taken: &mut HashSet<String>, rng: &mut impl Rng) -> String {
    loop {
        let id = format!("{node}_{:05x}", rng.random_range(0..0x10_0000u32));
        if taken.insert(id.clone()) {
            return id;
        }
    }
}

/// Builds every node instance of the plan's nodes.
pub fn generate(nodes: &[Value]) -> DslResult<Vec<Value>> {
    generate_avoiding(nodes, HashSet::new())
}

/// As [`generate`], never choosing an id in `taken` (instance ids are
/// global: other deployments' instances hold some).
pub fn generate_avoiding(nodes: &[Value], mut taken: HashSet<String>) -> DslResult<Vec<Value>> {
    let by_id: BTreeMap<&str, &Value> = nodes
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut roots = Vec::new();
    for (id, n) in &by_id {
        match contained_in(n) {
            Some(p) => children.entry(p).or_default().push(id),
            None => roots.push(*id),
        }
    }
    let mut rng = rand::rng();
    // (instance id, node id, parent instance id, host instance id)
    let mut made: Vec<(String, String, Option<String>, Option<String>)> = Vec::new();
    let mut stack: Vec<(&str, Option<String>, Option<String>)> =
        roots.iter().rev().map(|r| (*r, None, None)).collect();
    let mut visited_nodes = 0usize;
    while let Some((node, parent, parent_host)) = stack.pop() {
        visited_nodes += 1;
        if visited_nodes > MAX_INSTANCES {
            return Err(DslError::format(format!(
                "the deployment would have more than {MAX_INSTANCES} node instances"
            )));
        }
        let n = by_id[node];
        let deploy = n["instances"]["deploy"].as_u64().unwrap_or(1) as usize;
        let is_host = n["type_hierarchy"]
            .as_array()
            .is_some_and(|h| h.iter().any(|t| t == "cloudify.nodes.Compute"));
        for _ in 0..deploy {
            let id = new_id(node, &mut taken, &mut rng);
            let host = if is_host {
                Some(id.clone())
            } else {
                parent_host.clone()
            };
            made.push((id.clone(), node.to_owned(), parent.clone(), host.clone()));
            if made.len() > MAX_INSTANCES {
                return Err(DslError::format(format!(
                    "the deployment would have more than {MAX_INSTANCES} node instances"
                )));
            }
            for child in children.get(node).into_iter().flatten().rev() {
                stack.push((child, Some(id.clone()), host.clone()));
            }
        }
    }
    // Every node must be reachable from a root; otherwise contained_in loops.
    let reached: HashSet<&str> = made.iter().map(|m| m.1.as_str()).collect();
    for (id, n) in &by_id {
        if !reached.contains(id)
            && n["instances"]["deploy"].as_u64().unwrap_or(1) > 0
            && !has_zero_ancestor(n, &by_id)
        {
            return Err(DslError::new(
                code::CYCLE,
                format!("Circular dependency detected: '{id}' is contained in itself"),
            ));
        }
    }
    let mut by_node: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, node, _, _) in &made {
        by_node.entry(node.as_str()).or_default().push(id.as_str());
    }
    for ids in by_node.values_mut() {
        ids.sort_unstable();
    }
    let mut out = Vec::with_capacity(made.len());
    for (id, node, parent, host) in &made {
        let n = by_id[node.as_str()];
        let mut rels = Vec::new();
        for r in n["relationships"].as_array().into_iter().flatten() {
            let target = r["target_id"].as_str().unwrap_or_default();
            let contained = r["type_hierarchy"]
                .as_array()
                .is_some_and(|h| h.iter().any(|t| t == "cloudify.relationships.contained_in"));
            let targets: Vec<&str> = if contained {
                parent.iter().map(String::as_str).collect()
            } else if r["properties"]["connection_type"] == "all_to_one" {
                by_node
                    .get(target)
                    .and_then(|t| t.first())
                    .into_iter()
                    .copied()
                    .collect()
            } else {
                by_node.get(target).cloned().unwrap_or_default()
            };
            for t in targets {
                rels.push(json!({"type": r["type"], "target_name": target, "target_id": t}));
            }
        }
        out.push(json!({
            "id": id, "node_id": node, "name": node, "host_id": host, "relationships": rels,
        }));
    }
    Ok(out)
}

fn has_zero_ancestor(n: &Value, by_id: &BTreeMap<&str, &Value>) -> bool {
    let mut cur = n;
    for _ in 0..=by_id.len() {
        let Some(p) = contained_in(cur).and_then(|p| by_id.get(p)) else {
            return false;
        };
        if p["instances"]["deploy"].as_u64() == Some(0) {
            return true;
        }
        cur = p;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, deploy: u64, host: bool, rels: Vec<Value>) -> Value {
        let h: Vec<&str> = if host {
            vec!["cloudify.nodes.Root", "cloudify.nodes.Compute"]
        } else {
            vec!["cloudify.nodes.Root"]
        };
        json!({"id": id, "type_hierarchy": h, "instances": {"deploy": deploy}, "relationships": rels})
    }

    fn rel(kind: &str, target: &str, conn: &str) -> Value {
        let h = if kind == "contained_in" {
            vec![
                "cloudify.relationships.depends_on",
                "cloudify.relationships.contained_in",
            ]
        } else {
            vec![
                "cloudify.relationships.depends_on",
                "cloudify.relationships.connected_to",
            ]
        };
        json!({"type": format!("cloudify.relationships.{kind}"), "target_id": target, "type_hierarchy": h, "properties": {"connection_type": conn}})
    }

    #[test]
    fn counts_multiply_down_containment_and_relationships_resolve() {
        let nodes = vec![
            node("vm", 2, true, vec![]),
            node(
                "app",
                3,
                false,
                vec![rel("contained_in", "vm", "all_to_all")],
            ),
            node("db", 2, true, vec![]),
            node(
                "web",
                1,
                false,
                vec![
                    rel("contained_in", "vm", "all_to_all"),
                    rel("connected_to", "db", "all_to_all"),
                ],
            ),
            node(
                "lb",
                1,
                false,
                vec![rel("connected_to", "db", "all_to_one")],
            ),
        ];
        let inst = generate(&nodes).unwrap();
        let count = |n: &str| inst.iter().filter(|i| i["node_id"] == n).count();
        assert_eq!(
            (
                count("vm"),
                count("app"),
                count("db"),
                count("web"),
                count("lb")
            ),
            (2, 6, 2, 2, 1)
        );
        let ids: HashSet<&str> = inst.iter().map(|i| i["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), inst.len(), "ids are unique");
        for i in &inst {
            let id = i["id"].as_str().unwrap();
            let node = i["node_id"].as_str().unwrap();
            assert!(
                id.starts_with(&format!("{node}_")) && id.len() == node.len() + 6,
                "{id}"
            );
            if node == "app" || node == "web" {
                let host = i["host_id"].as_str().unwrap();
                assert!(host.starts_with("vm_"));
                assert_eq!(
                    i["relationships"][0]["target_id"], host,
                    "contained_in targets the parent instance"
                );
            }
        }
        let web = inst.iter().find(|i| i["node_id"] == "web").unwrap();
        assert_eq!(
            web["relationships"].as_array().unwrap().len(),
            3,
            "contained_in + all_to_all to 2 db"
        );
        let lb = inst.iter().find(|i| i["node_id"] == "lb").unwrap();
        assert_eq!(
            lb["relationships"].as_array().unwrap().len(),
            1,
            "all_to_one"
        );
        assert!(lb["host_id"].is_null());
    }

    #[test]
    fn containment_loops_are_refused() {
        let nodes = vec![
            node("a", 1, false, vec![rel("contained_in", "b", "all_to_all")]),
            node("b", 1, false, vec![rel("contained_in", "a", "all_to_all")]),
        ];
        assert_eq!(generate(&nodes).unwrap_err().code, code::CYCLE);
    }
}
