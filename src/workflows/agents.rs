//! Host agents in the install and uninstall workflows (3.3's
//! `cloudify.interfaces.cloudify_agent` create/configure/start and
//! stop/delete on Compute hosts). `agent_config.install_method` decides:
//! `none` — no agent, the host's operations run inside cfyd; `provided` —
//! the user runs `cfyd agent` on the host and install waits for it;
//! `init_script` — the file server offers a script (also `ctx agent
//! init-script` in the host's create operation) that fetches cfyd from the
//! manager and starts it as the agent, and install waits for it;
//! `remote` — cfyd copies itself to the host over SSH and starts it there
//! (`ssh.rs`), and install waits for it.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::events::WorkflowContext;
use super::members::Member;
use super::remote::agent_of;
use super::ssh::{SshTarget, sh};
use super::{AgentEndpoints, Engine, Outcome};
use crate::bus::Props;
use crate::celery::{self, Task};
use crate::model::NODE_INSTANCES;

/// An agent setting as 3.3 read it: `agent_config.<key>`, then
/// `agent_config.extra.<key>`, then the legacy `cloudify_agent.<key>`.
fn setting<'a>(m: &'a Member, key: &str) -> Option<&'a Value> {
    let p = &m.node["properties"];
    [
        &p["agent_config"][key],
        &p["agent_config"]["extra"][key],
        &p["cloudify_agent"][key],
    ]
    .into_iter()
    .find(|v| !v.is_null() && *v != "")
}

/// The agent's name and queue: as configured, else the instance id
/// (3.3's defaults for remote agents).
fn identity(m: &Member) -> (String, String) {
    let name = setting(m, "name")
        .and_then(Value::as_str)
        .unwrap_or(m.id())
        .to_owned();
    let queue = setting(m, "queue")
        .and_then(Value::as_str)
        .map_or_else(|| name.clone(), str::to_owned);
    (name, queue)
}

/// The file server path of a host's init script.
fn script_path(ctx: &WorkflowContext, m: &Member) -> String {
    format!("cloudify_agent/{}/{}/install.sh", ctx.deployment_id, m.id())
}

/// The init script that installs and starts the agent of `m`.
fn init_script(e: &AgentEndpoints, name: &str, queue: &str) -> String {
    let fs = &e.file_server_url;
    format!(
        r#"#!/bin/sh
# Installs and starts the cfyd agent {name} (queue {queue}).
set -e
dir="${{CFYD_AGENT_DIR:-$HOME/.cfyd-agent/{name}}}"
mkdir -p "$dir"
url={bin}
if command -v curl >/dev/null 2>&1; then
  curl -fsSL -o "$dir/cfyd.part" "$url"
else
  wget -q -O "$dir/cfyd.part" "$url"
fi
chmod +x "$dir/cfyd.part"
mv "$dir/cfyd.part" "$dir/cfyd"
nohup "$dir/cfyd" agent --broker {broker} --queue {q} --name {n} --rest-url {rest} --file-server-url {fsq} >"$dir/agent.log" 2>&1 &
echo $! >"$dir/agent.pid"
"#,
        bin = sh(&format!("{fs}/cloudify_agent/cfyd")),
        broker = sh(&e.broker_url),
        q = sh(queue),
        n = sh(name),
        rest = sh(&e.rest_url),
        fsq = sh(fs),
    )
}

