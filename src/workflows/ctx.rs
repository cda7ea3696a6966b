//! The per-operation context proxy that a script's `ctx` calls reach:
//! one loopback HTTP listener per process, each operation a random token in
//! the path (valid while the operation runs), the 3.3
//! proxy's JSON (`{"args": [...]}` → `{"type": "result"|"error",
//! "payload": ...}`).
//!
//! Supported (the 3.3 ctx CLI, dashes read as underscores): `node id|name`,
//! `node properties [path [...]]`, `instance id`, `instance
//! runtime_properties [path [value]]`, `instance host_ip`, `source|target
//! <node|instance ...>` in relationship operations, `deployment id`,
//! `blueprint id`, `execution_id`, `workflow_id`, `operation name`,
//! `operation retry [message [after]]`, `retry_operation [message
//! [after]]`, `abort_operation [message]`, `logger <level> <message>`,
//! `download_resource <path> [target]`, `download_resource_and_render
//! <path> [target] [@{variables}]`, `agent init_script`, `returns <value>`.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::post;
use parking_lot::Mutex;
use serde_json::{Map, Value, json};

use super::events::{WorkflowContext, publish};
use crate::bus::MessageBus;

/// One side of an operation: a node and one of its instances.
#[derive(Debug, Clone)]
pub struct Side {
    pub node: Value,
    pub instance_id: String,
    pub runtime: Arc<Mutex<Map<String, Value>>>,
    pub dirty: Arc<Mutex<bool>>,
    /// The host instance's `ip` runtime property or node property.
    pub host_ip: Option<String>,
    /// The instance's storage version when read (remote agents PATCH with it).
    pub version: u64,
}

/// Where `download-resource` and the script itself come from: the
/// manager's file server root on disk, or its URL for a remote agent.
#[derive(Debug, Clone)]
pub enum Resources {
    Local(PathBuf),
    Remote {
        /// `<file server>/blueprints/<blueprint id>`.
        base_url: String,
        client: reqwest::Client,
    },
}

/// The largest resource fetched from the file server.
const MAX_RESOURCE: u64 = 512 << 20;

impl Resources {
    /// Copies blueprint resource `path` to `dest`.
    pub async fn fetch(&self, path: &str, dest: &std::path::Path) -> Result<(), String> {
        if path.split('/').any(|p| p == "..") || path.starts_with('/') {
            return Err(format!("resource path {path} leaves the blueprint"));
        }
        match self {
            Resources::Local(root) => tokio::fs::copy(root.join(path), dest)
                .await
                .map(|_| ())
                .map_err(|e| format!("cannot download resource {path}: {e}")),
            Resources::Remote { base_url, client } => {
                let url = format!("{base_url}/{path}");
                let resp = client
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| format!("cannot download resource {path} from {url}: {e}"))?;
                if !resp.status().is_success() {
                    return Err(format!(
                        "cannot download resource {path}: {url} answered {}",
                        resp.status()
                    ));
                }
                if resp.content_length().is_some_and(|n| n > MAX_RESOURCE) {
                    return Err(format!(
                        "resource {path} is larger than {MAX_RESOURCE} bytes"
                    ));
                }
                let bytes = resp
                    .bytes()
                    .await
                    .map_err(|e| format!("cannot download resource {path}: {e}"))?;
                tokio::fs::write(dest, &bytes)
                    .await
                    .map_err(|e| format!("cannot write resource {path}: {e}"))
            }
        }
    }
}

/// What the proxy answers from.
pub struct OpContext {
    pub workflow: WorkflowContext,
    pub operation: String,
    pub task_name: String,
    pub plugin: String,
    /// The instance the operation runs on (the source in relationship ops).
    pub this: Side,
    /// `(source, target)` in relationship operations.
    pub related: Option<(Side, Side)>,
    pub resources: Resources,
    pub work_dir: PathBuf,
    pub bus: Arc<dyn MessageBus>,
    pub returned: Mutex<Option<Value>>,
    /// `ctx operation retry`: the message and the seconds to wait.
    pub retry: Mutex<Option<(String, Option<u64>)>>,
    /// `ctx abort-operation`: fail without retries.
    pub abort: Mutex<Option<String>>,
    /// What `ctx agent init-script` returns: the script that installs this
    /// host's agent (init_script hosts only).
    pub agent_script: Option<String>,
}

/// The value at a dotted path; null when missing (3.3's `dict.get`).
fn walk(v: &Value, path: &[String]) -> Result<Value, String> {
    let mut v = v;
    for p in path.iter().flat_map(|p| p.split('.')) {
        match v.get(p) {
            Some(next) => v = next,
            None => return Ok(Value::Null),
        }
    }
    Ok(v.clone())
}

