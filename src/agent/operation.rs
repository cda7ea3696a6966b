//! One operation on a host agent: the instance (and, in relationship
//! operations, the related one) read from the manager's REST API, the
//! script fetched from its file server and run with the built-in script
//! plugin, and dirty runtime properties written back with their version
//! after a success (as 3.3's agent-side context did).

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::AgentEnv;
use crate::bus::{AmqpBus, MessageBus};
use crate::celery::{Outcome, Task};
use crate::workflows::ctx::{OpContext, Resources, Side};
use crate::workflows::events::WorkflowContext;
use crate::workflows::script::{self, TaskError};

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

async fn get(env: &AgentEnv, path: &str) -> Result<Value, TaskError> {
    let url = format!("{}/api/v2{path}", env.options.rest_url);
    let resp =
        env.http.get(&url).send().await.map_err(|e| {
            TaskError::Recoverable(format!("cannot reach the manager at {url}: {e}"))
        })?;
    let code = resp.status();
    let body: Value = resp
        .json()
        .await
        .map_err(|e| TaskError::Recoverable(format!("bad answer from {url}: {e}")))?;
    if !code.is_success() {
        return Err(TaskError::NonRecoverable(format!(
            "{url} answered {code}: {}",
            body["message"].as_str().unwrap_or_default()
        )));
    }
    Ok(body)
}

/// The node instance `id` of node `node` with what ctx answers from.
async fn load_side(
    env: &AgentEnv,
    deployment: &str,
    id: &str,
    node: &str,
) -> Result<Side, TaskError> {
    let inst = get(env, &format!("/node-instances/{id}")).await?;
    let nodes = get(env, &format!("/nodes?deployment_id={deployment}&id={node}")).await?;
    let node_doc = nodes["items"][0].clone();
    let host_ip = match inst["host_id"].as_str() {
        Some(h) if h == id => inst["runtime_properties"]["ip"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| node_doc["properties"]["ip"].as_str().map(str::to_owned)),
        Some(h) => {
            let host = get(env, &format!("/node-instances/{h}")).await?;
            match host["runtime_properties"]["ip"].as_str() {
                Some(ip) => Some(ip.to_owned()),
                None => {
                    let hn = get(
                        env,
                        &format!(
                            "/nodes?deployment_id={deployment}&id={}",
                            text(&host["node_id"])
                        ),
                    )
                    .await?;
                    hn["items"][0]["properties"]["ip"]
                        .as_str()
                        .map(str::to_owned)
                }
            }
        }
        None => None,
    };
    Ok(Side {
        node: node_doc,
        instance_id: id.to_owned(),
        runtime: Arc::new(parking_lot::Mutex::new(
            inst["runtime_properties"]
                .as_object()
                .cloned()
                .unwrap_or_default(),
        )),
        dirty: Arc::new(parking_lot::Mutex::new(false)),
        host_ip,
        version: inst["version"].as_u64().unwrap_or(0),
    })
}

/// PATCHes a side's runtime properties when the operation changed them.
async fn save(env: &AgentEnv, side: &Side) -> Result<(), TaskError> {
    if !*side.dirty.lock() {
        return Ok(());
    }
    let url = format!(
        "{}/api/v2/node-instances/{}",
        env.options.rest_url, side.instance_id
    );
    let body = json!({
        "runtime_properties": Value::Object(side.runtime.lock().clone()),
        "version": side.version,
    });
    let resp = env
        .http
        .patch(&url)
        .json(&body)
        .send()
        .await
        .map_err(|e| TaskError::Recoverable(format!("cannot save runtime properties: {e}")))?;
    if !resp.status().is_success() {
        let code = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        return Err(TaskError::Recoverable(format!(
            "cannot save the runtime properties of {}: {code} {}",
            side.instance_id,
            v["message"].as_str().unwrap_or_default()
        )));
    }
    Ok(())
}

fn failure(e: TaskError) -> Outcome {
    let (exc_type, retry_after) = match &e {
        TaskError::Recoverable(_) => ("RecoverableError", None),
        TaskError::Retry(_, after) => ("OperationRetry", *after),
        TaskError::NonRecoverable(_) => ("NonRecoverableError", None),
    };
    Outcome::Failure {
        exc_type: exc_type.into(),
        message: e.message().to_owned(),
        retry_after,
        traceback: String::new(),
    }
}

/// Runs `task`; never fails, the outcome says how it went.
pub(super) async fn run(env: &AgentEnv, bus: Arc<AmqpBus>, task: &Task) -> Outcome {
    match attempt(env, bus, task).await {
        Ok(v) => Outcome::Success(v.unwrap_or(Value::Null)),
        Err(e) => failure(e),
    }
}

async fn attempt(
    env: &AgentEnv,
    bus: Arc<AmqpBus>,
    task: &Task,
) -> Result<Option<Value>, TaskError> {
    if task.name != "script_runner.tasks.run" {
        return Err(TaskError::NonRecoverable(format!(
            "plugin '{}' (task {}) is not available on this cfyd agent; only the script plugin runs",
            text(&task.context["plugin"]),
            task.name
        )));
    }
    let c: &Map<String, Value> = &task.context;
    let field = |k: &str| c.get(k).map(text).unwrap_or_default();
    let workflow = WorkflowContext {
        execution_id: field("execution_id"),
        workflow_id: field("workflow_id"),
        deployment_id: field("deployment_id"),
        blueprint_id: field("blueprint_id"),
        parameters: Map::new(),
    };
    let this = load_side(
        env,
        &workflow.deployment_id,
        &field("node_id"),
        &field("node_name"),
    )
    .await?;
    let related = match c.get("related").filter(|r| r.is_object()) {
        Some(r) => {
            let other = load_side(
                env,
                &workflow.deployment_id,
                &text(&r["node_id"]),
                &text(&r["node_name"]),
            )
            .await?;
            Some(if r["is_target"] == true {
                (this.clone(), other)
            } else {
                (other, this.clone())
            })
        }
        None => None,
    };
    let resources = Resources::Remote {
        base_url: format!(
            "{}/blueprints/{}",
            env.options.file_server_url, workflow.blueprint_id
        ),
        client: env.http.clone(),
    };
    let work = tempfile::Builder::new()
        .prefix("cfyd-agent-op-")
        .tempdir()
        .map_err(|e| {
            TaskError::NonRecoverable(format!("cannot create an operation directory: {e}"))
        })?;
    let script = script::fetch_script(&resources, &task.kwargs, work.path()).await?;
    let operation = c
        .get("operation")
        .map(|o| text(&o["name"]))
        .unwrap_or_default();
    let bus: Arc<dyn MessageBus> = bus;
    let opctx = Arc::new(OpContext {
        workflow,
        operation,
        task_name: task.name.clone(),
        plugin: field("plugin"),
        this: this.clone(),
        related: related.clone(),
        resources,
        work_dir: work.path().to_owned(),
        bus,
        returned: parking_lot::Mutex::new(None),
        retry: parking_lot::Mutex::new(None),
        abort: parking_lot::Mutex::new(None),
        agent_script: None,
    });
    let result = script::run(opctx, script, &task.kwargs).await?;
    save(env, &this).await?;
    if let Some((s, t)) = &related {
        for side in [s, t] {
            if side.instance_id != this.instance_id {
                save(env, side).await?;
            }
        }
    }
    Ok(result)
}
