//! The effective configuration of a cfyd instance and how it is assembled.
//!
//! Layers, later ones winning: built-in defaults ← `cfyd.toml` ← `CFYD_*`
//! environment variables ← command-line flags. [`load`] applies them in that
//! order and names the layer and the key of any problem it finds.

mod layers;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use layers::{ConfigError, Overrides, load};

/// Everything `cfyd serve` needs to know before it starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where every store keeps its files; created on first start and locked
    /// so that two instances never share it.
    pub data_dir: PathBuf,
    pub log: LogConfig,
    pub bind: BindConfig,
    pub ports: Ports,
    pub broker: BrokerConfig,
    pub rest: RestConfig,
    pub events: EventsConfig,
    pub agents: AgentsConfig,
    pub metrics: MetricsConfig,
    pub mqtt: MqttConfig,
}

/// The embedded MQTT broker (loopback by default, like every internal
/// listener; set `bind.internal` to expose it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// With a user, clients must log in as that user with this password;
    /// empty lets any client connect.
    pub user: String,
    pub password: String,
}

/// Where metrics go.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// An external InfluxDB 1.x (`http://host:8086`); empty keeps them in
    /// the embedded store served on the `influxdb` port.
    pub url: String,
}

/// Host agents (`cfyd agent`) and how they reach the manager.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentsConfig {
    /// The address hosts reach this manager at (broker, REST, file server),
    /// written into agents' start commands and init scripts.
    pub manager_host: String,
    /// How long install waits for a `provided` or `init_script` agent to
    /// start consuming, in seconds (a host's `agent_config.wait_started_timeout`
    /// wins).
    pub start_timeout: u64,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        AgentsConfig {
            manager_host: "127.0.0.1".to_owned(),
            start_timeout: 300,
        }
    }
}

/// The event indices. Both limits are off by default: events are kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Delete documents older than this many days; 0 keeps them forever.
    pub retention_days: u64,
    /// Delete the oldest documents of an index above this size on disk;
    /// 0 for no limit.
    pub max_size_mb: u64,
}

/// The REST service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestConfig {
    /// Largest request body (blueprint, plugin, snapshot archives); 413 above.
    pub max_upload_mb: u64,
}

impl Default for RestConfig {
    fn default() -> Self {
        RestConfig { max_upload_mb: 256 }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("cfyd-data"),
            log: LogConfig::default(),
            bind: BindConfig::default(),
            ports: Ports::default(),
            broker: BrokerConfig::default(),
            rest: RestConfig::default(),
            events: EventsConfig::default(),
            agents: AgentsConfig::default(),
            metrics: MetricsConfig::default(),
            mqtt: MqttConfig::default(),
        }
    }
}

/// The embedded AMQP broker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerConfig {
    /// An external AMQP broker for the manager (`amqp://user:pass@host:port/vhost`);
    /// empty runs the embedded one on the `amqp` port.
    pub url: String,
    /// The AMQP user (and the admin API's).
    pub user: String,
    pub password: String,
    /// Like RabbitMQ's guest: the user may log in from loopback only.
    pub loopback_only: bool,
    /// fsync the journal before confirming persistent messages.
    pub fsync: bool,
    /// Ready-message bytes above which publishers are blocked.
    pub memory_high_watermark_mb: u64,
    pub max_connections: u32,
    /// Heartbeat proposed to clients, in seconds (0 = off).
    pub heartbeat: u16,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            url: String::new(),
            user: "guest".to_owned(),
            password: "guest".to_owned(),
            loopback_only: true,
            fsync: true,
            memory_high_watermark_mb: 1024,
            max_connections: 10_000,
            heartbeat: 60,
        }
    }
}

/// Log output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `pretty` for people, `json` for log shippers.
    pub format: LogFormat,
    /// A `RUST_LOG`-style filter such as `info` or `cfyd=debug,tower=warn`.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Pretty,
            filter: "info".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The addresses listeners bind to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BindConfig {
    /// For the outward-facing listeners: HTTP, HTTPS, AMQP and MQTT.
    pub public: IpAddr,
    /// For the internal listeners (REST, stores, file server, UI backend).
    pub internal: IpAddr,
}

impl Default for BindConfig {
    fn default() -> Self {
        BindConfig {
            public: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            internal: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }
}

/// One TCP port per listener; 0 binds a free port (reported in `ports.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ports {
    /// Added to every non-zero port below 1024, so that a user without the
    /// right to bind them can still start (`--unprivileged` sets 8000).
    pub low_port_offset: u16,
    pub http: u16,
    pub https: u16,
    pub rest: u16,
    pub rest_internal: u16,
    pub ui: u16,
    pub elasticsearch: u16,
    pub amqp: u16,
    pub amqp_management: u16,
    pub influxdb: u16,
    pub logstash: u16,
    pub file_server: u16,
    pub mqtt: u16,
    pub riemann: u16,
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            low_port_offset: 0,
            http: 80,
            https: 443,
            rest: 8100,
            rest_internal: 8101,
            ui: 9100,
            elasticsearch: 9200,
            amqp: 5672,
            amqp_management: 15672,
            influxdb: 8086,
            logstash: 9999,
            file_server: 53229,
            mqtt: 1883,
            riemann: 5555,
        }
    }
}

impl Ports {
    /// The port a listener really asks for, after `low_port_offset`.
    pub fn effective(&self, port: u16) -> Result<u16, ConfigError> {
        if port == 0 || port >= 1024 || self.low_port_offset == 0 {
            return Ok(port);
        }
        port.checked_add(self.low_port_offset)
            .ok_or(ConfigError::PortOffsetOverflow {
                port,
                offset: self.low_port_offset,
            })
    }
}

impl Config {
    /// The configuration as a commented-free TOML document.
    pub fn to_toml(&self) -> String {
        // Serialising plain structs of strings, numbers and addresses
        // cannot fail; fall back to Debug output rather than panic.
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n{self:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_port_offset_moves_only_privileged_ports() {
        let ports = Ports {
            low_port_offset: 8000,
            ..Ports::default()
        };
        assert_eq!(ports.effective(80).unwrap(), 8080);
        assert_eq!(ports.effective(443).unwrap(), 8443);
        assert_eq!(ports.effective(8100).unwrap(), 8100);
        assert_eq!(ports.effective(0).unwrap(), 0);
    }

    #[test]
    fn low_port_offset_overflow_is_an_error() {
        let ports = Ports {
            low_port_offset: 65000,
            ..Ports::default()
        };
        assert!(ports.effective(1000).is_err());
    }
}
