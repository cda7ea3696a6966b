//! The command line: `cfyd serve`, `cfyd config show`, `cfyd version`.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Overrides;

#[derive(Debug, Parser)]
#[command(
    name = "cfyd",
    version,
    about = "A Cloudify-3.3-compatible manager in one binary"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start every listener and run until SIGINT or SIGTERM.
    Serve(ConfigArgs),
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Work with blueprints offline.
    Blueprints {
        #[command(subcommand)]
        command: BlueprintsCommand,
    },
    /// Run as a host agent: execute the operations the manager sends to a
    /// queue (a Compute node's `cloudify_agent.queue`), as 3.3's Celery
    /// agents did.
    Agent(AgentArgs),
    /// Print the version.
    Version,
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The manager's broker.
    #[arg(
        long,
        env = "CELERY_BROKER_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/"
    )]
    pub broker: String,
    /// The queue to consume (the host instance id unless its agent_config
    /// names another).
    #[arg(long)]
    pub queue: String,
    /// The agent's name (`celery@<name>`); the queue's name by default.
    #[arg(long)]
    pub name: Option<String>,
    /// The manager's REST API for ctx calls; `http://<broker host>:8101`
    /// by default.
    #[arg(long, env = "MANAGER_REST_URL")]
    pub rest_url: Option<String>,
    /// The manager's file server for scripts and resources;
    /// `http://<broker host>:53229` by default.
    #[arg(long, env = "MANAGER_FILE_SERVER_URL")]
    pub file_server_url: Option<String>,
    /// Operations run at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: u16,
    /// A `RUST_LOG`-style log filter.
    #[arg(long, default_value = "info")]
    pub log: String,
}

#[derive(Debug, Subcommand)]
pub enum BlueprintsCommand {
    /// Parse a blueprint and its imports offline and plan a deployment, as
    /// `cfy blueprints validate` did; exits non-zero when it is invalid.
    Validate(ValidateArgs),
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The main blueprint YAML file.
    pub path: PathBuf,
    /// Import resolver rule `URL_PREFIX=REPLACEMENT_PREFIX` (repeatable,
    /// tried in order before the bundled definitions).
    #[arg(long = "resolver-rule", value_name = "PREFIX=REPLACEMENT", value_parser = parse_key_value)]
    pub resolver_rules: Vec<(String, String)>,
    /// Directory that relative imports fall back to (the file server root).
    #[arg(long)]
    pub resources_base: Option<PathBuf>,
    /// Deployment inputs, as JSON text or a JSON/YAML file; builds the
    /// deployment plan with them.
    #[arg(long, value_name = "JSON|FILE")]
    pub inputs: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (defaults, file, environment, flags).
    Show(ConfigArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    Pretty,
    Json,
}

/// Flags that feed the last configuration layer.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// Configuration file (default: `<data-dir>/cfyd.toml` when it exists).
    #[arg(long, env = "CFYD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory, created on first start.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Log output format.
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormatArg>,
    /// Log filter in `RUST_LOG` syntax, e.g. `info,cfyd=debug`.
    #[arg(long)]
    pub log_filter: Option<String>,
    /// Address for the outward-facing listeners (HTTP, HTTPS, AMQP, MQTT).
    #[arg(long)]
    pub bind_public: Option<IpAddr>,
    /// Address for the internal listeners.
    #[arg(long)]
    pub bind_internal: Option<IpAddr>,
    /// Use an external AMQP broker instead of the embedded one.
    #[arg(long, value_name = "URL")]
    pub broker_url: Option<String>,
    /// An external InfluxDB 1.x (`http://host:8086`) for metrics instead of
    /// the embedded store (8086 is then not served).
    #[arg(long, value_name = "URL")]
    pub metrics_url: Option<String>,
    /// Move ports below 1024 up by 8000 (80 → 8080, 443 → 8443) so that a
    /// normal user can start cfyd.
    #[arg(long)]
    pub unprivileged: bool,
    /// Bind every listener to a free port and write the real ports to
    /// `<data-dir>/ports.json` (for tests and side-by-side instances).
    #[arg(long)]
    pub ephemeral_ports: bool,
    /// Set any configuration key, e.g. `--set ports.amqp=5673`.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got `{s}`"))
}

/// Offset that `--unprivileged` applies to ports below 1024.
pub const UNPRIVILEGED_OFFSET: u16 = 8000;

impl ConfigArgs {
    /// The flag layer as dotted key/value pairs, in precedence order.
    pub fn overrides(&self) -> Overrides {
        let mut values = Vec::new();
        let mut push = |k: &str, v: String| values.push((k.to_owned(), v));
        if let Some(d) = &self.data_dir {
            push("data_dir", d.display().to_string());
        }
        if let Some(f) = self.log_format {
            let name = match f {
                LogFormatArg::Pretty => "pretty",
                LogFormatArg::Json => "json",
            };
            push("log.format", name.to_owned());
        }
        if let Some(f) = &self.log_filter {
            push("log.filter", f.clone());
        }
        if let Some(a) = self.bind_public {
            push("bind.public", a.to_string());
        }
        if let Some(a) = self.bind_internal {
            push("bind.internal", a.to_string());
        }
        if let Some(u) = &self.metrics_url {
            push("metrics.url", u.clone());
        }
        if let Some(u) = &self.broker_url {
            push("broker.url", u.clone());
        }
        if self.unprivileged {
            push("ports.low_port_offset", UNPRIVILEGED_OFFSET.to_string());
        }
        if self.ephemeral_ports {
            for key in crate::listeners::Listener::ALL
                .iter()
                .map(|l| l.config_key())
            {
                push(&format!("ports.{key}"), "0".to_owned());
            }
        }
        values.extend(self.set.iter().cloned());
        Overrides {
            config_file: self.config.clone(),
            values,
        }
    }
}
