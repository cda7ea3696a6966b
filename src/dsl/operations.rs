//! Operation mappings: plugin prefix, script path, executor, retries
//! (cloudify-api.md §2.5).

use std::path::Path;

use serde_json::{Map, Value};

use super::error::{DslError, DslResult, code};
use super::types::is_function;

pub const EXECUTORS: &[&str] = &["central_deployment_agent", "host_agent"];

/// Everything needed to resolve one operation.
pub struct OpContext<'a> {
    pub plugins: &'a Map<String, Value>,
    pub blueprint_dir: &'a Path,
    /// Code for an unresolvable mapping: 10 node, 19 relationship, 21 workflow.
    pub error_code: i32,
    /// The operation and interface names (empty for workflows), and the
    /// owner, e.g. `node 'vm' of type 'T'`; messages are built on error only.
    pub op: &'a str,
    pub iface: &'a str,
    pub owner: &'a str,
}

impl OpContext<'_> {
    fn describe(&self) -> String {
        if self.op.is_empty() {
            self.owner.to_owned()
        } else {
            format!(
                "operation '{}' in interface '{}' of {}",
                self.op, self.iface, self.owner
            )
        }
    }
}

/// (implementation, inputs, the other keys).
type OpParts = (String, Map<String, Value>, Map<String, Value>);

/// A type-level operation: `"impl"` or `{implementation, inputs: schema, …}`.
fn split(def: &Value) -> DslResult<OpParts> {
    match def {
        Value::Null => Ok((String::new(), Map::new(), Map::new())),
        Value::String(s) => Ok((s.clone(), Map::new(), Map::new())),
        Value::Object(m) => {
            let implementation = match m.get("implementation") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => {
                    return Err(DslError::format(format!(
                        "operation implementation must be a string, found {other}"
                    )));
                }
            };
            let inputs = m
                .get("inputs")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let mut rest = m.clone();
            rest.remove("implementation");
            rest.remove("inputs");
            Ok((implementation, inputs, rest))
        }
        other => Err(DslError::format(format!(
            "an operation must be a string or a dict, found {other}"
        ))),
    }
}

/// Merges a template's operation over its type's (an empty implementation
/// inherits the type's implementation and input schema) and resolves it.
pub fn resolve(
    type_def: Option<&Value>,
    template_def: Option<&Value>,
    ctx: &OpContext<'_>,
) -> DslResult<Value> {
    let (t_impl, t_schema, t_rest) = match type_def {
        Some(d) => split(d)?,
        None => (String::new(), Map::new(), Map::new()),
    };
    let (implementation, inputs, rest) = match template_def {
        None => (t_impl, schema_defaults(&t_schema, ctx)?, t_rest),
        Some(d) => {
            let (g_impl, g_inputs, g_rest) = split(d)?;
            if g_impl.is_empty() {
                let mut inputs = schema_defaults_partial(&t_schema);
                inputs.extend(g_inputs);
                check_required(&t_schema, &inputs, ctx)?;
                let mut rest = t_rest;
                rest.extend(g_rest);
                (t_impl, inputs, rest)
            } else {
                (g_impl, g_inputs, g_rest)
            }
        }
    };
    mapping(&implementation, inputs, &rest, ctx)
}

fn schema_defaults_partial(schema: &Map<String, Value>) -> Map<String, Value> {
    schema
        .iter()
        .filter_map(|(k, s)| s.get("default").map(|d| (k.clone(), d.clone())))
        .collect()
}

fn schema_defaults(
    schema: &Map<String, Value>,
    ctx: &OpContext<'_>,
) -> DslResult<Map<String, Value>> {
    let inputs = schema_defaults_partial(schema);
    check_required(schema, &inputs, ctx)?;
    Ok(inputs)
}

