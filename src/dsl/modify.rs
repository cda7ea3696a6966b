//! Deployment modification (the scale workflow's core): change how many
//! instances some nodes have per parent instance, keeping existing ids,
//! adding new ones with their contained subtrees, removing by hints
//! (cloudify-api.md §1.4 deployment modifications, §2.10).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Value, json};

use super::error::{DslError, DslResult};
use super::instances::{MAX_INSTANCES, contained_in, new_id};

/// The new instance set and what changed.
#[derive(Debug, Clone)]
pub struct Modification {
    /// Every instance after the change, relationships recomputed.
    pub instances: Vec<Value>,
    /// New instances (`modification: "added"`) and existing ones related to them.
    pub added_and_related: Vec<Value>,
    /// Removed instances (`modification: "removed"`) and existing ones related to them.
    pub removed_and_related: Vec<Value>,
}

/// One instance as planned: id, node, parent instance.
struct Planned {
    id: String,
    node: String,
    parent: Option<String>,
}

/// Applies `counts` (node id → instances per parent instance).
pub fn modify(
    nodes: &[Value],
    current: &[Value],
    counts: &BTreeMap<String, u64>,
    include_hint: &[String],
    exclude_hint: &[String],
) -> DslResult<Modification> {
    let by_id: BTreeMap<&str, &Value> = nodes
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    for n in counts.keys() {
        if !by_id.contains_key(n.as_str()) {
            return Err(DslError::format(format!(
                "modified node '{n}' does not exist in the deployment"
            )));
        }
    }
    let mut child_nodes: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut roots = Vec::new();
    for (id, n) in &by_id {
        match contained_in(n) {
            Some(p) => child_nodes.entry(p).or_default().push(id),
            None => roots.push(*id),
        }
    }
    // Existing instances grouped by (node, parent instance).
    let mut existing: HashMap<(String, Option<String>), Vec<String>> = HashMap::new();
    let mut old_by_id: HashMap<String, &Value> = HashMap::new();
    for inst in current {
        let id = inst["id"].as_str().unwrap_or_default().to_owned();
        let node = inst["node_id"].as_str().unwrap_or_default().to_owned();
        let container_type = by_id.get(node.as_str()).and_then(|n| {
            n["relationships"].as_array()?.iter().find_map(|r| {
                let contained = r["type_hierarchy"]
                    .as_array()?
                    .iter()
                    .any(|t| t == "cloudify.relationships.contained_in");
                contained.then(|| r["type"].as_str())?
            })
        });
        let parent = inst["relationships"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|r| {
                (container_type.is_some() && r["type"].as_str() == container_type)
                    .then(|| r["target_id"].as_str().map(str::to_owned))?
            });
        existing.entry((node, parent)).or_default().push(id.clone());
        old_by_id.insert(id, inst);
    }
    let mut taken: HashSet<String> = old_by_id.keys().cloned().collect();
    let mut rng = rand::rng();
    let mut planned: Vec<Planned> = Vec::new();
    let mut added: HashSet<String> = HashSet::new();
    // (node, parent instance, parent is new)
    let mut stack: Vec<(&str, Option<String>, bool)> =
        roots.iter().rev().map(|r| (*r, None, false)).collect();
    while let Some((node, parent, parent_new)) = stack.pop() {
        let mut have = existing
            .get(&(node.to_owned(), parent.clone()))
            .cloned()
            .unwrap_or_default();
        have.sort();
        let deploy = by_id[node]["instances"]["deploy"].as_u64().unwrap_or(1);
        let target = match counts.get(node) {
            Some(c) => *c as usize,
            None if parent_new => deploy as usize,
            None => have.len(),
        };
        if have.len() > target {
            // Remove: hinted first, then unhinted, then excluded ones last.
            let rank = |id: &String| {
                if include_hint.contains(id) {
                    0
                } else if exclude_hint.contains(id) {
                    2
                } else {
                    1
                }
            };
            have.sort_by_key(|id| (rank(id), id.clone()));
            have.drain(..have.len() - target);
            have.sort();
        }
        let mut ids: Vec<(String, bool)> = have.into_iter().map(|id| (id, false)).collect();
        while ids.len() < target {
            let id = new_id(node, &mut taken, &mut rng);
            added.insert(id.clone());
            ids.push((id, true));
        }
        for (id, is_new) in ids {
            for child in child_nodes.get(node).into_iter().flatten().rev() {
                stack.push((child, Some(id.clone()), is_new || parent_new));
            }
            planned.push(Planned {
                id,
                node: node.to_owned(),
                parent: parent.clone(),
            });
            if planned.len() > MAX_INSTANCES {
                return Err(DslError::format(format!(
                    "the deployment would have more than {MAX_INSTANCES} node instances"
                )));
            }
        }
    }
    let kept: HashSet<&str> = planned.iter().map(|p| p.id.as_str()).collect();
    let removed: Vec<&Value> = current
        .iter()
        .filter(|i| !kept.contains(i["id"].as_str().unwrap_or_default()))
        .collect();

    // Relationships and hosts for the new set.
    let mut of_node: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for p in &planned {
        of_node
            .entry(p.node.as_str())
            .or_default()
            .push(p.id.as_str());
    }
    for ids in of_node.values_mut() {
        ids.sort_unstable();
    }
    let parent_of: HashMap<&str, Option<&str>> = planned
        .iter()
        .map(|p| (p.id.as_str(), p.parent.as_deref()))
        .collect();
    let host_of = |id: &str| -> Option<String> {
        let mut cur = Some(id);
        while let Some(c) = cur {
            let node = planned
                .iter()
                .find(|p| p.id == c)
                .map(|p| p.node.as_str())?;
            if by_id[node]["type_hierarchy"]
                .as_array()
                .is_some_and(|h| h.iter().any(|t| t == "cloudify.nodes.Compute"))
            {
                return Some(c.to_owned());
            }
            cur = parent_of.get(c).copied().flatten();
        }
        None
    };
    let mut instances = Vec::with_capacity(planned.len());
    for p in &planned {
        let n = by_id[p.node.as_str()];
        let mut rels = Vec::new();
        for r in n["relationships"].as_array().into_iter().flatten() {
            let target = r["target_id"].as_str().unwrap_or_default();
            let contained = r["type_hierarchy"]
                .as_array()
                .is_some_and(|h| h.iter().any(|t| t == "cloudify.relationships.contained_in"));
            let targets: Vec<String> = if contained {
                p.parent.iter().cloned().collect()
            } else if r["properties"]["connection_type"] == "all_to_one" {
                // Keep the target chosen before, while it exists.
                let before = old_by_id.get(&p.id).and_then(|o| {
                    o["relationships"]
                        .as_array()?
                        .iter()
                        .find(|x| x["target_name"] == target)
                        .and_then(|x| x["target_id"].as_str())
                });
                match before.filter(|b| kept.contains(b)) {
                    Some(b) => vec![b.to_owned()],
                    None => of_node
                        .get(target)
                        .and_then(|t| t.first())
                        .map(|t| (*t).to_owned())
                        .into_iter()
                        .collect(),
                }
            } else {
                of_node
                    .get(target)
                    .map(|t| t.iter().map(|x| (*x).to_owned()).collect())
                    .unwrap_or_default()
            };
            for t in targets {
                rels.push(json!({"type": r["type"], "target_name": target, "target_id": t}));
            }
        }
        instances.push(json!({"id": p.id, "node_id": p.node, "name": p.node, "host_id": host_of(&p.id), "relationships": rels}));
    }

    let removed_ids: HashSet<String> = removed
        .iter()
        .filter_map(|i| i["id"].as_str().map(str::to_owned))
        .collect();
    let added_and_related = changed_and_related(&added, &instances, "added");
    let removed_and_related = changed_and_related(&removed_ids, current, "removed");
    Ok(Modification {
        instances,
        added_and_related,
        removed_and_related,
    })
}

