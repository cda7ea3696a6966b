//! Log output through `tracing`: pretty for people, JSON for shippers.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

#[derive(Debug, thiserror::Error)]
#[error("bad value for `log.filter`: {0}")]
pub struct BadFilter(String);

/// Installs the global subscriber; logs go to stderr.
pub fn init(config: &LogConfig) -> Result<(), BadFilter> {
    let filter = EnvFilter::try_new(&config.filter).map_err(|e| BadFilter(e.to_string()))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (only possible in tests) keeps the first subscriber.
    let _ = match config.format {
        LogFormat::Pretty => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    Ok(())
}
