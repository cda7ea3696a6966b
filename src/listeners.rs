//! The listeners cfyd can open: their names, ports and bind addresses.

use std::net::SocketAddr;

use crate::config::{Config, ConfigError};

/// One TCP listener of the manager, named as in `ports.json` and `[ports]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Listener {
    Http,
    Https,
    Rest,
    RestInternal,
    Ui,
    Elasticsearch,
    Amqp,
    AmqpManagement,
    Influxdb,
    Logstash,
    FileServer,
    Mqtt,
    Riemann,
}

impl Listener {
    pub const ALL: [Listener; 13] = [
        Listener::Http,
        Listener::Https,
        Listener::Rest,
        Listener::RestInternal,
        Listener::Ui,
        Listener::Elasticsearch,
        Listener::Amqp,
        Listener::AmqpManagement,
        Listener::Influxdb,
        Listener::Logstash,
        Listener::FileServer,
        Listener::Mqtt,
        Listener::Riemann,
    ];

    /// The key under `[ports]` and in `ports.json`.
    pub fn config_key(self) -> &'static str {
        match self {
            Listener::Http => "http",
            Listener::Https => "https",
            Listener::Rest => "rest",
            Listener::RestInternal => "rest_internal",
            Listener::Ui => "ui",
            Listener::Elasticsearch => "elasticsearch",
            Listener::Amqp => "amqp",
            Listener::AmqpManagement => "amqp_management",
            Listener::Influxdb => "influxdb",
            Listener::Logstash => "logstash",
            Listener::FileServer => "file_server",
            Listener::Mqtt => "mqtt",
            Listener::Riemann => "riemann",
        }
    }

    /// Outward-facing listeners bind `bind.public`; the rest `bind.internal`
    /// (MQTT too: edge devices reach it only once it is exposed on purpose).
    pub fn is_public(self) -> bool {
        matches!(self, Listener::Http | Listener::Https | Listener::Amqp)
    }

    fn configured_port(self, config: &Config) -> u16 {
        let p = &config.ports;
        match self {
            Listener::Http => p.http,
            Listener::Https => p.https,
            Listener::Rest => p.rest,
            Listener::RestInternal => p.rest_internal,
            Listener::Ui => p.ui,
            Listener::Elasticsearch => p.elasticsearch,
            Listener::Amqp => p.amqp,
            Listener::AmqpManagement => p.amqp_management,
            Listener::Influxdb => p.influxdb,
            Listener::Logstash => p.logstash,
            Listener::FileServer => p.file_server,
            Listener::Mqtt => p.mqtt,
            Listener::Riemann => p.riemann,
        }
    }

    /// The address this listener binds under `config`.
    pub fn addr(self, config: &Config) -> Result<SocketAddr, ConfigError> {
        let ip = if self.is_public() {
            config.bind.public
        } else {
            config.bind.internal
        };
        let port = config.ports.effective(self.configured_port(config))?;
        Ok(SocketAddr::new(ip, port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_listeners_bind_loopback_by_default() {
        let c = Config::default();
        for l in Listener::ALL {
            let addr = l.addr(&c).unwrap();
            assert_eq!(addr.ip().is_loopback(), !l.is_public(), "{l:?}");
        }
        assert_eq!(Listener::Rest.addr(&c).unwrap().port(), 8100);
    }

    #[test]
    fn every_listener_has_a_config_key() {
        let table = toml::Table::try_from(Config::default()).unwrap();
        let ports = table["ports"].as_table().unwrap();
        for l in Listener::ALL {
            assert!(ports.contains_key(l.config_key()), "{l:?}");
        }
    }
}
