//! From the merged blueprint document to a deployment plan: version checks,
//! types, plugins, node templates, relationships, workflows, groups and
//! function references (cloudify-api.md §2).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::rc::Rc;

use serde_json::{Map, Value, json};

use super::error::{DslError, DslResult, code};
use super::functions;
use super::imports::type_name;
use super::operations::{self, EXECUTORS, OpContext};
use super::types;

const TOP_LEVEL: &[&str] = &[
    "tosca_definitions_version",
    "description",
    "imports",
    "dsl_definitions",
    "inputs",
    "plugins",
    "node_types",
    "relationships",
    "data_types",
    "node_templates",
    "workflows",
    "policy_types",
    "policy_triggers",
    "groups",
    "outputs",
];

/// A type's hierarchy and merged sections, computed once per parse.
struct TypeInfo {
    chain: Vec<String>,
    schema: Map<String, Value>,
    /// Merged interface sections, in the order asked for.
    interfaces: Vec<Map<String, Value>>,
}

/// Per-parse memo of type information and of operations resolved from
/// type definitions alone.
#[derive(Default)]
struct Memo {
    types: RefCell<HashMap<(String, String), Rc<TypeInfo>>>,
    ops: RefCell<HashMap<(String, String, String), Value>>,
}

impl Memo {
    fn type_info(
        &self,
        kind: &str,
        defs: &Map<String, Value>,
        name: &str,
        sections: &[&str],
    ) -> DslResult<Rc<TypeInfo>> {
        let key = (kind.to_owned(), name.to_owned());
        if let Some(info) = self.types.borrow().get(&key) {
            return Ok(info.clone());
        }
        let chain = types::hierarchy(kind, defs, name)?;
        let info = Rc::new(TypeInfo {
            schema: types::merged_schema(defs, &chain, "properties"),
            interfaces: sections
                .iter()
                .map(|s| types::merged_interfaces(defs, &chain, s))
                .collect(),
            chain,
        });
        self.types.borrow_mut().insert(key, info.clone());
        Ok(info)
    }
}

/// `cloudify_dsl_1_x` as its minor number.
pub fn dsl_version(doc: &Map<String, Value>) -> DslResult<u8> {
    let raw = doc.get("tosca_definitions_version").ok_or_else(|| {
        DslError::new(
            code::MISSING_VERSION,
            "tosca_definitions_version is missing or empty",
        )
    })?;
    let Value::String(raw) = raw else {
        return Err(DslError::new(
            71,
            format!("tosca_definitions_version must be a string, found {raw}"),
        ));
    };
    match raw.as_str() {
        "cloudify_dsl_1_0" => Ok(0),
        "cloudify_dsl_1_1" => Ok(1),
        "cloudify_dsl_1_2" => Ok(2),
        other => Err(DslError::new(
            code::UNSUPPORTED_VERSION,
            format!(
                "Unexpected tosca_definitions_version {other}; Currently supported versions are: [cloudify_dsl_1_0, cloudify_dsl_1_1, cloudify_dsl_1_2]"
            ),
        )),
    }
}

fn gate(feature: &str, have: u8, need: u8) -> DslResult<()> {
    if have < need {
        return Err(DslError::new(
            code::VERSION_GATE,
            format!(
                "{feature} not supported in version cloudify_dsl_1_{have}, it was added in cloudify_dsl_1_{need}"
            ),
        ));
    }
    Ok(())
}

fn section(doc: &Map<String, Value>, key: &str) -> DslResult<Map<String, Value>> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(other) => Err(DslError::format(format!(
            "Expected 'dict' type but found '{}' type for '{key}'",
            type_name(other)
        ))),
    }
}

fn dict<'a>(v: &'a Value, what: &str) -> DslResult<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| {
        DslError::format(format!(
            "Expected 'dict' type but found '{}' type for {what}",
            type_name(v)
        ))
    })
}

