//! Retention of the event indices by age and size, applied once a minute.

use std::sync::Arc;
use std::time::Duration;

use search::Indices;
use tokio::sync::watch;

use crate::config::EventsConfig;

const EVERY: Duration = Duration::from_secs(60);

pub async fn run(indices: Arc<Indices>, cfg: EventsConfig, mut stop: watch::Receiver<bool>) {
    let max_age = (cfg.retention_days > 0)
        .then(|| i64::try_from(cfg.retention_days.saturating_mul(86_400_000)).unwrap_or(i64::MAX));
    let max_bytes = (cfg.max_size_mb > 0).then(|| cfg.max_size_mb.saturating_mul(1 << 20));
    if max_age.is_none() && max_bytes.is_none() {
        return;
    }
    loop {
        for name in indices.names() {
            let Some(index) = indices.get(&name) else {
                continue;
            };
            let done = tokio::task::spawn_blocking(move || index.retain(max_age, max_bytes)).await;
            match done {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => {
                    tracing::info!(index = %name, deleted = n, "retention deleted old events")
                }
                Ok(Err(e)) => tracing::error!(index = %name, error = %e, "retention failed"),
                Err(e) => tracing::error!(index = %name, error = %e, "retention task failed"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
