//! `cfyd blueprints validate`: the DSL parser offline, text or JSON output.

use std::process::ExitCode;

use serde_json::{Map, Value, json};

use crate::cli::ValidateArgs;
use crate::dsl::{self, DslError, Resolver};

/// Runs the command; invalid blueprints exit with status 1.
pub fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let resolver = Resolver {
        rules: args.resolver_rules.clone(),
        resources_base: args.resources_base.clone(),
    };
    let result = validate(args, &resolver);
    let ok = result.is_ok();
    match (&result, args.json) {
        (Ok(summary), true) => println!("{summary}"),
        (Err(e), true) => println!(
            "{}",
            json!({"valid": false, "error": {"code": e.code, "message": e.message}})
        ),
        (Ok(summary), false) => println!(
            "Blueprint is valid: {} nodes, {} node instances",
            summary["nodes"], summary["node_instances"]
        ),
        (Err(e), false) => eprintln!("Invalid blueprint (error code {}): {}", e.code, e.message),
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn validate(args: &ValidateArgs, resolver: &Resolver) -> Result<Value, DslError> {
    let plan = dsl::parse(&args.path, resolver)?;
    let inputs = match &args.inputs {
        None => None,
        Some(raw) => Some(read_inputs(raw)?),
    };
    let nodes = plan["nodes"].as_array().map_or(0, Vec::len);
    let instances = match &inputs {
        Some(given) => dsl::prepare_deployment(&plan, given)?.node_instances,
        None => dsl::instances::generate(plan["nodes"].as_array().map_or(&[][..], Vec::as_slice))?,
    };
    Ok(json!({
        "valid": true,
        "nodes": nodes,
        "node_instances": instances.len(),
        "dsl_version": plan["version"]["raw"],
        "workflows": plan["workflows"].as_object().map(|w| w.keys().cloned().collect::<Vec<_>>()),
    }))
}

/// `--inputs`: JSON text, or a file holding JSON or YAML.
fn read_inputs(raw: &str) -> Result<Map<String, Value>, DslError> {
    let text = if std::path::Path::new(raw).is_file() {
        std::fs::read_to_string(raw)
            .map_err(|e| DslError::format(format!("cannot read inputs file {raw}: {e}")))?
    } else {
        raw.to_owned()
    };
    let value: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(_) => serde_norway::from_str(&text)
            .map_err(|e| DslError::format(format!("inputs are neither JSON nor YAML: {e}")))?,
    };
    match value {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        other => Err(DslError::format(format!(
            "inputs must be a mapping, found {other}"
        ))),
    }
}