/// Parses the merged document `doc` (main file at `main`) into a plan.
pub fn plan(doc: &Value, main: &Path) -> DslResult<Value> {
    let doc = dict(doc, "the blueprint")?;
    for key in doc.keys() {
        if !TOP_LEVEL.contains(&key.as_str()) {
            return Err(DslError::format(format!(
                "'{key}' is not in schema. Valid schema values: {TOP_LEVEL:?}"
            )));
        }
    }
    let version = dsl_version(doc)?;
    for (key, need) in [
        ("description", 2),
        ("data_types", 2),
        ("dsl_definitions", 2),
    ] {
        if doc.contains_key(key) {
            gate(key, version, need)?;
        }
    }
    let blueprint_dir = main.parent().unwrap_or(Path::new("."));
    let inputs = section(doc, "inputs")?;
    let plugins = plugins(&section(doc, "plugins")?, version)?;
    let node_types = section(doc, "node_types")?;
    let rel_types = section(doc, "relationships")?;
    let data_types = section(doc, "data_types")?;
    types::check_data_types(&data_types)?;
    let templates = section(doc, "node_templates")?;
    if !doc.contains_key("node_templates") {
        return Err(DslError::format(
            "'node_templates' key is required but it is missing",
        ));
    }

    let memo = Memo::default();
    let mut nodes = Vec::new();
    for (name, t) in &templates {
        nodes.push(node(
            &memo,
            name,
            dict(t, &format!("node template '{name}'"))?,
            &templates,
            &node_types,
            &rel_types,
            &data_types,
            &plugins,
            blueprint_dir,
            version,
        )?);
    }
    check_hosts(&mut nodes, &node_types)?;

    let workflows = workflows(&section(doc, "workflows")?, &plugins, blueprint_dir)?;
    let policy_types = section(doc, "policy_types")?;
    let policy_triggers = section(doc, "policy_triggers")?;
    let groups = groups(
        &section(doc, "groups")?,
        &templates,
        &policy_types,
        &policy_triggers,
    )?;
    let outputs = section(doc, "outputs")?;
    for (name, o) in &outputs {
        if !dict(o, &format!("output '{name}'"))?.contains_key("value") {
            return Err(DslError::format(format!(
                "'value' key is required but it is missing for output '{name}'"
            )));
        }
    }
    let deployment_plugins = deployment_plugins(&nodes);
    let workflow_plugins = workflow_plugins(&workflows, &plugins);
    let plan = obj! {
        "description" => doc.get("description").cloned().unwrap_or(Value::Null),
        "inputs" => inputs,
        "outputs" => outputs,
        "nodes" => nodes,
        "relationships" => rel_types,
        "workflows" => workflows,
        "policy_types" => policy_types,
        "policy_triggers" => policy_triggers,
        "groups" => groups,
        "deployment_plugins_to_install" => deployment_plugins,
        "workflow_plugins_to_install" => workflow_plugins,
        "version" => json!({"raw": format!("cloudify_dsl_1_{version}"), "definitions_name": "cloudify_dsl", "definitions_version": [1, version]}),
    };
    functions::validate_plan(&plan, version)?;
    Ok(plan)
}

