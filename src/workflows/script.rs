//! The built-in script plugin (`script_runner.tasks.run`): runs a script
//! from the blueprint's resources with its interpreter, operation inputs
//! as environment variables, `process` options (cwd, env, args,
//! command_prefix), and `ctx` on its PATH talking to a per-operation proxy.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::process::Command;

use super::ctx::{self, OpContext, Resources};

/// How an operation failed.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskError {
    /// Retried while retries remain (3.3: a non-zero exit is recoverable).
    Recoverable(String),
    /// `ctx operation retry`: always retried, after the given seconds.
    Retry(String, Option<u64>),
    NonRecoverable(String),
}

impl TaskError {
    pub fn message(&self) -> &str {
        match self {
            TaskError::Recoverable(m) | TaskError::Retry(m, _) | TaskError::NonRecoverable(m) => m,
        }
    }
}

/// The command that runs `script`: its shebang, else by extension.
fn command_for(script: &Path, prefix: Option<&str>) -> Command {
    if let Some(p) = prefix.filter(|p| !p.trim().is_empty()) {
        let mut parts = p.split_whitespace();
        let mut c = Command::new(parts.next().unwrap_or("sh"));
        c.args(parts).arg(script);
        return c;
    }
    let head = std::fs::read(script)
        .ok()
        .and_then(|b| {
            let line = b.split(|c| *c == b'\n').next()?.to_vec();
            String::from_utf8(line).ok()
        })
        .unwrap_or_default();
    if let Some(interp) = head.strip_prefix("#!") {
        let mut parts = interp.split_whitespace();
        if let Some(prog) = parts.next() {
            let mut c = Command::new(prog);
            c.args(parts).arg(script);
            return c;
        }
    }
    let prog = match script.extension().and_then(|e| e.to_str()) {
        Some("py") => "python3",
        _ => "bash",
    };
    let mut c = Command::new(prog);
    c.arg(script);
    c
}

fn env_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// Kills a process group when dropped while armed: a cancelled operation
/// takes the script and everything it started with it.
struct GroupKill(Option<u32>);

