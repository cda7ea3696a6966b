//! Broker settings: users, vhosts, limits, storage.

use std::path::PathBuf;
use std::time::Duration;

/// A user that may log in, and the vhosts it may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub password: String,
    /// Vhosts this user may open; empty means every vhost.
    pub vhosts: Vec<String>,
    /// Like RabbitMQ's `guest`: may only log in over a loopback connection.
    pub loopback_only: bool,
}

/// Everything the broker needs to open.
#[derive(Debug, Clone)]
pub struct Config {
    pub users: Vec<User>,
    pub vhosts: Vec<String>,
    /// Where durable state lives; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// Whether the journal fsyncs before confirming (turn off only for tests).
    pub fsync: bool,
    /// Proposed in connection.tune.
    pub frame_max: u32,
    pub channel_max: u16,
    pub heartbeat: u16,
    pub max_connections: usize,
    /// Largest message body accepted.
    pub max_message_size: u64,
    /// Bytes of ready messages above which publishers are blocked.
    pub memory_high_watermark: u64,
    /// Time a client has to finish the handshake.
    pub handshake_timeout: Duration,
    /// Product and version advertised in connection.start. kombu turns on
    /// RabbitMQ's global-qos semantics when it reads RabbitMQ 3.x here.
    pub product: String,
    pub version: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            users: vec![User {
                name: "guest".into(),
                password: "guest".into(),
                vhosts: vec![],
                loopback_only: true,
            }],
            vhosts: vec!["/".into()],
            data_dir: None,
            fsync: true,
            frame_max: 131_072,
            channel_max: 2047,
            heartbeat: 60,
            max_connections: 10_000,
            max_message_size: 128 * 1024 * 1024,
            memory_high_watermark: 1 << 30,
            handshake_timeout: Duration::from_secs(10),
            product: "RabbitMQ".into(),
            version: "3.12.0".into(),
        }
    }
}

impl Config {
    /// An in-memory broker for tests.
    pub fn temporary() -> Self {
        Config::default()
    }
}