fn check_required(
    schema: &Map<String, Value>,
    inputs: &Map<String, Value>,
    ctx: &OpContext<'_>,
) -> DslResult<()> {
    for (k, s) in schema {
        let has_default = s.as_object().is_some_and(|m| m.contains_key("default"));
        if !has_default && !inputs.contains_key(k) && s.is_object() {
            return Err(DslError::new(
                code::MANDATORY_MISSING,
                format!(
                    "{} does not provide a value for mandatory input '{k}'",
                    ctx.describe()
                ),
            ));
        }
    }
    Ok(())
}

/// Turns an implementation string into `{plugin, operation, executor, …}`.
pub fn mapping(
    implementation: &str,
    mut inputs: Map<String, Value>,
    rest: &Map<String, Value>,
    ctx: &OpContext<'_>,
) -> DslResult<Value> {
    let executor = match rest.get("executor") {
        None | Some(Value::Null) => None,
        Some(Value::String(e)) if EXECUTORS.contains(&e.as_str()) => Some(e.clone()),
        Some(other) => {
            return Err(DslError::new(
                code::OPERATION_EXECUTOR,
                format!("{}: illegal executor {other}", ctx.describe()),
            ));
        }
    };
    let max_retries = rest.get("max_retries").cloned().unwrap_or(Value::Null);
    let retry_interval = rest.get("retry_interval").cloned().unwrap_or(Value::Null);
    if implementation.is_empty() {
        return Ok(obj! {
            "plugin" => "", "operation" => "", "executor" => executor, "inputs" => inputs,
            "has_intrinsic_functions" => false, "max_retries" => max_retries, "retry_interval" => retry_interval,
        });
    }
    let candidates: Vec<&String> = ctx
        .plugins
        .keys()
        .filter(|p| {
            implementation
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
        })
        .collect();
    let (plugin, operation) = match candidates.as_slice() {
        [p] => ((*p).clone(), implementation[p.len() + 1..].to_owned()),
        [] => {
            let script = ctx
                .blueprint_dir
                .join(implementation.trim_start_matches('/'));
            if !script.is_file() {
                return Err(DslError::new(
                    ctx.error_code,
                    format!(
                        "Could not extract plugin from operation mapping '{implementation}', which is declared for {}",
                        ctx.describe()
                    ),
                ));
            }
            if !ctx.plugins.contains_key("script") {
                return Err(DslError::new(
                    code::NO_SCRIPT_PLUGIN,
                    format!(
                        "Script plugin is not defined but it is required for mapping '{implementation}' of {}",
                        ctx.describe()
                    ),
                ));
            }
            if inputs.contains_key("script_path") {
                return Err(DslError::new(
                    code::SCRIPT_PATH_GIVEN,
                    format!(
                        "Cannot define 'script_path' input for {}: the mapping already names a script",
                        ctx.describe()
                    ),
                ));
            }
            inputs.insert(
                "script_path".into(),
                Value::String(implementation.to_owned()),
            );
            ("script".to_owned(), "script_runner.tasks.run".to_owned())
        }
        many => {
            return Err(DslError::new(
                code::AMBIGUOUS_MAPPING,
                format!(
                    "Ambiguous operation mapping '{implementation}' for {}: plugins {many:?} all match",
                    ctx.describe()
                ),
            ));
        }
    };
    let plugin_executor = ctx
        .plugins
        .get(&plugin)
        .and_then(|p| p.get("executor"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let executor = executor.or(plugin_executor);
    let has_functions = inputs.values().any(contains_function);
    Ok(obj! {
        "plugin" => plugin, "operation" => operation, "executor" => executor, "inputs" => inputs,
        "has_intrinsic_functions" => has_functions, "max_retries" => max_retries, "retry_interval" => retry_interval,
    })
}

/// Whether a value holds a function anywhere inside it.
pub fn contains_function(v: &Value) -> bool {
    is_function(v)
        || match v {
            Value::Object(m) => m.values().any(contains_function),
            Value::Array(a) => a.iter().any(contains_function),
            _ => false,
        }
}
