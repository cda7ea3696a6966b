//! Blueprint parsing/planning and node instance generation at scale.
//!
//! Run: `cargo bench --bench dsl`. Prints one JSON line: median times over
//! several runs for parse+plan of a 1,000-node-template blueprint, and for
//! generating a deployment of 10,000 node instances; peak RSS of the process.

use std::time::{Duration, Instant};

const RUNS: usize = 9;

fn blueprint_1000() -> String {
    let mut y = String::from(
        "tosca_definitions_version: cloudify_dsl_1_2\nimports: [http://www.getcloudify.org/spec/cloudify/3.3.1/types.yaml]\ninputs:\n  port: {default: 8080}\nnode_templates:\n",
    );
    for h in 0..100 {
        y.push_str(&format!("  host{h}:\n    type: cloudify.nodes.Compute\n    properties: {{ip: 10.0.0.{h}, agent_config: {{install_method: none}}}}\n"));
        for a in 0..9 {
            y.push_str(&format!(
                "  app{h}_{a}:\n    type: cloudify.nodes.WebServer\n    properties: {{port: {{get_input: port}}}}\n    relationships:\n      - {{type: cloudify.relationships.contained_in, target: host{h}}}\n      - {{type: cloudify.relationships.connected_to, target: host{}}}\n",
                (h + 1) % 100
            ));
        }
    }
    y
}

fn blueprint_10000_instances() -> String {
    // 100 hosts × (1 host + 99 contained instances) = 10,000 node instances.
    "tosca_definitions_version: cloudify_dsl_1_2
imports: [http://www.getcloudify.org/spec/cloudify/3.3.1/types.yaml]
node_templates:
  host:
    type: cloudify.nodes.Compute
    instances: {deploy: 100}
  app:
    type: cloudify.nodes.SoftwareComponent
    instances: {deploy: 33}
    relationships: [{type: cloudify.relationships.contained_in, target: host}]
  web:
    type: cloudify.nodes.WebServer
    instances: {deploy: 33}
    relationships: [{type: cloudify.relationships.contained_in, target: host}]
  db:
    type: cloudify.nodes.DBMS
    instances: {deploy: 33}
    relationships:
      - {type: cloudify.relationships.contained_in, target: host}
      - {type: cloudify.relationships.connected_to, target: host, properties: {connection_type: all_to_one}}
"
    .to_owned()
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let dir = std::env::temp_dir().join(format!("cfyd-dsl-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let big = dir.join("big.yaml");
    std::fs::write(&big, blueprint_1000()).expect("write");
    let wide = dir.join("wide.yaml");
    std::fs::write(&wide, blueprint_10000_instances()).expect("write");
    let resolver = cfyd::dsl::Resolver::default();

    let mut parse_times = Vec::new();
    let mut plan = serde_json::Value::Null;
    for _ in 0..RUNS {
        drop(std::mem::take(&mut plan));
        let t = Instant::now();
        let parsed = cfyd::dsl::parse(&big, &resolver).expect("1000-node blueprint parses");
        parse_times.push(t.elapsed());
        plan = parsed;
    }
    let nodes = plan["nodes"].as_array().map_or(0, Vec::len);

    let wide_plan = cfyd::dsl::parse(&wide, &resolver).expect("wide blueprint parses");
    let mut gen_times = Vec::new();
    let mut count = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        let d =
            cfyd::dsl::prepare_deployment(&wide_plan, &serde_json::Map::new()).expect("deployment");
        gen_times.push(t.elapsed());
        count = d.node_instances.len();
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{{\"bench\":\"dsl\",\"templates\":{nodes},\"parse_plan_ms_p50\":{:.2},\"instances\":{count},\"deployment_ms_p50\":{:.2},\"peak_rss_kib\":{}}}",
        median(parse_times),
        median(gen_times),
        peak_rss_kib()
    );
}
