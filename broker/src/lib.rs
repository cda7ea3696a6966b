//! A general AMQP 0-9-1 broker, compatible with what RabbitMQ clients expect.
//!
//! - [`proto`]: the sans-IO wire format (frames, methods, content, tables).
//! - [`session`]: one connection's protocol state machine, sans-IO.
//! - `core`: exchanges, queues, channels, routing, delivery; one lock.
//! - [`persist`]: the topology file and the group-commit message journal.
//! - `server`: the tokio shell (accept, read, write, heartbeats).
//! - [`Handle`]: the in-process client the manager uses, no socket.
//!
//! [`Broker::open`] recovers durable state; [`Broker::serve`] runs the
//! listener; [`Broker::overview`] reports counts for the admin API.

mod config;
mod core;
mod error;
mod handle;
pub mod persist;
pub mod proto;
mod server;
pub mod session;
mod stats;

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::{Config, User};
pub use error::{AmqpError, BrokerError};
pub use handle::{Delivery, Handle};
pub use stats::{ConnectionInfo, ExchangeInfo, Overview, QueueInfo};

pub(crate) struct Inner {
    pub(crate) core: Mutex<core::Core>,
    pub(crate) config: Arc<Config>,
    pub(crate) connections: AtomicUsize,
}

/// An opened broker; clones share it.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

impl Broker {
    /// Opens the broker, recovering durable state from `config.data_dir`.
    pub fn open(config: Config) -> Result<Broker, BrokerError> {
        let config = Arc::new(config);
        let (journal, recovered) = match &config.data_dir {
            Some(dir) => {
                let (j, r) = persist::Journal::open(dir, config.fsync)?;
                (Some(Arc::new(j)), r)
            }
            None => (None, persist::Recovered::default()),
        };
        let recovered_messages = recovered.messages.len();
        let core = core::Core::new(config.clone(), journal, recovered);
        let inner = Arc::new(Inner {
            core: Mutex::new(core),
            config,
            connections: AtomicUsize::new(0),
        });
        let weak = Arc::downgrade(&inner);
        let journal = inner.core.lock().journal.clone();
        if let Some(j) = journal {
            j.start(move |seq| {
                if let Some(inner) = weak.upgrade() {
                    inner.core.lock().journal_synced(seq);
                }
            });
        }
        if recovered_messages > 0 {
            tracing::info!(
                messages = recovered_messages,
                "recovered persistent messages"
            );
        }
        Ok(Broker { inner })
    }

    /// Serves AMQP on `listener` until `shutdown` turns true.
    pub async fn serve(&self, listener: TcpListener, shutdown: watch::Receiver<bool>) {
        server::serve(self.inner.clone(), listener, shutdown).await;
    }

    /// Flushes the journal and stops its writer.
    pub fn close(&self) {
        // Not under the core lock: the writer takes it to report fsyncs.
        let journal = self.inner.core.lock().journal.clone();
        if let Some(j) = journal {
            j.close();
        }
    }

    /// An in-process connection as `user` on `vhost` (no socket, no auth).
    /// Call inside a tokio runtime.
    pub fn handle(&self, user: &str, vhost: &str) -> Result<Handle, AmqpError> {
        Handle::open(self.inner.clone(), user, vhost)
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }
}
