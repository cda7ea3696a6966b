//! Intrinsic functions (cloudify-api.md §2.9): validation at parse time and
//! the static evaluator (get_input, get_property, concat) used when a
//! deployment is prepared. get_attribute stays for run time.

use serde_json::{Map, Value};

use super::error::{DslError, DslResult, code};

#[derive(Clone, Copy)]
enum Scope {
    Node,
    Relationship,
    Outputs,
}

fn err(message: String) -> DslError {
    DslError::new(code::FUNCTION, message)
}

/// Checks every function call in the plan names things that exist.
pub fn validate_plan(plan: &Value, version: u8) -> DslResult<()> {
    let inputs = plan["inputs"].as_object().cloned().unwrap_or_default();
    let nodes: Vec<&str> = plan["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["id"].as_str())
        .collect();
    let check = |v: &Value, scope: Scope| {
        walk(v, &mut |name, args| {
            check_call(name, args, scope, &inputs, &nodes, version)
        })
    };
    for n in plan["nodes"].as_array().into_iter().flatten() {
        check(&n["properties"], Scope::Node)?;
        for op in n["operations"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, o)| o)
        {
            check(&op["inputs"], Scope::Node)?;
        }
        for r in n["relationships"].as_array().into_iter().flatten() {
            check(&r["properties"], Scope::Relationship)?;
            for side in ["source_operations", "target_operations"] {
                for op in r[side].as_object().into_iter().flatten().map(|(_, o)| o) {
                    check(&op["inputs"], Scope::Relationship)?;
                }
            }
        }
    }
    for o in plan["outputs"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, o)| o)
    {
        check(&o["value"], Scope::Outputs)?;
    }
    Ok(())
}

/// Calls `f(name, args)` for every function call inside `v`.
fn walk(v: &Value, f: &mut impl FnMut(&str, &Value) -> DslResult<()>) -> DslResult<()> {
    match v {
        Value::Object(m) if super::types::is_function(v) => {
            let (name, args) = m
                .iter()
                .next()
                .map(|(k, a)| (k.as_str(), a))
                .unwrap_or(("", &Value::Null));
            f(name, args)?;
            walk(args, f)
        }
        Value::Object(m) => m.values().try_for_each(|x| walk(x, f)),
        Value::Array(a) => a.iter().try_for_each(|x| walk(x, f)),
        _ => Ok(()),
    }
}

fn check_call(
    name: &str,
    args: &Value,
    scope: Scope,
    inputs: &Map<String, Value>,
    nodes: &[&str],
    version: u8,
) -> DslResult<()> {
    match name {
        "get_input" => match args {
            Value::String(i) if inputs.contains_key(i) => Ok(()),
            Value::String(i) => Err(err(format!(
                "get_input function references an unknown input '{i}'"
            ))),
            other => Err(err(format!(
                "get_input function argument should be a string, found {other}"
            ))),
        },
        "get_property" | "get_attribute" => {
            let parts = args.as_array().filter(|a| a.len() >= 2).ok_or_else(|| {
                err(format!(
                    "{name} function arguments must be a list of at least 2 elements, found {args}"
                ))
            })?;
            let target = parts[0].as_str().unwrap_or_default();
            let ok = match (target, scope) {
                ("SELF", Scope::Node) => true,
                ("SOURCE" | "TARGET", Scope::Relationship) => true,
                ("SELF" | "SOURCE" | "TARGET", _) => false,
                (n, _) => nodes.contains(&n),
            };
            if ok {
                Ok(())
            } else {
                Err(err(format!(
                    "{name} function refers to '{target}', which is not a node template or not allowed here"
                )))
            }
        }
        "concat" => {
            if version < 1 {
                return Err(DslError::new(
                    code::VERSION_GATE,
                    "concat not supported in version cloudify_dsl_1_0, it was added in cloudify_dsl_1_1",
                ));
            }
            args.is_array().then_some(()).ok_or_else(|| {
                err(format!(
                    "concat function argument should be a list, found {args}"
                ))
            })
        }
        _ => Ok(()),
    }
}

/// Static evaluation for one node's scope.
pub struct Evaluator<'a> {
    pub inputs: &'a Map<String, Value>,
    /// Node name → its properties.
    pub properties: &'a Map<String, Value>,
}