fn plugins(section: &Map<String, Value>, version: u8) -> DslResult<Map<String, Value>> {
    let mut out = Map::new();
    for (name, p) in section {
        let p = dict(p, &format!("plugin '{name}'"))?;
        let executor = p.get("executor").and_then(Value::as_str);
        if !executor.is_some_and(|e| EXECUTORS.contains(&e)) {
            return Err(DslError::new(
                code::PLUGIN_EXECUTOR,
                format!(
                    "plugin '{name}' has an illegal executor {:?}; expected one of {EXECUTORS:?}",
                    p.get("executor")
                ),
            ));
        }
        if p.contains_key("install_arguments") {
            gate("install_arguments", version, 1)?;
        }
        for key in [
            "package_name",
            "package_version",
            "supported_platform",
            "distribution",
            "distribution_version",
            "distribution_release",
        ] {
            if p.contains_key(key) {
                gate(key, version, 2)?;
            }
        }
        let install = p.get("install").and_then(Value::as_bool).unwrap_or(true);
        if install
            && p.get("source").is_none_or(Value::is_null)
            && p.get("package_name").is_none_or(Value::is_null)
        {
            return Err(DslError::new(
                code::PLUGIN_SOURCE,
                format!(
                    "plugin '{name}' needs to be installed, but does not declare a source or package_name property"
                ),
            ));
        }
        let mut p = p.clone();
        p.insert("name".into(), Value::String(name.clone()));
        p.entry("install").or_insert(Value::Bool(true));
        out.insert(name.clone(), Value::Object(p));
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn node(
    memo: &Memo,
    name: &str,
    t: &Map<String, Value>,
    templates: &Map<String, Value>,
    node_types: &Map<String, Value>,
    rel_types: &Map<String, Value>,
    data_types: &Map<String, Value>,
    plugins: &Map<String, Value>,
    blueprint_dir: &Path,
    version: u8,
) -> DslResult<Value> {
    for key in t.keys() {
        if ![
            "type",
            "properties",
            "interfaces",
            "relationships",
            "instances",
        ]
        .contains(&key.as_str())
        {
            return Err(DslError::format(format!(
                "'{key}' is not in schema for node template '{name}'"
            )));
        }
    }
    let ty = t.get("type").and_then(Value::as_str).ok_or_else(|| {
        DslError::format(format!(
            "'type' key is required but it is missing for node template '{name}'"
        ))
    })?;
    if !node_types.contains_key(ty) {
        return Err(DslError::new(
            code::UNKNOWN_NODE_TYPE,
            format!(
                "Could not locate node type: '{ty}'; existing types: {:?}",
                node_types.keys().collect::<Vec<_>>()
            ),
        ));
    }
    let info = memo.type_info("node type", node_types, ty, &["interfaces"])?;
    let chain = info.chain.clone();
    let schema = &info.schema;
    let given = match t.get("properties") {
        None | Some(Value::Null) => Map::new(),
        Some(v) => dict(v, &format!("properties of node '{name}'"))?.clone(),
    };
    let properties =
        types::validate_properties(&format!("'{name}' node"), schema, &given, data_types, 0)?;

    let deploy = match t.get("instances").and_then(|i| i.get("deploy")) {
        None => 1,
        Some(v) => match v.as_i64() {
            Some(n) if n >= 0 => n,
            _ => {
                return Err(DslError::format(format!(
                    "'instances.deploy' of node '{name}' must be a non-negative integer, found {v}"
                )));
            }
        },
    };

    let type_ifaces = &info.interfaces[0];
    let template_ifaces = match t.get("interfaces") {
        None | Some(Value::Null) => Map::new(),
        Some(v) => dict(v, &format!("interfaces of node '{name}'"))?.clone(),
    };
    let operations = interface_operations(
        memo,
        &format!("node_type/{ty}"),
        type_ifaces,
        &template_ifaces,
        plugins,
        blueprint_dir,
        code::NODE_OPERATION,
        &format!("node '{name}' of type '{ty}'"),
        version,
    )?;

    let mut relationships = Vec::new();
    let mut containers = 0;
    let rels = match t.get("relationships") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(other) => {
            return Err(DslError::format(format!(
                "'relationships' of node '{name}' must be a list, found '{}'",
                type_name(other)
            )));
        }
    };
    for r in &rels {
        let r = dict(r, &format!("a relationship of node '{name}'"))?;
        let rtype = r.get("type").and_then(Value::as_str).ok_or_else(|| {
            DslError::format(format!("a relationship of node '{name}' has no 'type'"))
        })?;
        let target = r.get("target").and_then(Value::as_str).ok_or_else(|| {
            DslError::format(format!("a relationship of node '{name}' has no 'target'"))
        })?;
        if !rel_types.contains_key(rtype) {
            return Err(DslError::new(
                code::UNKNOWN_RELATIONSHIP,
                format!("'{name}' node relationship '{rtype}' is not defined"),
            ));
        }
        if target == name {
            return Err(DslError::new(
                code::SELF_RELATIONSHIP,
                format!("'{name}' node has a relationship to itself"),
            ));
        }
        if !templates.contains_key(target) {
            return Err(DslError::new(
                code::UNKNOWN_TARGET,
                format!(
                    "'{name}' node has a relationship '{rtype}' to a node that is not defined: '{target}'"
                ),
            ));
        }
        let rinfo = memo.type_info(
            "relationship",
            rel_types,
            rtype,
            &["source_interfaces", "target_interfaces"],
        )?;
        let rchain = rinfo.chain.clone();
        if rchain
            .iter()
            .any(|t| t == "cloudify.relationships.contained_in")
        {
            containers += 1;
            if containers > 1 {
                return Err(DslError::new(
                    code::TWO_CONTAINERS,
                    format!(
                        "'{name}' node has more than one relationship derived from 'cloudify.relationships.contained_in'"
                    ),
                ));
            }
        }
        let rschema = &rinfo.schema;
        let rgiven = r
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let rprops = types::validate_properties(
            &format!("'{name}' node relationship '{rtype}'"),
            rschema,
            &rgiven,
            data_types,
            0,
        )?;
        let mut ops = Map::new();
        for (i, side) in ["source_interfaces", "target_interfaces"]
            .into_iter()
            .enumerate()
        {
            let type_ifaces = &rinfo.interfaces[i];
            let given = r
                .get(side)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let resolved = interface_operations(
                memo,
                &format!("relationship/{rtype}/{side}"),
                type_ifaces,
                &given,
                plugins,
                blueprint_dir,
                code::RELATIONSHIP_OPERATION,
                &format!("relationship '{rtype}' of node '{name}'"),
                version,
            )?;
            let key = if side == "source_interfaces" {
                "source_operations"
            } else {
                "target_operations"
            };
            ops.insert(key.into(), Value::Object(resolved));
        }
        let mut rel = obj! {"type" => rtype, "target_id" => target, "type_hierarchy" => rchain, "properties" => rprops};
        if let Value::Object(m) = &mut rel {
            m.extend(ops);
        }
        relationships.push(rel);
    }

    let mut used_plugins: Vec<Value> = Vec::new();
    for op in operations.values() {
        let Some(p) = op
            .get("plugin")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
        else {
            continue;
        };
        let executor = op.get("executor").cloned().unwrap_or(Value::Null);
        if let Some(def) = plugins.get(p) {
            let mut def = def.as_object().cloned().unwrap_or_default();
            def.insert("executor".into(), executor);
            let def = Value::Object(def);
            if !used_plugins.contains(&def) {
                used_plugins.push(def);
            }
        }
    }
    Ok(obj! {
        "id" => name,
        "name" => name,
        "type" => ty,
        "type_hierarchy" => chain,
        "properties" => properties,
        "operations" => operations,
        "relationships" => relationships,
        "plugins" => used_plugins,
        "instances" => json!({"deploy": deploy}),
        "host_id" => Value::Null,
        "interfaces" => template_ifaces,
    })
}

/// Every operation of the merged interfaces, under its short and its
/// qualified name (short names dropped where two interfaces share them).
#[allow(clippy::too_many_arguments)]
fn interface_operations(
    memo: &Memo,
    type_key: &str,
    type_ifaces: &Map<String, Value>,
    template_ifaces: &Map<String, Value>,
    plugins: &Map<String, Value>,
    blueprint_dir: &Path,
    error_code: i32,
    owner: &str,
    version: u8,
) -> DslResult<Map<String, Value>> {
    let mut names: Vec<(String, String)> = Vec::new();
    for (iface, ops) in type_ifaces.iter().chain(template_ifaces.iter()) {
        if let Value::Object(ops) = ops {
            for op in ops.keys() {
                let pair = (iface.clone(), op.clone());
                if !names.contains(&pair) {
                    names.push(pair);
                }
            }
        } else if !ops.is_null() {
            return Err(DslError::format(format!(
                "interface '{iface}' of {owner} must be a dict"
            )));
        }
    }
    let mut out = Map::new();
    let mut short_seen: HashSet<String> = HashSet::new();
    let mut short_dupes: HashSet<String> = HashSet::new();
    for (iface, op) in &names {
        let type_def = type_ifaces.get(iface).and_then(|i| i.get(op));
        let template_def = template_ifaces.get(iface).and_then(|i| i.get(op));
        for def in [type_def, template_def].into_iter().flatten() {
            if let Value::Object(m) = def
                && (m.contains_key("max_retries") || m.contains_key("retry_interval"))
            {
                gate("max_retries and retry_interval", version, 1)?;
            }
        }
        let ctx = OpContext {
            plugins,
            blueprint_dir,
            error_code,
            op,
            iface,
            owner,
        };
        // Operations a template does not touch resolve the same for every
        // template of the type: resolve them once.
        let key = (type_key.to_owned(), iface.clone(), op.clone());
        let cached = if template_def.is_none() {
            memo.ops.borrow().get(&key).cloned()
        } else {
            None
        };
        let resolved = match cached {
            Some(r) => r,
            None => {
                let r = operations::resolve(type_def, template_def, &ctx)?;
                if template_def.is_none() {
                    memo.ops.borrow_mut().insert(key, r.clone());
                }
                r
            }
        };
        out.insert(format!("{iface}.{op}"), resolved.clone());
        if !short_seen.insert(op.clone()) {
            short_dupes.insert(op.clone());
        }
        out.insert(op.clone(), resolved);
    }
    for d in short_dupes {
        out.remove(&d);
    }
    Ok(out)
}

/// Sets `host_id` from contained_in chains and checks host_agent plugins.
fn check_hosts(nodes: &mut [Value], node_types: &Map<String, Value>) -> DslResult<()> {
    let _ = node_types;
    let parent_of = |n: &Value| -> Option<String> {
        n["relationships"].as_array()?.iter().find_map(|r| {
            r["type_hierarchy"]
                .as_array()?
                .iter()
                .any(|t| t == "cloudify.relationships.contained_in")
                .then(|| r["target_id"].as_str().map(str::to_owned))?
        })
    };
    let is_host = |n: &Value| {
        n["type_hierarchy"]
            .as_array()
            .is_some_and(|h| h.iter().any(|t| t == "cloudify.nodes.Compute"))
    };
    let by_name: std::collections::HashMap<String, (Option<String>, bool)> = nodes
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?.to_owned(), (parent_of(n), is_host(n)))))
        .collect();
    for n in nodes.iter_mut() {
        let Some(name) = n["id"].as_str().map(str::to_owned) else {
            continue;
        };
        let mut current = name.clone();
        let mut host = None;
        let mut steps = 0;
        while let Some((parent, host_here)) = by_name.get(&current) {
            if *host_here {
                host = Some(current.clone());
                break;
            }
            match parent {
                Some(p) => current = p.clone(),
                None => break,
            }
            steps += 1;
            if steps > by_name.len() {
                return Err(DslError::new(
                    code::CYCLE,
                    format!(
                        "Circular dependency detected: the contained_in chain of '{name}' loops"
                    ),
                ));
            }
        }
        let needs_host = n["operations"].as_object().is_some_and(|ops| {
            ops.values().any(|o| {
                o["executor"] == "host_agent" && o["plugin"].as_str().is_some_and(|p| !p.is_empty())
            })
        });
        if needs_host && host.is_none() {
            return Err(DslError::new(
                code::HOST_AGENT_WITHOUT_HOST,
                format!(
                    "node '{name}' has operations with a host_agent executor, but it is not contained in a host (cloudify.nodes.Compute)"
                ),
            ));
        }
        n["host_id"] = host.map_or(Value::Null, Value::String);
    }
    Ok(())
}