fn set_path(map: &mut Map<String, Value>, path: &[String], value: Value) -> Result<(), String> {
    let keys: Vec<&str> = path.iter().flat_map(|p| p.split('.')).collect();
    let Some((last, parents)) = keys.split_last() else {
        return Err("a runtime property path is needed".into());
    };
    let mut m = map;
    for k in parents {
        let next = m
            .entry((*k).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        m = next
            .as_object_mut()
            .ok_or_else(|| format!("'{k}' is not a dictionary"))?;
    }
    m.insert((*last).to_owned(), value);
    Ok(())
}

impl OpContext {
    fn side(&self, args: &[String]) -> (Side, Vec<String>) {
        match (args.first().map(String::as_str), &self.related) {
            (Some("source"), Some((s, _))) => (s.clone(), args[1..].to_vec()),
            (Some("target"), Some((_, t))) => (t.clone(), args[1..].to_vec()),
            _ => (self.this.clone(), args.to_vec()),
        }
    }

    pub(crate) async fn log(&self, level: &str, message: &str) {
        let mut ev = json!({
            "type": "cloudify_log", "level": level, "logger": self.task_name,
            "message": {"text": message}, "message_code": null,
            "context": {
                "execution_id": self.workflow.execution_id, "workflow_id": self.workflow.workflow_id,
                "deployment_id": self.workflow.deployment_id, "blueprint_id": self.workflow.blueprint_id,
                "node_id": self.this.instance_id, "node_name": self.this.node["id"],
                "operation": self.operation, "task_name": self.task_name, "plugin": self.plugin,
            },
        });
        ev["timestamp"] =
            super::events::workflow_event(&self.workflow, "", "", Value::Null)["timestamp"].clone();
        publish(&*self.bus, &ev).await;
    }

    /// What `{{ ctx.… }}` in a rendered resource reads.
    fn template_ctx(&self) -> Value {
        let side = |s: &Side| {
            json!({
                "node": {"id": s.node["id"], "name": s.node["id"], "properties": s.node["properties"], "type": s.node["type"]},
                "instance": {"id": s.instance_id, "runtime_properties": Value::Object(s.runtime.lock().clone()), "host_ip": s.host_ip},
            })
        };
        let mut v = side(&self.this);
        v["deployment"] = json!({"id": self.workflow.deployment_id});
        v["blueprint"] = json!({"id": self.workflow.blueprint_id});
        v["execution_id"] = json!(self.workflow.execution_id);
        v["workflow_id"] = json!(self.workflow.workflow_id);
        v["operation"] = json!({"name": self.operation});
        if let Some((s, t)) = &self.related {
            v["source"] = side(s);
            v["target"] = side(t);
        }
        v
    }

    /// Evaluates one ctx call.
    pub async fn call(&self, raw: &[String]) -> Result<Value, String> {
        // Command words (not values) read dashes as underscores.
        let words = if matches!(raw.first().map(String::as_str), Some("source" | "target")) {
            3
        } else {
            2
        };
        let args: Vec<String> = raw
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if i < words {
                    a.replace('-', "_")
                } else {
                    a.clone()
                }
            })
            .collect();
        let head = args.first().map(String::as_str).unwrap_or_default();
        match head {
            "logger" => {
                let level = args.get(1).map_or("info", String::as_str);
                let level = if level == "warning" { "warn" } else { level };
                let text = raw[2.min(raw.len())..].join(" ");
                self.log(level, &text).await;
                Ok(Value::Null)
            }
            "returns" => {
                *self.returned.lock() = Some(raw.get(1).map_or(Value::Null, |v| json!(v)));
                Ok(Value::Null)
            }
            "deployment" => Ok(json!(self.workflow.deployment_id)),
            "blueprint" => Ok(json!(self.workflow.blueprint_id)),
            "execution_id" => Ok(json!(self.workflow.execution_id)),
            "workflow_id" => Ok(json!(self.workflow.workflow_id)),
            "operation" => match args.get(1).map(String::as_str) {
                Some("name") => Ok(json!(self.operation)),
                Some("retry") => {
                    let msg = raw
                        .get(2)
                        .cloned()
                        .unwrap_or_else(|| "operation retry requested".into());
                    let after = raw.get(3).and_then(|a| a.parse().ok());
                    *self.retry.lock() = Some((msg, after));
                    Ok(Value::Null)
                }
                other => Err(format!("ctx operation {other:?} is not supported")),
            },
            "abort_operation" => {
                let msg = raw
                    .get(1)
                    .cloned()
                    .unwrap_or_else(|| "operation aborted".into());
                *self.abort.lock() = Some(msg);
                Ok(Value::Null)
            }
            "retry_operation" => {
                let msg = raw
                    .get(1)
                    .cloned()
                    .unwrap_or_else(|| "operation retry requested".into());
                let after = raw.get(2).and_then(|a| a.parse().ok());
                *self.retry.lock() = Some((msg, after));
                Ok(Value::Null)
            }
            "agent" => match (args.get(1).map(String::as_str), &self.agent_script) {
                (Some("init_script"), Some(script)) => Ok(json!(script)),
                (Some("init_script"), None) => Ok(Value::Null),
                _ => Err(format!(
                    "ctx {} is not supported yet by cfyd",
                    raw.join(" ")
                )),
            },
            "download_resource_and_render" => {
                let path = raw
                    .get(1)
                    .ok_or("download-resource-and-render needs a resource path")?;
                let dest = match raw.get(2).filter(|t| !t.starts_with('@')) {
                    Some(t) => PathBuf::from(t),
                    None => self
                        .work_dir
                        .join(path.rsplit('/').next().unwrap_or("resource")),
                };
                let vars = match raw.iter().skip(2).find_map(|a| a.strip_prefix('@')) {
                    Some(j) => serde_json::from_str(j)
                        .map_err(|e| format!("template variables are not JSON: {e}"))?,
                    None => Value::Object(Map::new()),
                };
                self.resources.fetch(path, &dest).await?;
                let text = tokio::fs::read_to_string(&dest)
                    .await
                    .map_err(|e| format!("resource {path} is not text: {e}"))?;
                let rendered = super::render::render(&text, &self.template_ctx(), &vars)?;
                tokio::fs::write(&dest, rendered)
                    .await
                    .map_err(|e| format!("cannot write the rendered {path}: {e}"))?;
                Ok(json!(dest.to_string_lossy()))
            }
            "download_resource" => {
                let path = raw
                    .get(1)
                    .ok_or("download-resource needs a resource path")?;
                let dest = match raw.get(2) {
                    Some(t) => PathBuf::from(t),
                    None => self
                        .work_dir
                        .join(path.rsplit('/').next().unwrap_or("resource")),
                };
                self.resources.fetch(path, &dest).await?;
                Ok(json!(dest.to_string_lossy()))
            }
            "node" | "instance" | "source" | "target" => {
                let (side, rest) = self.side(&args);
                let raw_rest = &raw[raw.len() - rest.len()..];
                match (
                    rest.first().map(String::as_str),
                    rest.get(1).map(String::as_str),
                ) {
                    (Some("node"), Some("id" | "name")) => Ok(side.node["id"].clone()),
                    (Some("node"), Some("properties")) => {
                        walk(&side.node["properties"], &rest[2..])
                    }
                    (Some("instance"), Some("id")) => Ok(json!(side.instance_id)),
                    (Some("instance"), Some("host_ip")) => Ok(json!(side.host_ip)),
                    (Some("instance"), Some("runtime_properties")) => {
                        let path = &raw_rest[2..];
                        if path.len() >= 2 {
                            let (keys, value) = path.split_at(path.len() - 1);
                            // 3.3's `@` prefix marks a JSON argument.
                            let value = match value[0].strip_prefix('@') {
                                Some(j) => {
                                    serde_json::from_str(j).unwrap_or_else(|_| json!(value[0]))
                                }
                                None => json!(value[0]),
                            };
                            set_path(&mut side.runtime.lock(), keys, value)?;
                            *side.dirty.lock() = true;
                            Ok(Value::Null)
                        } else {
                            walk(&Value::Object(side.runtime.lock().clone()), path)
                        }
                    }
                    _ => Err(format!(
                        "ctx {} is not supported yet by cfyd",
                        raw.join(" ")
                    )),
                }
            }
            _ => Err(format!(
                "ctx {} is not supported yet by cfyd",
                raw.join(" ")
            )),
        }
    }
}