impl Evaluator<'_> {
    /// Replaces get_input, get_property and static concat in `v`.
    pub fn eval(&self, v: &Value, self_node: Option<&str>, depth: usize) -> DslResult<Value> {
        if depth > 32 {
            return Err(DslError::new(
                code::CYCLE,
                "Circular get_property function call detected",
            ));
        }
        match v {
            Value::Object(m) if super::types::is_function(v) => {
                let (name, args) = m
                    .iter()
                    .next()
                    .map(|(k, a)| (k.as_str(), a))
                    .unwrap_or(("", &Value::Null));
                match name {
                    "get_input" => {
                        let key = args.as_str().unwrap_or_default();
                        self.inputs.get(key).cloned().ok_or_else(|| {
                            err(format!(
                                "get_input function references an unknown input '{key}'"
                            ))
                        })
                    }
                    "get_property" => {
                        let parts = args.as_array().cloned().unwrap_or_default();
                        let node = match parts.first().and_then(Value::as_str) {
                            Some("SELF") => self_node.unwrap_or_default(),
                            Some(n) => n,
                            None => "",
                        };
                        let Some(props) = self.properties.get(node) else {
                            // SOURCE/TARGET are resolved at run time.
                            return Ok(v.clone());
                        };
                        let mut cur = props.clone();
                        for p in parts.iter().skip(1) {
                            cur = match (p, &cur) {
                                (Value::String(k), Value::Object(o)) => {
                                    o.get(k).cloned().unwrap_or(Value::Null)
                                }
                                (Value::Number(i), Value::Array(a)) => i
                                    .as_u64()
                                    .and_then(|i| a.get(i as usize))
                                    .cloned()
                                    .unwrap_or(Value::Null),
                                _ => Value::Null,
                            };
                        }
                        self.eval(&cur, Some(node), depth + 1)
                    }
                    "concat" => {
                        let parts: Vec<Value> = args
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|p| self.eval(p, self_node, depth + 1))
                            .collect::<DslResult<_>>()?;
                        if parts.iter().any(super::operations::contains_function) {
                            let mut m = Map::new();
                            m.insert("concat".into(), Value::Array(parts));
                            return Ok(Value::Object(m));
                        }
                        Ok(Value::String(
                            parts
                                .iter()
                                .map(|p| match p {
                                    Value::String(s) => s.clone(),
                                    Value::Null => "None".to_owned(),
                                    Value::Bool(true) => "True".to_owned(),
                                    Value::Bool(false) => "False".to_owned(),
                                    other => other.to_string(),
                                })
                                .collect(),
                        ))
                    }
                    _ => Ok(v.clone()),
                }
            }
            Value::Object(m) => Ok(Value::Object(
                m.iter()
                    .map(|(k, x)| Ok((k.clone(), self.eval(x, self_node, depth)?)))
                    .collect::<DslResult<_>>()?,
            )),
            Value::Array(a) => Ok(Value::Array(
                a.iter()
                    .map(|x| self.eval(x, self_node, depth))
                    .collect::<DslResult<_>>()?,
            )),
            other => Ok(other.clone()),
        }
    }
}

/// What run-time evaluation needs to know about node instances.
pub trait Runtime {
    /// The runtime properties of an instance.
    fn runtime_properties(&self, instance_id: &str) -> Option<Map<String, Value>>;
    /// The node an instance belongs to.
    fn node_of(&self, instance_id: &str) -> Option<String>;
    /// The instances of a node.
    fn instances_of(&self, node: &str) -> Vec<String>;
}

/// The instance contexts an operation or output is evaluated in.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub self_instance: Option<String>,
    pub source: Option<String>,
    pub target: Option<String>,
}

/// Evaluates get_attribute (runtime properties, falling back to the node's
/// properties, else null) and concat, after the static functions were
/// evaluated; used by `/evaluate/functions`, outputs and the workflow engine.
pub fn eval_runtime(
    v: &Value,
    ctx: &Context,
    rt: &dyn Runtime,
    node_properties: &Map<String, Value>,
) -> DslResult<Value> {
    match v {
        Value::Object(m) if super::types::is_function(v) => {
            let (name, args) = m
                .iter()
                .next()
                .map(|(k, a)| (k.as_str(), a))
                .unwrap_or(("", &Value::Null));
            match name {
                "get_attribute" => {
                    let parts = args.as_array().cloned().unwrap_or_default();
                    let reference = parts.first().and_then(Value::as_str).unwrap_or_default();
                    let instance = match reference {
                        "SELF" => ctx.self_instance.clone(),
                        "SOURCE" => ctx.source.clone(),
                        "TARGET" => ctx.target.clone(),
                        node => {
                            let all = rt.instances_of(node);
                            match all.as_slice() {
                                [one] => Some(one.clone()),
                                [] => {
                                    return Err(err(format!(
                                        "get_attribute: node '{node}' has no instances"
                                    )));
                                }
                                _ => {
                                    return Err(err(format!(
                                        "Multi instances of node '{node}' are not supported by get_attribute"
                                    )));
                                }
                            }
                        }
                    };
                    let Some(instance) = instance else {
                        return Err(err(format!(
                            "get_attribute: {reference} is not available in this context"
                        )));
                    };
                    let path: Vec<&Value> = parts.iter().skip(1).collect();
                    let runtime = rt.runtime_properties(&instance).unwrap_or_default();
                    if let Some(v) = lookup(&Value::Object(runtime), &path) {
                        return Ok(v);
                    }
                    let node = rt.node_of(&instance).unwrap_or_default();
                    Ok(node_properties
                        .get(&node)
                        .and_then(|p| lookup(p, &path))
                        .unwrap_or(Value::Null))
                }
                "concat" => {
                    let parts: Vec<Value> = args
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|p| eval_runtime(p, ctx, rt, node_properties))
                        .collect::<DslResult<_>>()?;
                    Ok(Value::String(parts.iter().map(stringify).collect()))
                }
                _ => Ok(v.clone()),
            }
        }
        Value::Object(m) => Ok(Value::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), eval_runtime(x, ctx, rt, node_properties)?)))
                .collect::<DslResult<_>>()?,
        )),
        Value::Array(a) => Ok(Value::Array(
            a.iter()
                .map(|x| eval_runtime(x, ctx, rt, node_properties))
                .collect::<DslResult<_>>()?,
        )),
        other => Ok(other.clone()),
    }
}

