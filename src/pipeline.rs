//! The Logstash replacement: consumes the `cloudify-events` and
//! `cloudify-logs` queues, indexes the documents in batches and
//! acknowledges each message only after the commit that holds it.

use std::sync::Arc;
use std::time::Duration;

use search::EventIndex;
use tokio::sync::watch;

use crate::bus::{BusMessage, MessageBus};

/// A batch is committed when it reaches this size or this age.
const BATCH_DOCS: usize = 20_000;
const BATCH_WAIT: Duration = Duration::from_millis(200);
/// ... or, while events keep arriving without a gap this long, up to
/// this age.
const BATCH_GAP: Duration = Duration::from_millis(5);
const BATCH_MAX_WAIT: Duration = Duration::from_millis(1_000);
/// Unacknowledged messages the pipeline holds per queue.
const PREFETCH: u16 = 20_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// How long to wait before consuming again after the queues went away.
const RETRY: Duration = Duration::from_secs(1);

/// Runs until `stop` is set, reporting on `health` whether events flow
/// into the index (the 9999 liveness port follows it).
pub async fn run(
    bus: Arc<dyn MessageBus>,
    index: Arc<EventIndex>,
    mut stop: watch::Receiver<bool>,
    health: watch::Sender<bool>,
) {
    loop {
        let consumers = (
            bus.consume("cloudify-events", PREFETCH).await,
            bus.consume("cloudify-logs", PREFETCH).await,
        );
        match consumers {
            (Ok(events), Ok(logs)) => {
                health.send_replace(true);
                let stopped = consume(&*bus, &index, events, logs, &mut stop, &health).await;
                health.send_replace(false);
                if stopped {
                    return;
                }
                tracing::error!("the event queues went away; consuming again");
            }
            (Err(e), _) | (_, Err(e)) => {
                health.send_replace(false);
                tracing::error!(error = %e, "event pipeline cannot consume; retrying");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Batches deliveries into the index; true when stopped, false when both
/// queues closed.
async fn consume(
    bus: &dyn MessageBus,
    index: &EventIndex,
    mut events: tokio::sync::mpsc::UnboundedReceiver<BusMessage>,
    mut logs: tokio::sync::mpsc::UnboundedReceiver<BusMessage>,
    stop: &mut watch::Receiver<bool>,
    health: &watch::Sender<bool>,
) -> bool {
    let mut batch: Vec<BusMessage> = Vec::new();
    let (mut events_open, mut logs_open) = (true, true);
    loop {
        let soft = tokio::time::sleep(BATCH_WAIT);
        let hard = tokio::time::sleep(BATCH_MAX_WAIT);
        tokio::pin!(soft, hard);
        let mut soft_passed = false;
        let mut stopping = false;
        while batch.len() < BATCH_DOCS && (events_open || logs_open) {
            tokio::select! {
                m = events.recv(), if events_open => match m {
                    Some(m) => batch.push(m),
                    None => events_open = false,
                },
                m = logs.recv(), if logs_open => match m {
                    Some(m) => batch.push(m),
                    None => logs_open = false,
                },
                _ = &mut soft, if !soft_passed => {
                    soft_passed = true;
                    if batch.is_empty() {
                        break;
                    }
                }
                // Past the soft deadline, keep taking what is already
                // flowing (fewer, larger segments under load) until a gap.
                _ = tokio::time::sleep(BATCH_GAP), if soft_passed => break,
                _ = &mut hard => break,
                _ = stop.wait_for(|s| *s) => { stopping = true; break; }
            }
        }
        if !batch.is_empty() {
            health.send_replace(flush(bus, index, &mut batch).await);
        }
        if stopping {
            return true;
        }
        if !events_open && !logs_open {
            return false;
        }
    }
}

/// A key for a message body: FNV-1a 64, CRC-32 and length. A message the
/// broker redelivers (the pipeline died between commit and ack) is skipped
/// when its key is already indexed, so a crash never duplicates events.
fn body_key(body: &[u8]) -> String {
    let fnv = body.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{fnv:016x}-{:08x}-{}", crc32fast::hash(body), body.len())
}

/// Indexes and commits a batch, then acknowledges it; false when the
/// index refused it (left unacknowledged for redelivery).
async fn flush(bus: &dyn MessageBus, index: &EventIndex, batch: &mut Vec<BusMessage>) -> bool {
    let mut events = Vec::with_capacity(batch.len());
    for m in batch.iter() {
        let key = body_key(&m.body);
        if m.redelivered && index.contains_key(&key).unwrap_or(false) {
            continue;
        }
        events.push((Some(key), &m.body[..]));
    }
    let indexed = index
        .append_events(events, now_ms())
        .and_then(|skipped| index.commit().map(|()| skipped));
    match indexed {
        Ok(0) => {}
        Ok(skipped) => tracing::warn!(skipped, "messages that are not JSON objects were dropped"),
        Err(e) => {
            // Not acknowledged: the broker redelivers them after a restart.
            tracing::error!(error = %e, "cannot index events; leaving them unacknowledged");
            batch.clear();
            return false;
        }
    }
    for m in batch.drain(..) {
        if let Err(e) = bus.ack(m.delivery_tag).await {
            tracing::warn!(error = %e, "cannot acknowledge an indexed event");
        }
    }
    true
}
