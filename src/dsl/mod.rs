//! The blueprint DSL: YAML → merged document → plan → deployment.
//!
//! [`parse`] reads a main blueprint file and its imports (offline: bundled
//! standard definitions and resolver rules) and returns the plan;
//! [`prepare_deployment`] checks inputs, evaluates static functions and
//! generates node instances. Both are pure apart from reading files.

/// Builds a JSON object by moving values in (`json!` would serialise a
/// deep copy of every interpolated map and vector).
macro_rules! obj {
    ($($k:expr => $v:expr),* $(,)?) => {{
        let mut m = serde_json::Map::new();
        $( m.insert($k.to_owned(), serde_json::Value::from($v)); )*
        serde_json::Value::Object(m)
    }};
}

mod bundled;
pub mod error;
pub mod functions;
mod imports;
pub mod instances;
pub mod modify;
mod operations;
mod parse;
pub mod types;
mod yaml;

use std::path::Path;

use serde_json::{Map, Value};

pub use error::{DslError, DslResult};
pub use imports::Resolver;

/// Parses the blueprint at `main` into its plan.
pub fn parse(main: &Path, resolver: &Resolver) -> DslResult<Value> {
    let doc = imports::load_merged(main, resolver)?;
    parse::plan(&doc, main)
}

/// Parses blueprint text as if it were the file `main`.
pub fn parse_text(text: &str, main: &Path, resolver: &Resolver) -> DslResult<Value> {
    let doc = imports::load_merged_text(text, main, resolver)?;
    parse::plan(&doc, main)
}

/// A deployment built from a plan: resolved inputs, nodes with static
/// functions evaluated, and node instances.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub inputs: Map<String, Value>,
    /// Output definitions with static functions resolved (get_attribute
    /// stays for run time), as 3.3 stored them.
    pub outputs: Map<String, Value>,
    pub nodes: Vec<Value>,
    pub node_instances: Vec<Value>,
}

/// Checks `given` against the plan's inputs and builds the deployment.
pub fn prepare_deployment(plan: &Value, given: &Map<String, Value>) -> DslResult<Deployment> {
    prepare_deployment_avoiding(plan, given, std::collections::HashSet::new())
}

/// As [`prepare_deployment`], with instance ids outside `taken`.
pub fn prepare_deployment_avoiding(
    plan: &Value,
    given: &Map<String, Value>,
    taken: std::collections::HashSet<String>,
) -> DslResult<Deployment> {
    let declared = plan["inputs"].as_object().cloned().unwrap_or_default();
    let unknown: Vec<&String> = given
        .keys()
        .filter(|k| !declared.contains_key(*k))
        .collect();
    if !unknown.is_empty() {
        return Err(DslError::new(
            error::code::UNKNOWN_INPUT,
            format!("Unknown input(s) specified: {unknown:?}"),
        ));
    }
    let mut inputs = Map::new();
    let mut missing = Vec::new();
    for (name, def) in &declared {
        match (given.get(name), def.get("default")) {
            (Some(v), _) => {
                inputs.insert(name.clone(), v.clone());
            }
            (None, Some(d)) if !d.is_null() => {
                inputs.insert(name.clone(), d.clone());
            }
            _ => missing.push(name.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(DslError::new(
            error::code::MISSING_INPUT,
            format!("Required inputs {missing:?} were not specified"),
        ));
    }
    let raw_nodes = plan["nodes"].as_array().cloned().unwrap_or_default();
    let properties: Map<String, Value> = raw_nodes
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?.to_owned(), n["properties"].clone())))
        .collect();
    let eval = functions::Evaluator {
        inputs: &inputs,
        properties: &properties,
    };
    let mut nodes = Vec::with_capacity(raw_nodes.len());
    for n in &raw_nodes {
        let id = n["id"].as_str();
        let mut n = n.clone();
        n["properties"] = eval.eval(&n["properties"], id, 0)?;
        if let Some(ops) = n["operations"].as_object_mut() {
            for op in ops.values_mut() {
                op["inputs"] = eval.eval(&op["inputs"], id, 0)?;
            }
        }
        nodes.push(n);
    }
    let node_instances = instances::generate_avoiding(&nodes, taken)?;
    let mut outputs = Map::new();
    for (name, o) in plan["outputs"].as_object().into_iter().flatten() {
        let mut o = o.clone();
        o["value"] = eval.eval(&o["value"], None, 0)?;
        outputs.insert(name.clone(), o);
    }
    Ok(Deployment {
        inputs,
        outputs,
        nodes,
        node_instances,
    })
}