/// The operations whose scripts may call in, by token.
type Registry = Arc<Mutex<std::collections::HashMap<String, Arc<OpContext>>>>;

/// One loopback listener per process serves every operation's `ctx`.
struct Server {
    base: String,
    registry: Registry,
}

static SERVER: tokio::sync::OnceCell<Server> = tokio::sync::OnceCell::const_new();

async fn handle(
    State(registry): State<Registry>,
    Path(token): Path<String>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let Some(ctx) = registry.lock().get(&token).cloned() else {
        return Json(
            json!({"type": "error", "payload": {"error": "unknown or expired ctx token"}}),
        );
    };
    let args: Vec<String> = body["args"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_owned))
        .collect();
    match ctx.call(&args).await {
        Ok(v) => Json(json!({"type": "result", "payload": v})),
        Err(e) => Json(json!({"type": "error", "payload": {"error": e}})),
    }
}

async fn server() -> std::io::Result<&'static Server> {
    SERVER
        .get_or_try_init(|| async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let registry: Registry = Arc::default();
            let app = axum::Router::new()
                .route("/{token}", post(handle))
                .with_state(registry.clone());
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            Ok(Server {
                base: format!("http://{addr}"),
                registry,
            })
        })
        .await
}

/// An operation's registration with the ctx server; dropping it makes the
/// operation's token invalid.
pub struct Registration {
    token: String,
    registry: Registry,
    pub url: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.token);
    }
}

/// Registers `ctx` with the process's ctx server (started on first use on
/// a free loopback port); the URL scripts get as `CTX_SOCKET_URL` carries
/// a random token.
pub async fn register(ctx: Arc<OpContext>) -> std::io::Result<Registration> {
    let s = server().await?;
    let token = uuid::Uuid::new_v4().simple().to_string();
    s.registry.lock().insert(token.clone(), ctx);
    Ok(Registration {
        url: format!("{}/{token}", s.base),
        token,
        registry: s.registry.clone(),
    })
}
