//! Property test: random valid blueprints → plan invariants (instance counts
//! are products of `deploy` down contained_in, ids unique, hosts and
//! relationship instances resolve) and concat/get_property evaluation
//! against a tiny reference.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
struct NodeSpec {
    host: bool,
    deploy: u8,
    /// Index of an earlier node to be contained in.
    parent: Option<usize>,
    /// Index of an earlier node to connect to, and whether all_to_one.
    connect: Option<(usize, bool)>,
}

fn specs() -> impl Strategy<Value = Vec<NodeSpec>> {
    proptest::collection::vec(
        (
            any::<bool>(),
            0u8..4,
            any::<Option<u8>>(),
            any::<Option<(u8, bool)>>(),
        ),
        1..10,
    )
    .prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(|(i, (host, deploy, parent, connect))| NodeSpec {
                host,
                deploy,
                parent: parent.filter(|_| i > 0).map(|p| p as usize % i),
                connect: connect
                    .filter(|_| i > 0)
                    .map(|(c, one)| (c as usize % i, one)),
            })
            .collect()
    })
}

fn render(specs: &[NodeSpec]) -> String {
    let mut y = String::from(
        "tosca_definitions_version: cloudify_dsl_1_2\nimports: [http://www.getcloudify.org/spec/cloudify/3.3.1/types.yaml]\nnode_templates:\n",
    );
    for (i, s) in specs.iter().enumerate() {
        let ty = if s.host {
            "cloudify.nodes.Compute"
        } else {
            "cloudify.nodes.SoftwareComponent"
        };
        y.push_str(&format!(
            "  n{i}:\n    type: {ty}\n    instances: {{deploy: {}}}\n    relationships:\n",
            s.deploy
        ));
        if let Some(p) = s.parent {
            y.push_str(&format!(
                "      - {{type: cloudify.relationships.contained_in, target: n{p}}}\n"
            ));
        }
        if let Some((c, one)) = s.connect {
            let conn = if one { "all_to_one" } else { "all_to_all" };
            y.push_str(&format!("      - {{type: cloudify.relationships.connected_to, target: n{c}, properties: {{connection_type: {conn}}}}}\n"));
        }
        if s.parent.is_none() && s.connect.is_none() {
            y.push_str("      []\n");
        }
    }
    y
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn plans_keep_their_invariants(specs in specs()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bp.yaml");
        std::fs::write(&path, render(&specs)).unwrap();
        let plan = cfyd::dsl::parse(&path, &cfyd::dsl::Resolver::default()).unwrap();
        let inst = cfyd::dsl::instances::generate(plan["nodes"].as_array().unwrap()).unwrap();

        // Expected count: deploy × the parent's count.
        let mut expected = vec![0usize; specs.len()];
        for (i, s) in specs.iter().enumerate() {
            expected[i] = s.deploy as usize * s.parent.map_or(1, |p| expected[p]);
        }
        let mut by_node: HashMap<String, Vec<&Value>> = HashMap::new();
        for i in &inst {
            by_node.entry(i["node_id"].as_str().unwrap().to_owned()).or_default().push(i);
        }
        for (i, want) in expected.iter().enumerate() {
            prop_assert_eq!(by_node.get(&format!("n{i}")).map_or(0, Vec::len), *want, "count of n{}", i);
        }
        let ids: HashSet<&str> = inst.iter().map(|i| i["id"].as_str().unwrap()).collect();
        prop_assert_eq!(ids.len(), inst.len());
        let node_of: HashMap<&str, &str> = inst.iter().map(|i| (i["id"].as_str().unwrap(), i["node_id"].as_str().unwrap())).collect();
        for i in &inst {
            let node: usize = i["node_id"].as_str().unwrap()[1..].parse().unwrap();
            let s = &specs[node];
            let rels = i["relationships"].as_array().unwrap();
            let mut parent_instance = None;
            for r in rels {
                let t = r["target_id"].as_str().unwrap();
                prop_assert!(ids.contains(t), "relationship target {} exists", t);
                prop_assert_eq!(node_of[t], r["target_name"].as_str().unwrap());
                if r["type"] == "cloudify.relationships.contained_in" {
                    parent_instance = Some(t);
                }
            }
            if let Some((c, one)) = s.connect {
                let n = rels.iter().filter(|r| r["type"] == "cloudify.relationships.connected_to").count();
                let targets = expected[c];
                prop_assert_eq!(n, if one { targets.min(1) } else { targets });
            }
            // The host is this instance if it is a Compute, else its parent's.
            let host = i["host_id"].as_str();
            if s.host {
                prop_assert_eq!(host, i["id"].as_str());
            } else {
                let parent_host = parent_instance.and_then(|p| inst.iter().find(|x| x["id"] == p)).and_then(|p| p["host_id"].as_str());
                prop_assert_eq!(host, parent_host);
            }
        }
    }

    #[test]
    fn concat_and_get_property_match_a_reference(parts in proptest::collection::vec(prop_oneof!["[a-z:/.]{0,6}".prop_map(Value::from), (0i64..1000).prop_map(Value::from)], 0..6)) {
        let props = json!({"n": {"p": parts.clone()}}).as_object().cloned().unwrap();
        let inputs = serde_json::Map::new();
        let e = cfyd::dsl::functions::Evaluator { inputs: &inputs, properties: &props };
        let calls: Vec<Value> = (0..parts.len()).map(|i| json!({"get_property": ["n", "p", i]})).collect();
        let got = e.eval(&json!({"concat": calls}), None, 0).unwrap();
        let want: String = parts.iter().map(|p| match p { Value::String(s) => s.clone(), other => other.to_string() }).collect();
        prop_assert_eq!(got, Value::String(want));
    }
}
