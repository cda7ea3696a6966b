//! Host agents: `cfyd agent` in a second process runs the `host_agent`
//! operations of a `provided` host (and stops when uninstall asks), an
//! `init_script` host starts its own agent from the script the file server
//! offers, and an agent killed mid-operation fails the task clearly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Cfyd;
use common::api::{call, deploy, instances, run_to_end, start, wait_end};
use reqwest::Method;
use serde_json::json;

/// A `cfyd agent` child, killed when dropped.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn agent(cfyd: &Cfyd, queue: &str) -> Agent {
    let child = Command::new(common::binary())
        .args([
            "agent",
            "--broker",
            &format!("amqp://guest:guest@127.0.0.1:{}/", cfyd.port("amqp")),
            "--queue",
            queue,
            "--rest-url",
            &format!("http://127.0.0.1:{}", cfyd.port("rest_internal")),
            "--file-server-url",
            &format!("http://127.0.0.1:{}", cfyd.port("file_server")),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Agent(child)
}

const PROVIDED: &str = r#"
tosca_definitions_version: cloudify_dsl_1_2
imports: [http://www.getcloudify.org/spec/cloudify/3.3/types.yaml]
inputs:
  sleep: {default: 0}
node_templates:
  host:
    type: cloudify.nodes.Compute
    properties:
      ip: 127.0.0.1
      agent_config: {install_method: provided, extra: {wait_started_timeout: 60}}
  app:
    type: cloudify.nodes.Root
    relationships: [{type: cloudify.relationships.contained_in, target: host}]
    interfaces:
      cloudify.interfaces.lifecycle:
        create:
          implementation: scripts/create.sh
          max_retries: 0
          inputs: {SLEEP: {get_input: sleep}, GREETING: hello}
        configure: scripts/configure.sh
outputs:
  ran_by: {value: {get_attribute: [app, ran_by]}}
"#;

/// Runs on the agent: records who ran it, reads ctx, downloads a resource.
const CREATE: &str = r#"#!/bin/bash
set -e
sleep "$SLEEP"
ctx instance runtime-properties ran_by "$PPID"
ctx instance runtime-properties host_ip "$(ctx instance host-ip)"
ctx instance runtime-properties greeting "$GREETING from $(ctx node id)"
f=$(ctx download-resource conf/app.conf.tmpl)
ctx instance runtime-properties conf "$(cat "$f")"
r=$(ctx download-resource-and-render conf/app.conf.tmpl)
ctx instance runtime-properties rendered "$(cat "$r")"
ctx logger info "created on the agent"
"#;

const CONFIGURE: &str = "#!/bin/bash\nctx instance runtime-properties configured true\n";
const TEMPLATE: &str = "ip={{ ctx.instance.host_ip }} id={{ ctx.instance.id }}";

fn files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("blueprint.yaml", PROVIDED),
        ("scripts/create.sh", CREATE),
        ("scripts/configure.sh", CONFIGURE),
        ("conf/app.conf.tmpl", TEMPLATE),
    ]
}