impl Engine {
    /// Where a `remote` host's agent goes: `agent_config` user, key or
    /// password, port, and the host's `ip` (runtime property, else node
    /// property).
    fn ssh_target(&self, m: &Member) -> Result<SshTarget, Outcome> {
        let (name, _) = identity(m);
        let ip = self
            .model
            .store
            .get(NODE_INSTANCES, m.id())
            .ok()
            .flatten()
            .and_then(|d| d.doc["runtime_properties"]["ip"].as_str().map(str::to_owned))
            .or_else(|| m.node["properties"]["ip"].as_str().map(str::to_owned))
            .filter(|ip| !ip.is_empty())
            .ok_or_else(|| {
                Outcome::Failed(format!(
                    "node instance {} has no ip to install its agent at (runtime property or node property 'ip')",
                    m.id()
                ))
            })?;
        let user = setting(m, "user").and_then(Value::as_str).ok_or_else(|| {
            Outcome::Failed(format!(
                "node instance {}: install_method remote needs agent_config.user",
                m.id()
            ))
        })?;
        let key = setting(m, "key")
            .and_then(Value::as_str)
            .map(|k| match k.strip_prefix("~/") {
                Some(rest) => std::env::var_os("HOME")
                    .map_or_else(|| PathBuf::from(k), |h| PathBuf::from(h).join(rest)),
                None => PathBuf::from(k),
            });
        let password = setting(m, "password")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if key.is_none() && password.is_none() {
            return Err(Outcome::Failed(format!(
                "node instance {}: install_method remote needs agent_config.key or agent_config.password",
                m.id()
            )));
        }
        let port = setting(m, "port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(22);
        let dir = setting(m, "agent_dir")
            .and_then(Value::as_str)
            .map_or_else(|| format!(".cfyd-agent/{name}"), str::to_owned);
        Ok(SshTarget {
            host: ip,
            port,
            user: user.to_owned(),
            key,
            password,
            dir,
        })
    }

    fn endpoints(&self) -> Result<&AgentEndpoints, Outcome> {
        self.agents.get().ok_or_else(|| {
            Outcome::Failed("the manager's agent endpoints are not known yet".into())
        })
    }

    /// Merges `cloudify_agent` into the instance's runtime properties.
    fn set_agent_property(&self, m: &Member, agent: Value) -> Result<(), Outcome> {
        let fail = |e: store::Error| Outcome::Failed(e.to_string());
        for _ in 0..5 {
            let Some(doc) = self.model.store.get(NODE_INSTANCES, m.id()).map_err(fail)? else {
                return Err(Outcome::Failed(format!("node instance {} is gone", m.id())));
            };
            let mut rp = doc.doc["runtime_properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            rp.insert("cloudify_agent".into(), agent.clone());
            let mut patch = Map::new();
            patch.insert("runtime_properties".into(), Value::Object(rp));
            match self
                .model
                .store
                .update(NODE_INSTANCES, m.id(), patch, Some(doc.version))
            {
                Err(store::Error::Conflict { .. }) => continue,
                other => return other.map(|_| ()).map_err(fail),
            }
        }
        Err(Outcome::Failed(format!(
            "node instance {} kept changing while its agent was recorded",
            m.id()
        )))
    }

    fn agent_record(&self, m: &Member, extra: &[(&str, Value)]) -> Result<Value, Outcome> {
        let e = self.endpoints()?;
        let (name, queue) = identity(m);
        let mut a = json!({
            "name": name, "queue": queue, "install_method": m.install_method(),
            "manager_rest_url": e.rest_url, "file_server_url": e.file_server_url,
        });
        for (k, v) in extra {
            a[*k] = v.clone();
        }
        Ok(a)
    }

    /// Before a Compute host is created: an `init_script` host gets its
    /// script on the file server and its URL in
    /// `runtime_properties.cloudify_agent.install_script_url`.
    pub(super) async fn prepare_agent(
        &self,
        ctx: &WorkflowContext,
        m: &Member,
    ) -> Result<(), Outcome> {
        if m.install_method() != "init_script" {
            return Ok(());
        }
        let e = self.endpoints()?;
        let (name, queue) = identity(m);
        let rel = script_path(ctx, m);
        let path = self.model.resources.join(&rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|err| Outcome::Failed(format!("cannot write the agent script: {err}")))?;
        }
        std::fs::write(&path, init_script(e, &name, &queue))
            .map_err(|err| Outcome::Failed(format!("cannot write the agent script: {err}")))?;
        let url = format!("{}/{rel}", e.file_server_url);
        let record = self.agent_record(m, &[("install_script_url", json!(url))])?;
        self.set_agent_property(m, record)
    }

    /// `ctx agent init-script` of a host's operations.
    pub(super) fn agent_script(&self, ctx: &WorkflowContext, m: &Member) -> Option<String> {
        if !m.is_compute() || m.install_method() != "init_script" {
            return None;
        }
        std::fs::read_to_string(self.model.resources.join(script_path(ctx, m))).ok()
    }

    /// After a Compute host started: its agent is recorded and install
    /// waits until it consumes its queue.
    pub(super) async fn install_agent(
        &self,
        ctx: &WorkflowContext,
        m: &Member,
    ) -> Result<(), Outcome> {
        let method = m.install_method();
        let (name, queue) = identity(m);
        self.node_event(ctx, m, "Creating Agent").await;
        if !matches!(method.as_str(), "provided" | "init_script" | "remote") {
            return Err(Outcome::Failed(format!(
                "node instance {}: unknown agent_config.install_method '{method}' (none, provided, init_script or remote)",
                m.id()
            )));
        }
        let current = self
            .model
            .store
            .get(NODE_INSTANCES, m.id())
            .ok()
            .flatten()
            .map(|d| d.doc["runtime_properties"]["cloudify_agent"].clone())
            .unwrap_or(Value::Null);
        let extra: Vec<(&str, Value)> = current["install_script_url"]
            .as_str()
            .map(|u| vec![("install_script_url", json!(u))])
            .unwrap_or_default();
        self.set_agent_property(m, self.agent_record(m, &extra)?)?;
        self.node_event(ctx, m, "Configuring Agent").await;
        self.declare_agent_queue(&queue)
            .await
            .map_err(Outcome::Failed)?;
        if method == "remote" {
            let target = self.ssh_target(m)?;
            let e = self.endpoints()?;
            let args = format!(
                "--broker {} --queue {} --name {} --rest-url {} --file-server-url {}",
                sh(&e.broker_url),
                sh(&queue),
                sh(&name),
                sh(&e.rest_url),
                sh(&e.file_server_url)
            );
            self.node_event(
                ctx,
                m,
                &format!(
                    "Copying the agent to {}@{} over SSH",
                    target.user, target.host
                ),
            )
            .await;
            target.install(&args).await.map_err(|e| {
                Outcome::Failed(format!("cannot install the agent of {}: {e}", m.id()))
            })?;
        }
        self.node_event(ctx, m, "Starting Agent").await;
        let timeout = setting(m, "wait_started_timeout")
            .and_then(Value::as_u64)
            .unwrap_or(self.endpoints()?.start_timeout);
        if !self.agent_alive(&queue, Duration::from_secs(timeout)).await {
            let hint = if method == "remote" {
                "it was copied and started over SSH; see agent.log in its directory on the host"
                    .into()
            } else if method == "provided" {
                format!(
                    "start it on the host with: cfyd agent --broker <amqp url> --queue {queue} --name {name}"
                )
            } else {
                "the host did not run its init script (cloudify_agent.install_script_url)".into()
            };
            return Err(Outcome::Failed(format!(
                "the agent celery@{name} of {} did not start within {timeout} s: nothing consumes queue {queue}; {hint}",
                m.id()
            )));
        }
        self.node_event(
            ctx,
            m,
            &format!("Agent celery@{name} is consuming queue {queue}"),
        )
        .await;
        Ok(())
    }

    /// Before a Compute host stops: its agent is asked to stop (3.3's
    /// `stop_amqp`) and its init script removed. Failures are logged only,
    /// as uninstall ignores them.
    pub(super) async fn uninstall_agent(&self, ctx: &WorkflowContext, m: &Member) {
        let doc = self
            .model
            .store
            .get(NODE_INSTANCES, m.id())
            .ok()
            .flatten()
            .map(|d| d.doc)
            .unwrap_or(Value::Null);
        self.node_event(ctx, m, "Stopping agent").await;
        if let Some((name, queue)) = agent_of(&doc) {
            let id = uuid::Uuid::new_v4().to_string();
            let body = celery::task_body(&Task {
                id: id.clone(),
                name: celery::STOP_TASK.into(),
                kwargs: Map::new(),
                context: Map::new(),
            });
            let sent = self
                .bus
                .publish_with(&queue, &queue, Bytes::from(body), &Props::json(&id))
                .await;
            if let Err(e) = sent {
                self.node_event(ctx, m, &format!("Could not ask celery@{name} to stop: {e}"))
                    .await;
            }
        }
        self.node_event(ctx, m, "Deleting agent").await;
        let _ = std::fs::remove_file(self.model.resources.join(script_path(ctx, m)));
        if m.install_method() == "remote" {
            let removed = match self.ssh_target(m) {
                Ok(t) => t.remove().await,
                Err(Outcome::Failed(e)) => Err(e),
                Err(Outcome::Cancelled) => Ok(()),
            };
            if let Err(e) = removed {
                self.node_event(ctx, m, &format!("Could not remove the agent: {e}"))
                    .await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_scripts_quote_what_they_are_given() {
        let e = AgentEndpoints {
            broker_url: "amqp://u:p'q@h:5672/".into(),
            rest_url: "http://h:8101".into(),
            file_server_url: "http://h:53229".into(),
            start_timeout: 1,
        };
        let s = init_script(&e, "vm_1", "vm_1");
        assert!(s.contains(r"--broker 'amqp://u:p'\''q@h:5672/'"), "{s}");
        assert!(
            s.contains("url='http://h:53229/cloudify_agent/cfyd'"),
            "{s}"
        );
        assert!(s.starts_with("#!/bin/sh\n"));
    }
}