/// The changed instances (marked `modification`) and both ends of their
/// relationships, as 3.3's graph diff reported them: an instance that points
/// at a changed one carries only those relationships; one a changed instance
/// points at carries none.
fn changed_and_related(changed: &HashSet<String>, pool: &[Value], mark: &str) -> Vec<Value> {
    let id_of = |i: &Value| i["id"].as_str().unwrap_or_default().to_owned();
    let mut out: Vec<Value> = Vec::new();
    let mut targets: Vec<String> = Vec::new();
    for i in pool.iter().filter(|i| changed.contains(&id_of(i))) {
        let mut i = i.clone();
        for r in i["relationships"].as_array().into_iter().flatten() {
            if let Some(t) = r["target_id"].as_str() {
                targets.push(t.to_owned());
            }
        }
        i["modification"] = json!(mark);
        out.push(i);
    }
    for i in pool.iter().filter(|i| !changed.contains(&id_of(i))) {
        let to_changed: Vec<Value> = i["relationships"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| changed.contains(r["target_id"].as_str().unwrap_or_default()))
            .cloned()
            .collect();
        if !to_changed.is_empty() || targets.contains(&id_of(i)) {
            let mut i = i.clone();
            i["relationships"] = Value::Array(to_changed);
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::instances::generate;

    fn nodes() -> Vec<Value> {
        let contained = json!({"type": "cloudify.relationships.contained_in", "target_id": "vm", "type_hierarchy": ["cloudify.relationships.depends_on", "cloudify.relationships.contained_in"], "properties": {}});
        let connected = json!({"type": "cloudify.relationships.connected_to", "target_id": "vm", "type_hierarchy": ["cloudify.relationships.depends_on", "cloudify.relationships.connected_to"], "properties": {"connection_type": "all_to_all"}});
        vec![
            json!({"id": "vm", "type_hierarchy": ["cloudify.nodes.Root", "cloudify.nodes.Compute"], "instances": {"deploy": 1}, "relationships": []}),
            json!({"id": "app", "type_hierarchy": ["cloudify.nodes.Root"], "instances": {"deploy": 2}, "relationships": [contained]}),
            json!({"id": "lb", "type_hierarchy": ["cloudify.nodes.Root"], "instances": {"deploy": 1}, "relationships": [connected]}),
        ]
    }

    fn count(instances: &[Value], node: &str) -> usize {
        instances.iter().filter(|i| i["node_id"] == node).count()
    }

    #[test]
    fn scale_out_adds_hosts_with_their_contents_and_keeps_ids() {
        let n = nodes();
        let before = generate(&n).unwrap();
        let m = modify(
            &n,
            &before,
            &BTreeMap::from([("vm".to_string(), 3)]),
            &[],
            &[],
        )
        .unwrap();
        assert_eq!(
            (
                count(&m.instances, "vm"),
                count(&m.instances, "app"),
                count(&m.instances, "lb")
            ),
            (3, 6, 1)
        );
        for old in &before {
            assert!(
                m.instances.iter().any(|i| i["id"] == old["id"]),
                "existing ids are kept"
            );
        }
        let added: Vec<&Value> = m
            .added_and_related
            .iter()
            .filter(|i| i["modification"] == "added")
            .collect();
        assert_eq!(added.len(), 6, "2 vms and their 4 apps");
        let lb = m
            .added_and_related
            .iter()
            .find(|i| i["node_id"] == "lb")
            .expect("lb is related to the new vms");
        assert_eq!(
            lb["relationships"].as_array().unwrap().len(),
            2,
            "only its relationships to the new vms"
        );
        let lb_now = m.instances.iter().find(|i| i["node_id"] == "lb").unwrap();
        assert_eq!(
            lb_now["relationships"].as_array().unwrap().len(),
            3,
            "the full set afterwards"
        );
        for app in m.instances.iter().filter(|i| i["node_id"] == "app") {
            assert_eq!(app["host_id"], app["relationships"][0]["target_id"]);
        }
    }

    #[test]
    fn scale_in_removes_hinted_instances_and_their_contents() {
        let n = nodes();
        let grown = modify(
            &n,
            &generate(&n).unwrap(),
            &BTreeMap::from([("vm".to_string(), 3)]),
            &[],
            &[],
        )
        .unwrap()
        .instances;
        let vms: Vec<String> = grown
            .iter()
            .filter(|i| i["node_id"] == "vm")
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        let m = modify(
            &n,
            &grown,
            &BTreeMap::from([("vm".to_string(), 1)]),
            &[vms[2].clone()],
            &[vms[0].clone()],
        )
        .unwrap();
        let left: Vec<&str> = m
            .instances
            .iter()
            .filter(|i| i["node_id"] == "vm")
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert_eq!(left, vec![vms[0].as_str()], "the excluded one stays");
        assert_eq!(count(&m.instances, "app"), 2);
        let removed = m
            .removed_and_related
            .iter()
            .filter(|i| i["modification"] == "removed")
            .count();
        assert_eq!(removed, 6, "2 vms and their 4 apps");
        assert!(
            modify(
                &n,
                &grown,
                &BTreeMap::from([("ghost".to_string(), 1)]),
                &[],
                &[]
            )
            .is_err()
        );
    }
}