async fn host_id(cfyd: &Cfyd, dep: &str) -> String {
    instances(cfyd, dep, Some("host")).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_provided_agent_runs_host_operations_and_stops_at_uninstall() {
    let cfyd = Cfyd::start();
    deploy(&cfyd, "prov", &files()).await;
    let queue = host_id(&cfyd, "prov").await;
    // Install waits for the agent, which starts after the host is created.
    let (_, exec) = start(&cfyd, "prov", "install").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut worker = agent(&cfyd, &queue);
    let end = wait_end(&cfyd, exec["id"].as_str().unwrap()).await;
    assert_eq!(end["status"], "terminated", "{end}\n{}", cfyd.log());
    let app = &instances(&cfyd, "prov", Some("app")).await[0];
    let rp = &app["runtime_properties"];
    assert_eq!(rp["ran_by"], worker.0.id().to_string(), "{app}");
    assert_eq!(rp["host_ip"], "127.0.0.1");
    assert_eq!(rp["greeting"], "hello from app");
    assert_eq!(rp["conf"], TEMPLATE);
    assert_eq!(
        rp["rendered"],
        format!("ip=127.0.0.1 id={}", app["id"].as_str().unwrap())
    );
    assert_eq!(rp["configured"], "true");
    let host = &instances(&cfyd, "prov", Some("host")).await[0];
    assert_eq!(
        host["runtime_properties"]["cloudify_agent"]["queue"],
        queue.as_str()
    );
    let (_, outputs) = call(&cfyd, Method::GET, "/deployments/prov/outputs", None).await;
    assert_eq!(outputs["outputs"]["ran_by"], worker.0.id().to_string());
    // The agent's log record reached the event index.
    let logs = common::api::events_until(
        &cfyd,
        &format!(
            "execution_id={}&type=cloudify_log",
            end["id"].as_str().unwrap()
        ),
        |items| {
            items
                .iter()
                .any(|e| e["message"]["text"] == "created on the agent")
        },
    )
    .await;
    assert!(
        logs.iter()
            .any(|e| e["message"]["text"] == "created on the agent")
    );

    let end = run_to_end(&cfyd, "prov", "uninstall").await;
    assert_eq!(end["status"], "terminated", "{end}");
    let t = Instant::now();
    loop {
        if let Some(status) = worker.0.try_wait().unwrap() {
            assert!(status.success(), "agent exit: {status}");
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the agent did not stop"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_agent_killed_mid_operation_fails_the_task() {
    let cfyd = Cfyd::start();
    deploy(&cfyd, "kill", &files()).await;
    let (code, d) = call(
        &cfyd,
        Method::PUT,
        "/deployments/slow",
        Some(json!({"blueprint_id": "kill", "inputs": {"sleep": 600}})),
    )
    .await;
    assert_eq!(code, 201, "{d}");
    let queue = host_id(&cfyd, "slow").await;
    let mut worker = agent(&cfyd, &queue);
    let (_, exec) = start(&cfyd, "slow", "install").await;
    let id = exec["id"].as_str().unwrap().to_owned();
    let t = Instant::now();
    while instances(&cfyd, "slow", Some("app")).await[0]["state"] != "creating" {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "app never started creating"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    worker.0.kill().unwrap();
    let killed = Instant::now();
    let end = wait_end(&cfyd, &id).await;
    assert_eq!(end["status"], "failed", "{end}");
    let error = end["error"].as_str().unwrap();
    assert!(error.contains("went away while running"), "{error}");
    assert!(killed.elapsed() < Duration::from_secs(20));
}

const INIT_SCRIPT: &str = r#"
tosca_definitions_version: cloudify_dsl_1_2
imports: [http://www.getcloudify.org/spec/cloudify/3.3/types.yaml]
inputs:
  agent_dir: {}
node_templates:
  host:
    type: cloudify.nodes.Compute
    properties:
      agent_config: {install_method: init_script, extra: {wait_started_timeout: 60}}
    interfaces:
      cloudify.interfaces.lifecycle:
        create:
          implementation: scripts/boot.sh
          executor: central_deployment_agent
          inputs: {CFYD_AGENT_DIR: {get_input: agent_dir}}
  app:
    type: cloudify.nodes.Root
    relationships: [{type: cloudify.relationships.contained_in, target: host}]
    interfaces:
      cloudify.interfaces.lifecycle:
        create: scripts/configure.sh
"#;

/// Plays the cloud: "boots" the host by running its init script.
const BOOT: &str = r#"#!/bin/bash
set -e
ctx agent init-script > "$CFYD_AGENT_DIR.sh"
url=$(ctx instance runtime-properties cloudify_agent.install_script_url)
[ -n "$url" ]
sh "$CFYD_AGENT_DIR.sh"
"#;

#[tokio::test]
async fn an_init_script_host_starts_its_own_agent() {
    let cfyd = Cfyd::start();
    let dir = tempfile::tempdir().unwrap();
    let agent_dir = dir.path().join("agent");
    let resp = reqwest::Client::new()
        .put(cfyd.url(
            "rest",
            "/api/v2/blueprints/init?application_file_name=blueprint.yaml",
        ))
        .body(common::api::archive_of(&[
            ("blueprint.yaml", INIT_SCRIPT),
            ("scripts/boot.sh", BOOT),
            ("scripts/configure.sh", CONFIGURE),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let (code, d) = call(
        &cfyd,
        Method::PUT,
        "/deployments/init",
        Some(json!({"blueprint_id": "init", "inputs": {"agent_dir": agent_dir.to_str().unwrap()}})),
    )
    .await;
    assert_eq!(code, 201, "{d}");
    let end = run_to_end(&cfyd, "init", "install").await;
    assert_eq!(end["status"], "terminated", "{end}");
    assert!(agent_dir.join("cfyd").is_file());
    let pid: i32 = std::fs::read_to_string(agent_dir.join("agent.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let app = &instances(&cfyd, "init", Some("app")).await[0];
    assert_eq!(app["runtime_properties"]["configured"], "true");
    let end = run_to_end(&cfyd, "init", "uninstall").await;
    assert_eq!(end["status"], "terminated", "{end}");
    // The agent stopped when uninstall asked it to.
    let t = Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
    {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "agent {pid} still runs"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A throw-away sshd on a free loopback port that accepts one key; killed
/// when dropped. `None` (and a note) when openssh-server is not installed,
/// unless `REQUIRE_SSHD=1` (set by `.ci/run`) makes that a failure.
struct Sshd {
    child: Child,
    port: u16,
    key: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &std::path::Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ssh-keygen failed");
}

fn sshd() -> Option<Sshd> {
    let bin = std::path::Path::new("/usr/sbin/sshd");
    if !bin.exists() {
        assert!(
            std::env::var("REQUIRE_SSHD").is_err(),
            "REQUIRE_SSHD is set but openssh-server is not installed"
        );
        eprintln!("openssh-server is not installed: the remote-agent test did not run");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    keygen(&p.join("host_key"));
    keygen(&p.join("user_key"));
    std::fs::copy(p.join("user_key.pub"), p.join("authorized_keys")).unwrap();
    // sshd running as root wants its privilege separation directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        p.join("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_key\nAuthorizedKeysFile {dir}/authorized_keys\nPidFile {dir}/sshd.pid\nStrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n",
            dir = p.display()
        ),
    )
    .unwrap();
    let child = Command::new(bin)
        .args(["-D", "-e", "-f"])
        .arg(p.join("sshd_config"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "sshd did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(Sshd {
        child,
        port,
        key: p.join("user_key"),
        _dir: dir,
    })
}

#[tokio::test]
async fn a_remote_agent_is_copied_over_ssh_and_removed_at_uninstall() {
    let Some(sshd) = sshd() else { return };
    let cfyd = Cfyd::start();
    let dir = tempfile::tempdir().unwrap();
    let agent_dir = dir.path().join("remote-agent");
    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_owned();
    let blueprint = format!(
        r#"
tosca_definitions_version: cloudify_dsl_1_2
imports: [http://www.getcloudify.org/spec/cloudify/3.3/types.yaml]
node_templates:
  host:
    type: cloudify.nodes.Compute
    properties:
      ip: 127.0.0.1
      agent_config:
        install_method: remote
        user: {user}
        key: {key}
        port: {port}
        extra: {{agent_dir: {agent_dir}, wait_started_timeout: 60}}
  app:
    type: cloudify.nodes.Root
    relationships: [{{type: cloudify.relationships.contained_in, target: host}}]
    interfaces:
      cloudify.interfaces.lifecycle:
        create: scripts/create.sh
"#,
        key = sshd.key.display(),
        port = sshd.port,
        agent_dir = agent_dir.display(),
    );
    let create = "#!/bin/bash\nctx instance runtime-properties ran_by \"$PPID\"\n";
    deploy(
        &cfyd,
        "remote",
        &[
            ("blueprint.yaml", &blueprint),
            ("scripts/create.sh", create),
        ],
    )
    .await;
    let end = run_to_end(&cfyd, "remote", "install").await;
    assert_eq!(end["status"], "terminated", "{end}\n{}", cfyd.log());
    let pid = std::fs::read_to_string(agent_dir.join("agent.pid")).unwrap();
    let app = &instances(&cfyd, "remote", Some("app")).await[0];
    assert_eq!(app["runtime_properties"]["ran_by"], pid.trim(), "{app}");
    let end = run_to_end(&cfyd, "remote", "uninstall").await;
    assert_eq!(end["status"], "terminated", "{end}");
    assert!(
        !agent_dir.exists(),
        "uninstall removes the agent's directory"
    );
}