impl Drop for GroupKill {
    fn drop(&mut self) {
        if let Some(pgid) = self.0.and_then(|p| i32::try_from(p).ok()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pgid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Exit status, stdout and stderr of a script. Waits for the script
/// itself, not for daemons it left running with our pipes open: their
/// output is read for at most a second after the script exits.
async fn run_process(mut cmd: Command) -> std::io::Result<std::process::Output> {
    use tokio::io::AsyncReadExt;
    cmd.process_group(0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn()?;
    let mut guard = GroupKill(child.id());
    let read = |pipe: Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>| {
        tokio::spawn(async move {
            let mut buf = Vec::new();
            if let Some(p) = pipe {
                let _ = p.take(MAX_OUTPUT).read_to_end(&mut buf).await;
            }
            buf
        })
    };
    let stdout = read(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = read(child.stderr.take().map(|p| Box::new(p) as _));
    let status = child.wait().await?;
    guard.0 = None;
    let collect = |h: tokio::task::JoinHandle<Vec<u8>>| async move {
        tokio::time::timeout(std::time::Duration::from_secs(1), h)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    };
    Ok(std::process::Output {
        status,
        stdout: collect(stdout).await,
        stderr: collect(stderr).await,
    })
}

/// The most of a script's stdout or stderr kept.
const MAX_OUTPUT: u64 = 1 << 20;

/// The `script_path` input, checked to stay inside the blueprint.
fn script_path(inputs: &Map<String, Value>) -> Result<&str, TaskError> {
    let path = inputs
        .get("script_path")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| TaskError::NonRecoverable("the script_path input is missing".into()))?;
    if path.split('/').any(|p| p == "..") || path.starts_with('/') {
        return Err(TaskError::NonRecoverable(format!(
            "script path {path} leaves the blueprint"
        )));
    }
    Ok(path)
}

/// Where the script of a manager-side operation is.
pub fn local_script(
    resources: &Resources,
    inputs: &Map<String, Value>,
) -> Result<PathBuf, TaskError> {
    let path = script_path(inputs)?;
    match resources {
        Resources::Local(root) => Ok(root.join(path)),
        Resources::Remote { .. } => Err(TaskError::NonRecoverable(
            "a remote script must be fetched first".into(),
        )),
    }
}

/// Fetches the script into `work_dir` (remote agents) or points at it.
pub async fn fetch_script(
    resources: &Resources,
    inputs: &Map<String, Value>,
    work_dir: &Path,
) -> Result<PathBuf, TaskError> {
    if let Resources::Local(_) = resources {
        return local_script(resources, inputs);
    }
    let path = script_path(inputs)?;
    let dir = work_dir.join("script");
    std::fs::create_dir_all(&dir).map_err(|e| {
        TaskError::NonRecoverable(format!("cannot prepare the script directory: {e}"))
    })?;
    let dest = dir.join(path.rsplit('/').next().unwrap_or("script"));
    resources
        .fetch(path, &dest)
        .await
        .map_err(TaskError::Recoverable)?;
    Ok(dest)
}

/// Runs the script; `Ok` carries what `ctx returns` gave.
pub async fn run(
    op: Arc<OpContext>,
    script: PathBuf,
    inputs: &Map<String, Value>,
) -> Result<Option<Value>, TaskError> {
    if !script.is_file() {
        return Err(TaskError::NonRecoverable(format!(
            "script {} not found in the blueprint",
            script.display()
        )));
    }
    let bin = op.work_dir.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| {
        TaskError::NonRecoverable(format!("cannot prepare the operation directory: {e}"))
    })?;
    let exe = std::env::current_exe().map_err(|e| TaskError::NonRecoverable(e.to_string()))?;
    let link = bin.join("ctx");
    if !link.exists() {
        std::os::unix::fs::symlink(&exe, &link)
            .map_err(|e| TaskError::NonRecoverable(format!("cannot put ctx on PATH: {e}")))?;
    }
    let registration = ctx::register(op.clone())
        .await
        .map_err(|e| TaskError::NonRecoverable(format!("cannot start the ctx proxy: {e}")))?;
    let url = registration.url.clone();
    let process = inputs.get("process").cloned().unwrap_or(Value::Null);
    let mut cmd = command_for(&script, process["command_prefix"].as_str());
    for a in process["args"].as_array().into_iter().flatten() {
        cmd.arg(env_value(a));
    }
    for (k, v) in inputs {
        if k != "script_path" && k != "process" {
            cmd.env(k, env_value(v));
        }
    }
    for (k, v) in process["env"].as_object().into_iter().flatten() {
        cmd.env(k, env_value(v));
    }
    let path = std::env::var("PATH").unwrap_or_default();
    cmd.env("PATH", format!("{}:{path}", bin.display()))
        .env("CTX_SOCKET_URL", &url)
        .current_dir(
            process["cwd"]
                .as_str()
                .map_or_else(|| op.work_dir.clone(), PathBuf::from),
        )
        .stdin(std::process::Stdio::null());
    let out = run_process(cmd).await;
    drop(registration);
    let out =
        out.map_err(|e| TaskError::Recoverable(format!("cannot run {}: {e}", script.display())))?;
    let name = script
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The script's output reaches the logs (its last lines).
    for (stream, bytes, level) in [
        ("stdout", &out.stdout, "info"),
        ("stderr", &out.stderr, "warn"),
    ] {
        if !bytes.iter().all(u8::is_ascii_whitespace) {
            op.log(level, &format!("{name} {stream}:\n{}", tail(bytes)))
                .await;
        }
    }
    if let Some(msg) = op.abort.lock().take() {
        return Err(TaskError::NonRecoverable(msg));
    }
    if let Some((msg, after)) = op.retry.lock().take() {
        return Err(TaskError::Retry(msg, after));
    }
    if !out.status.success() {
        let code = out
            .status
            .code()
            .map_or_else(|| "a signal".to_owned(), |c| format!("code {c}"));
        return Err(TaskError::Recoverable(format!(
            "ProcessExecutionError: {name} exited with {code}; stderr: {}",
            tail(&out.stderr)
        )));
    }
    Ok(op.returned.lock().take())
}
