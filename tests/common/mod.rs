//! The end-to-end harness: runs the real `cfyd` binary on free ports in a
//! temporary data directory, hands the test its ports, and kills it by pid
//! when the test ends (also when it panics).

#![allow(dead_code)]

pub mod api;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a start may take before the harness gives up.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_cfyd")
}

/// A running cfyd.
pub struct Cfyd {
    child: Option<Child>,
    dir: tempfile::TempDir,
    args: Vec<String>,
    ports: BTreeMap<String, u16>,
}

impl Cfyd {
    /// Starts `cfyd serve --ephemeral-ports` and waits until it is ready.
    pub fn start() -> Cfyd {
        Cfyd::start_with(&[])
    }

    /// As [`Cfyd::start`], with extra arguments to `serve`.
    pub fn start_with(args: &[&str]) -> Cfyd {
        let dir = tempfile::tempdir().expect("temp dir");
        Cfyd::start_in(dir, args)
    }

    /// Starts in a prepared directory (its `data/` is the data directory).
    pub fn start_in(dir: tempfile::TempDir, args: &[&str]) -> Cfyd {
        let mut cfyd = Cfyd {
            child: None,
            dir,
            args: args.iter().map(|a| a.to_string()).collect(),
            ports: BTreeMap::new(),
        };
        cfyd.spawn();
        cfyd
    }

    /// Starts again on the same data directory after a stop or a kill.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "cfyd is still running");
        self.spawn();
    }

    fn spawn(&mut self) {
        let data = self.data_dir();
        // A killed instance leaves its ports.json behind; never read that one.
        let _ = std::fs::remove_file(data.join("ports.json"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("cfyd.log"))
            .expect("log file");
        let child = Command::new(binary())
            .arg("serve")
            .arg("--ephemeral-ports")
            .arg("--data-dir")
            .arg(&data)
            .args(&self.args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("spawn cfyd");
        self.child = Some(child);
        self.ports = self.wait_ready(&data);
    }

    fn wait_ready(&mut self, data: &Path) -> BTreeMap<String, u16> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let ports_file = data.join("ports.json");
        loop {
            if let Ok(text) = std::fs::read_to_string(&ports_file)
                && let Ok(ports) = serde_json::from_str(&text)
            {
                return ports;
            }
            if let Some(status) = self.child_mut().try_wait().expect("try_wait") {
                panic!("cfyd exited before ready ({status}):\n{}", self.log());
            }
            if Instant::now() > deadline {
                panic!("cfyd not ready after {READY_TIMEOUT:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("cfyd already stopped")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// The port a listener got, by its `ports.json` name.
    pub fn port(&self, listener: &str) -> u16 {
        *self
            .ports
            .get(listener)
            .unwrap_or_else(|| panic!("no listener {listener} in {:?}", self.ports))
    }

    pub fn ports(&self) -> &BTreeMap<String, u16> {
        &self.ports
    }

    /// `http://127.0.0.1:<port of listener><path>`.
    pub fn url(&self, listener: &str, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port(listener))
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Everything cfyd has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("cfyd.log")).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.pid().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child_mut().try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "cfyd ignored SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills with SIGKILL, as a crash would, and reaps the process.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Cfyd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `cfyd <args>` to completion and returns (exit status, stdout, stderr).
pub fn run(args: &[&str]) -> (ExitStatus, String, String) {
    let out = Command::new(binary())
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run cfyd");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