fn workflows(
    section: &Map<String, Value>,
    plugins: &Map<String, Value>,
    blueprint_dir: &Path,
) -> DslResult<Map<String, Value>> {
    let mut out = Map::new();
    for (name, w) in section {
        let (mapping, parameters) = match w {
            Value::String(s) => (s.clone(), Map::new()),
            Value::Object(m) => (
                m.get("mapping")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        DslError::format(format!(
                            "'mapping' key is required but it is missing for workflow '{name}'"
                        ))
                    })?
                    .to_owned(),
                m.get("parameters")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
            ),
            other => {
                return Err(DslError::format(format!(
                    "workflow '{name}' must be a string or a dict, found '{}'",
                    type_name(other)
                )));
            }
        };
        let owner = format!("workflow '{name}'");
        let ctx = OpContext {
            plugins,
            blueprint_dir,
            error_code: code::WORKFLOW_MAPPING,
            op: "",
            iface: "",
            owner: &owner,
        };
        let resolved = operations::mapping(&mapping, Map::new(), &Map::new(), &ctx)?;
        let mut parameters = parameters;
        let mut operation = resolved["operation"].clone();
        if resolved["plugin"] == "script" && resolved["inputs"].get("script_path").is_some() {
            operation = Value::String("script_runner.tasks.execute_workflow".into());
            parameters.insert("script_path".into(), json!({"default": mapping}));
        }
        out.insert(
            name.clone(),
            json!({"plugin": resolved["plugin"], "operation": operation, "parameters": parameters}),
        );
    }
    Ok(out)
}

