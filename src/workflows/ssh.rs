//! `install_method: remote`: cfyd copies its own binary to the host over
//! SSH (the system's `ssh`, key or password from `agent_config`) and
//! starts it there as `cfyd agent`; uninstall removes it. Host key checking
//! is off, as 3.3's fabric-based installer had it.

use std::path::PathBuf;
use std::time::Duration;

use tokio::process::Command;

/// How to reach a host.
#[derive(Debug, Clone)]
pub struct SshTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub key: Option<PathBuf>,
    pub password: Option<String>,
    /// The agent's directory on the host (relative paths are under $HOME).
    pub dir: String,
}

/// How long one ssh/scp command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// A single-quoted shell word.
pub fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl SshTarget {
    fn options(&self) -> Vec<String> {
        let mut o = vec![
            "-p".to_owned(),
            self.port.to_string(),
            "-o".into(),
            "StrictHostKeyChecking=no".into(),
            "-o".into(),
            "UserKnownHostsFile=/dev/null".into(),
            "-o".into(),
            "LogLevel=ERROR".into(),
            "-o".into(),
            "ConnectTimeout=30".into(),
        ];
        if let Some(k) = &self.key {
            o.push("-i".into());
            o.push(k.to_string_lossy().into_owned());
        }
        if self.password.is_none() {
            o.push("-o".into());
            o.push("BatchMode=yes".into());
        }
        o
    }

    /// Runs `program` with a password fed through SSH_ASKPASS when one is
    /// configured.
    async fn run(
        &self,
        program: &str,
        args: Vec<String>,
        stdin: Option<std::fs::File>,
    ) -> Result<String, String> {
        let mut cmd = Command::new(program);
        cmd.args(&args)
            .stdin(stdin.map_or_else(std::process::Stdio::null, std::process::Stdio::from))
            .kill_on_drop(true);
        let askpass_dir;
        if let Some(pw) = &self.password {
            askpass_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let script = askpass_dir.path().join("askpass");
            std::fs::write(
                &script,
                "#!/bin/sh\nprintf '%s\\n' \"$CFYD_SSH_PASSWORD\"\n",
            )
            .map_err(|e| e.to_string())?;
            set_executable(&script)?;
            cmd.env("SSH_ASKPASS", &script)
                .env("SSH_ASKPASS_REQUIRE", "force")
                .env("DISPLAY", ":0")
                .env("CFYD_SSH_PASSWORD", pw);
        }
        let out = tokio::time::timeout(COMMAND_TIMEOUT, cmd.output())
            .await
            .map_err(|_| format!("{program} to {} timed out", self.host))?
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{program} to {}@{}:{} failed ({}): {}",
                self.user,
                self.host,
                self.port,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs a shell command on the host.
    pub async fn exec(&self, command: &str) -> Result<String, String> {
        let mut args = self.options();
        args.push(format!("{}@{}", self.user, self.host));
        args.push(command.to_owned());
        self.run("ssh", args, None).await
    }

    /// Copies this cfyd binary to `<dir>/cfyd` on the host and starts it
    /// as the agent with `agent_args` (already shell-quoted).
    pub async fn install(&self, agent_args: &str) -> Result<(), String> {
        let dir = sh(&self.dir);
        self.exec(&format!("mkdir -p {dir}")).await?;
        // Streamed through ssh itself: no scp/sftp needed on the host.
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let binary =
            std::fs::File::open(&exe).map_err(|e| format!("cannot read {}: {e}", exe.display()))?;
        let mut args = self.options();
        args.push(format!("{}@{}", self.user, self.host));
        args.push(format!("cat > {dir}/cfyd.part"));
        self.run("ssh", args, Some(binary)).await?;
        self.exec(&format!(
            "cd {dir} && chmod +x cfyd.part && mv cfyd.part cfyd && (nohup ./cfyd agent {agent_args} >agent.log 2>&1 </dev/null & echo $! >agent.pid)"
        ))
        .await
        .map(|_| ())
    }

    /// Removes the agent's directory (after it was asked to stop).
    pub async fn remove(&self) -> Result<(), String> {
        self.exec(&format!("rm -rf {}", sh(&self.dir)))
            .await
            .map(|_| ())
    }
}

#[cfg(unix)]
fn set_executable(path: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_follow_the_auth_method() {
        let mut t = SshTarget {
            host: "h".into(),
            port: 2222,
            user: "u".into(),
            key: Some("/k".into()),
            password: None,
            dir: ".cfyd-agent/x".into(),
        };
        let o = t.options();
        assert_eq!(&o[..2], ["-p", "2222"]);
        assert!(o.windows(2).any(|w| w == ["-i", "/k"]));
        assert!(o.iter().any(|x| x == "BatchMode=yes"));
        t.password = Some("pw".into());
        assert!(!t.options().iter().any(|x| x == "BatchMode=yes"));
        assert_eq!(sh("a'b"), r"'a'\''b'");
    }
}