fn lookup(root: &Value, path: &[&Value]) -> Option<Value> {
    let mut cur = root;
    for p in path {
        cur = match (p, cur) {
            (Value::String(k), Value::Object(o)) => o.get(k)?,
            (Value::Number(i), Value::Array(a)) => a.get(i.as_u64()? as usize)?,
            _ => return None,
        };
    }
    Some(cur.clone())
}

/// Python's `str()` of a JSON value, as Cloudify's concat used it.
fn stringify(p: &Value) -> String {
    match p {
        Value::String(s) => s.clone(),
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Fake;
    impl Runtime for Fake {
        fn runtime_properties(&self, id: &str) -> Option<Map<String, Value>> {
            (id == "vm_1").then(|| {
                json!({"ip": "1.2.3.4", "nested": {"a": [5]}})
                    .as_object()
                    .cloned()
                    .unwrap()
            })
        }
        fn node_of(&self, id: &str) -> Option<String> {
            id.split('_').next().map(str::to_owned)
        }
        fn instances_of(&self, node: &str) -> Vec<String> {
            match node {
                "vm" => vec!["vm_1".into()],
                "web" => vec!["web_1".into(), "web_2".into()],
                _ => vec![],
            }
        }
    }

    #[test]
    fn get_attribute_reads_runtime_then_properties() {
        let props = json!({"vm": {"port": 22}}).as_object().cloned().unwrap();
        let ctx = Context {
            self_instance: Some("vm_1".into()),
            ..Context::default()
        };
        let v = json!({"a": {"get_attribute": ["SELF", "ip"]}, "b": {"get_attribute": ["vm", "nested", "a", 0]}, "c": {"get_attribute": ["vm", "port"]}, "d": {"get_attribute": ["vm", "missing"]}, "e": {"concat": ["http://", {"get_attribute": ["vm", "ip"]}, ":", 80]}});
        let out = eval_runtime(&v, &ctx, &Fake, &props).unwrap();
        assert_eq!(
            out,
            json!({"a": "1.2.3.4", "b": 5, "c": 22, "d": null, "e": "http://1.2.3.4:80"})
        );
        assert!(
            eval_runtime(&json!({"get_attribute": ["web", "x"]}), &ctx, &Fake, &props).is_err(),
            "multi-instance node"
        );
        assert!(
            eval_runtime(
                &json!({"get_attribute": ["TARGET", "x"]}),
                &ctx,
                &Fake,
                &props
            )
            .is_err(),
            "no target here"
        );
    }

    #[test]
    fn static_functions_evaluate() {
        let inputs = json!({"port": 8080}).as_object().cloned().unwrap();
        let props = json!({"vm": {"ip": "10.0.0.1", "list": ["a", {"b": 2}]}, "web": {"port": {"get_input": "port"}}}).as_object().cloned().unwrap();
        let e = Evaluator {
            inputs: &inputs,
            properties: &props,
        };
        let v = json!({"url": {"concat": ["http://", {"get_property": ["vm", "ip"]}, ":", {"get_property": ["web", "port"]}]}, "b": {"get_property": ["vm", "list", 1, "b"]}, "self": {"get_property": ["SELF", "ip"]}});
        let out = e.eval(&v, Some("vm"), 0).unwrap();
        assert_eq!(
            out,
            json!({"url": "http://10.0.0.1:8080", "b": 2, "self": "10.0.0.1"})
        );
        let runtime = e
            .eval(
                &json!({"concat": ["x", {"get_attribute": ["vm", "a"]}]}),
                None,
                0,
            )
            .unwrap();
        assert_eq!(
            runtime,
            json!({"concat": ["x", {"get_attribute": ["vm", "a"]}]})
        );
        let cyc = json!({"a": {"x": {"get_property": ["SELF", "x"]}}})
            .as_object()
            .cloned()
            .unwrap();
        let e = Evaluator {
            inputs: &inputs,
            properties: &cyc,
        };
        assert_eq!(
            e.eval(&json!({"get_property": ["a", "x"]}), None, 0)
                .unwrap_err()
                .code,
            code::CYCLE
        );
    }
}