fn groups(
    section: &Map<String, Value>,
    templates: &Map<String, Value>,
    policy_types: &Map<String, Value>,
    triggers: &Map<String, Value>,
) -> DslResult<Map<String, Value>> {
    let mut out = Map::new();
    for (name, g) in section {
        let g = dict(g, &format!("group '{name}'"))?;
        let members = g.get("members").and_then(Value::as_array).ok_or_else(|| {
            DslError::format(format!(
                "'members' key is required but it is missing for group '{name}'"
            ))
        })?;
        if members.is_empty() {
            return Err(DslError::format(format!("group '{name}' has no members")));
        }
        for m in members {
            let m = m.as_str().unwrap_or_default();
            if !templates.contains_key(m) && !section.contains_key(m) {
                return Err(DslError::new(
                    code::UNKNOWN_MEMBER,
                    format!("member '{m}' of group '{name}' does not match any node template"),
                ));
            }
        }
        let mut policies_out = Map::new();
        for (pname, p) in g
            .get("policies")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let ptype = p.get("type").and_then(Value::as_str).unwrap_or_default();
            let Some(pdef) = policy_types.get(ptype) else {
                return Err(DslError::new(
                    code::UNKNOWN_POLICY_TYPE,
                    format!("policy '{pname}' of group '{name}' has an unknown type '{ptype}'"),
                ));
            };
            let schema = pdef
                .get("properties")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let given = p
                .get("properties")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let properties = types::validate_properties(
                &format!("policy '{pname}' of group '{name}'"),
                &schema,
                &given,
                &Map::new(),
                0,
            )?;
            let mut triggers_out = Map::new();
            for (tname, t) in p
                .get("triggers")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let ttype = t.get("type").and_then(Value::as_str).unwrap_or_default();
                let Some(tdef) = triggers.get(ttype) else {
                    return Err(DslError::new(
                        code::UNKNOWN_TRIGGER,
                        format!(
                            "trigger '{tname}' of policy '{pname}' has an unknown type '{ttype}'"
                        ),
                    ));
                };
                let schema = tdef
                    .get("parameters")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let given = t
                    .get("parameters")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let parameters = types::validate_properties(
                    &format!("trigger '{tname}' of policy '{pname}'"),
                    &schema,
                    &given,
                    &Map::new(),
                    0,
                )?;
                triggers_out.insert(
                    tname.clone(),
                    json!({"type": ttype, "parameters": parameters}),
                );
            }
            policies_out.insert(
                pname.clone(),
                json!({"type": ptype, "properties": properties, "triggers": triggers_out}),
            );
        }
        out.insert(
            name.clone(),
            json!({"members": members, "policies": policies_out}),
        );
    }
    Ok(out)
}

fn deployment_plugins(nodes: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for n in nodes {
        for p in n["plugins"].as_array().into_iter().flatten() {
            if p["executor"] == "central_deployment_agent"
                && p["install"] != false
                && !out.iter().any(|o| o["name"] == p["name"])
            {
                out.push(p.clone());
            }
        }
    }
    out
}

fn workflow_plugins(workflows: &Map<String, Value>, plugins: &Map<String, Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for w in workflows.values() {
        if let Some(p) = w["plugin"].as_str().and_then(|p| plugins.get(p))
            && p["install"] != false
            && !out.contains(p)
        {
            out.push(p.clone());
        }
    }
    out
}
