//! `cfyd blueprints validate` end to end: the runnable blueprints are
//! valid, and every DSL error code has a blueprint that triggers it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use serde_json::Value;

const TYPES: &str = "http://www.getcloudify.org/spec/cloudify/3.3.1/types.yaml";

fn validate(path: &Path, extra: &[&str]) -> Value {
    let (status, stdout, stderr) = common::run(
        &[
            &["blueprints", "validate", path.to_str().unwrap(), "--json"][..],
            extra,
        ]
        .concat(),
    );
    let v: Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
    assert_eq!(
        status.success(),
        v["valid"] == true,
        "exit status follows validity: {v}"
    );
    v
}

fn blueprint(dir: &Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("blueprint.yaml");
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn runnable_blueprints_validate_offline() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/blueprints/runnable");
    let mut n = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let bp = entry.unwrap().path().join("blueprint.yaml");
        let v = validate(&bp, &[]);
        assert_eq!(v["valid"], true, "{}: {v}", bp.display());
        assert!(v["nodes"].as_u64().unwrap() >= 1);
        n += 1;
    }
    assert_eq!(n, 5);
}

#[test]
fn counts_multiply_and_inputs_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let bp = blueprint(
        dir.path(),
        &format!(
            "tosca_definitions_version: cloudify_dsl_1_2
imports: [{TYPES}]
inputs:
  size: {{}}
  with_default: {{default: 1}}
node_templates:
  vm:
    type: cloudify.nodes.Compute
    instances: {{deploy: 3}}
  app:
    type: cloudify.nodes.SoftwareComponent
    instances: {{deploy: 2}}
    relationships: [{{type: cloudify.relationships.contained_in, target: vm}}]
  db:
    type: cloudify.nodes.DBMS
    properties: {{}}
    relationships: [{{type: cloudify.relationships.connected_to, target: app}}]
"
        ),
    );
    let v = validate(&bp, &[]);
    assert_eq!(
        (v["nodes"].as_u64(), v["node_instances"].as_u64()),
        (Some(3), Some(10))
    );
    let v = validate(&bp, &["--inputs", r#"{"size": 2}"#]);
    assert_eq!(v["valid"], true, "{v}");
    let v = validate(&bp, &["--inputs", "{}"]);
    assert_eq!(v["error"]["code"], 200, "missing required input: {v}");
    let v = validate(&bp, &["--inputs", r#"{"size": 1, "nope": 2}"#]);
    assert_eq!(v["error"]["code"], 201, "unknown input: {v}");
}

#[test]
fn every_error_code_has_a_blueprint() {
    let head = format!("tosca_definitions_version: cloudify_dsl_1_2\nimports: [{TYPES}]\n");
    let cases: Vec<(&str, String, i64)> = vec![
        ("bad yaml", format!("{head}node_templates: [unclosed\n"), -1),
        (
            "unknown top-level key",
            format!("{head}node_templates: {{}}\nfoo: 1\n"),
            1,
        ),
        (
            "duplicate import",
            format!(
                "tosca_definitions_version: cloudify_dsl_1_2\nimports: [{TYPES}, {TYPES}]\nnode_templates: {{}}\n"
            ),
            2,
        ),
        (
            "non-mergeable",
            format!(
                "tosca_definitions_version: cloudify_dsl_1_2\nimports: [{TYPES}, extra.yaml]\nnode_templates: {{}}\n"
            ),
            3,
        ),
        (
            "merge conflict",
            format!(
                "tosca_definitions_version: cloudify_dsl_1_2\nimports: [{TYPES}, conflict.yaml]\nnode_templates: {{}}\n"
            ),
            4,
        ),
        (
            "unknown node type",
            format!("{head}node_templates:\n  a: {{type: no.such.Type}}\n"),
            7,
        ),
        (
            "unresolvable operation",
            format!(
                "{head}node_templates:\n  a:\n    type: cloudify.nodes.Root\n    interfaces:\n      cloudify.interfaces.lifecycle:\n        create: nothing.here\n"
            ),
            10,
        ),
        (
            "import not found",
            "tosca_definitions_version: cloudify_dsl_1_2\nimports: [missing/types.yaml]\nnode_templates: {}\n".to_string(),
            13,
        ),
        (
            "remote import",
            "tosca_definitions_version: cloudify_dsl_1_2\nimports: [http://example.com/x.yaml]\nnode_templates: {}\n".to_string(),
            13,
        ),
        (
            "plugin executor",
            format!(
                "{head}plugins:\n  p: {{executor: somewhere, source: x}}\nnode_templates: {{}}\n"
            ),
            18,
        ),
        (
            "relationship operation",
            format!(
                "{head}node_templates:\n  a: {{type: cloudify.nodes.Root}}\n  b:\n    type: cloudify.nodes.Root\n    relationships:\n      - type: cloudify.relationships.connected_to\n        target: a\n        source_interfaces:\n          cloudify.interfaces.relationship_lifecycle:\n            establish: nope.nope\n"
            ),
            19,
        ),
        (
            "workflow mapping",
            format!("{head}workflows:\n  w: nothing.there\nnode_templates: {{}}\n"),
            21,
        ),
        (
            "self relationship",
            format!(
                "{head}node_templates:\n  a:\n    type: cloudify.nodes.Root\n    relationships: [{{type: cloudify.relationships.depends_on, target: a}}]\n"
            ),
            23,
        ),
        (
            "host agent without host",
            format!(
                "{head}plugins:\n  p: {{executor: host_agent, source: x}}\nnode_templates:\n  a:\n    type: cloudify.nodes.Root\n    interfaces:\n      cloudify.interfaces.lifecycle:\n        create: p.op\n"
            ),
            24,
        ),
        (
            "bad relationship target",
            format!(
                "{head}node_templates:\n  a:\n    type: cloudify.nodes.Root\n    relationships: [{{type: cloudify.relationships.depends_on, target: ghost}}]\n"
            ),
            25,
        ),
        (
            "unknown relationship type",
            format!(
                "{head}node_templates:\n  a: {{type: cloudify.nodes.Root}}\n  b:\n    type: cloudify.nodes.Root\n    relationships: [{{type: no.such.rel, target: a}}]\n"
            ),
            26,
        ),
        ("missing version", "node_templates: {}\n".to_owned(), 27),
        (
            "wrong version string",
            "tosca_definitions_version: cloudify_dsl_9_9\nnode_templates: {}\n".to_owned(),
            29,
        ),
        (
            "unknown group member",
            format!(
                "{head}node_templates:\n  a: {{type: cloudify.nodes.Root}}\ngroups:\n  g: {{members: [ghost], policies: {{}}}}\n"
            ),
            40,
        ),
        (
            "unknown policy type",
            format!(
                "{head}node_templates:\n  a: {{type: cloudify.nodes.Root}}\ngroups:\n  g:\n    members: [a]\n    policies:\n      p: {{type: no.such.policy}}\n"
            ),
            41,
        ),
        (
            "unknown trigger",
            format!(
                "{head}node_templates:\n  a: {{type: cloudify.nodes.Root}}\ngroups:\n  g:\n    members: [a]\n    policies:\n      p:\n        type: cloudify.policies.types.host_failure\n        triggers:\n          t: {{type: no.such.trigger}}\n"
            ),
            42,
        ),
        (
            "plugin without source",
            format!(
                "{head}plugins:\n  p: {{executor: central_deployment_agent}}\nnode_templates: {{}}\n"
            ),
            50,
        ),
        (
            "script path given",
            format!(
                "{head}node_templates:\n  a:\n    type: cloudify.nodes.Root\n    interfaces:\n      cloudify.interfaces.lifecycle:\n        create: {{implementation: run.sh, inputs: {{script_path: other.sh}}}}\n"
            ),
            60,
        ),
        (
            "ambiguous mapping",
            format!(
                "{head}plugins:\n  p: {{executor: central_deployment_agent, install: false}}\n  p.q: {{executor: central_deployment_agent, install: false}}\nnode_templates:\n  a:\n    type: cloudify.nodes.Root\n    interfaces:\n      cloudify.interfaces.lifecycle:\n        create: p.q.op\n"
            ),
            91,
        ),
        (
            "cyclic types",
            format!(
                "{head}node_types:\n  A: {{derived_from: B}}\n  B: {{derived_from: A}}\nnode_templates:\n  a: {{type: A}}\n"
            ),
            100,
        ),
        (
            "cyclic contained_in",
            format!(
                "{head}node_templates:\n  a:\n    type: cloudify.nodes.Root\n    relationships: [{{type: cloudify.relationships.contained_in, target: b}}]\n  b:\n    type: cloudify.nodes.Root\n    relationships: [{{type: cloudify.relationships.contained_in, target: a}}]\n"
            ),
            100,
        ),
        (
            "version gate",
            "tosca_definitions_version: cloudify_dsl_1_0\ndescription: not yet\nnode_templates: {}\n".to_string(),
            102,
        ),
        (
            "unknown parent type",
            format!(
                "{head}node_types:\n  A: {{derived_from: Nope}}\nnode_templates:\n  a: {{type: A}}\n"
            ),
            103,
        ),
        (
            "primitive redefined",
            format!("{head}data_types:\n  string: {{properties: {{}}}}\nnode_templates: {{}}\n"),
            104,
        ),
        (
            "property type mismatch",
            format!(
                "{head}node_templates:\n  f:\n    type: cloudify.nodes.FileSystem\n    properties: {{fs_type: 5, fs_mount_path: /m}}\n"
            ),
            105,
        ),
        (
            "property not in schema",
            format!(
                "{head}node_templates:\n  a:\n    type: cloudify.nodes.Root\n    properties: {{os: linux}}\n"
            ),
            106,
        ),
        (
            "missing required property",
            format!(
                "{head}node_templates:\n  f:\n    type: cloudify.nodes.FileSystem\n    properties: {{fs_type: ext4}}\n"
            ),
            107,
        ),
        (
            "two containers",
            format!(
                "{head}node_templates:\n  h1: {{type: cloudify.nodes.Compute}}\n  h2: {{type: cloudify.nodes.Compute}}\n  a:\n    type: cloudify.nodes.Root\n    relationships:\n      - {{type: cloudify.relationships.contained_in, target: h1}}\n      - {{type: cloudify.relationships.contained_in, target: h2}}\n"
            ),
            112,
        ),
        (
            "unknown input in function",
            format!(
                "{head}node_templates:\n  w:\n    type: cloudify.nodes.WebServer\n    properties: {{port: {{get_input: nope}}}}\n"
            ),
            202,
        ),
        (
            "get_property of an unknown node",
            format!(
                "{head}node_templates:\n  w:\n    type: cloudify.nodes.WebServer\n    properties: {{port: {{get_property: [ghost, port]}}}}\n"
            ),
            202,
        ),
    ];
    for (name, body, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("extra.yaml"), "node_templates: {}\n").unwrap();
        std::fs::write(
            dir.path().join("conflict.yaml"),
            "node_types:\n  cloudify.nodes.Root: {}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("run.sh"), "#!/bin/sh\n").unwrap();
        let bp = blueprint(dir.path(), &body);
        let v = validate(&bp, &[]);
        assert_eq!(v["valid"], false, "{name} should be invalid");
        assert_eq!(v["error"]["code"], want, "{name}: {v}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    }
}

#[test]
fn scripts_resolve_to_the_script_plugin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("scripts")).unwrap();
    std::fs::write(dir.path().join("scripts/start.sh"), "#!/bin/sh\n").unwrap();
    let bp = blueprint(
        dir.path(),
        &format!(
            "tosca_definitions_version: cloudify_dsl_1_2\nimports: [{TYPES}]\nnode_templates:\n  h: {{type: cloudify.nodes.Compute, properties: {{agent_config: {{install_method: none}}}}}}\n  a:\n    type: cloudify.nodes.SoftwareComponent\n    relationships: [{{type: cloudify.relationships.contained_in, target: h}}]\n    interfaces:\n      cloudify.interfaces.lifecycle:\n        start: scripts/start.sh\n"
        ),
    );
    let plan = cfyd::dsl::parse(&bp, &cfyd::dsl::Resolver::default()).unwrap();
    let app = plan["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "a")
        .unwrap();
    let start = &app["operations"]["cloudify.interfaces.lifecycle.start"];
    assert_eq!(start["plugin"], "script");
    assert_eq!(start["operation"], "script_runner.tasks.run");
    assert_eq!(start["executor"], "host_agent");
    assert_eq!(start["inputs"]["script_path"], "scripts/start.sh");
    // `start` is in both lifecycle and monitoring: the short name is dropped.
    assert!(app["operations"].get("start").is_none());
    assert_eq!(
        app["operations"]["create"],
        app["operations"]["cloudify.interfaces.lifecycle.create"]
    );
    assert_eq!(app["host_id"], "h");
}
