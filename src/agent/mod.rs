//! `cfyd agent`: a host agent. It consumes its Celery queue on the
//! manager's broker, runs each operation with the built-in script plugin
//! and a `ctx` backed by the manager's REST API and file server, stores the
//! outcome in the `celeryresults` exchange as a Celery worker does, and
//! publishes the operation's logs to `cloudify-logs`. It reconnects when
//! the broker goes away and exits on SIGINT/SIGTERM or when the manager's
//! uninstall asks it to stop.

mod operation;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::bus::{AmqpBus, BusMessage, MessageBus, Props};
use crate::celery::{self, Outcome};

/// How `cfyd agent` was asked to run.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    pub broker_url: String,
    pub queue: String,
    pub name: String,
    pub rest_url: String,
    pub file_server_url: String,
    /// Operations run at once (the queue's prefetch).
    pub concurrency: u16,
}

/// What every operation of this agent shares.
pub(crate) struct AgentEnv {
    pub options: AgentOptions,
    pub http: reqwest::Client,
}

/// Runs the agent until a signal or a stop request.
pub async fn run(options: AgentOptions) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;
    let env = Arc::new(AgentEnv { options, http });
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let signals = tokio::spawn({
        let stop_tx = stop_tx.clone();
        async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        }
    });
    let mut backoff = Duration::from_millis(500);
    loop {
        if *stop_rx.borrow() {
            break;
        }
        match AmqpBus::connect(&env.options.broker_url).await {
            Ok(bus) => {
                backoff = Duration::from_millis(500);
                match serve(bus, env.clone(), stop_tx.clone()).await {
                    Ok(()) => break,
                    Err(e) => tracing::warn!(error = %e, "lost the broker; reconnecting"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, broker = %redact(&env.options.broker_url), "cannot reach the broker; retrying")
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stop_rx.changed() => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
    signals.abort();
    tracing::info!(agent = %env.options.name, "agent stopped");
    Ok(())
}

/// `amqp://user:***@host…` for logs.
fn redact(url: &str) -> String {
    match url.rsplit_once('@') {
        Some((_, host)) => format!("amqp://***@{host}"),
        None => url.to_owned(),
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Consumes the queue on one connection: `Ok` when asked to stop, `Err`
/// when the connection is lost.
async fn serve(
    bus: Arc<AmqpBus>,
    env: Arc<AgentEnv>,
    stop_tx: watch::Sender<bool>,
) -> Result<(), String> {
    let queue = env.options.queue.clone();
    let err = |e: crate::bus::BusError| e.to_string();
    bus.declare_exchange(&queue, "direct", true, false)
        .await
        .map_err(err)?;
    bus.declare_queue(&queue, true, false).await.map_err(err)?;
    bus.bind(&queue, &queue, &queue).await.map_err(err)?;
    let mut rx = bus
        .consume(&queue, env.options.concurrency.max(1))
        .await
        .map_err(err)?;
    tracing::info!(agent = %env.options.name, queue = %queue, broker = %redact(&env.options.broker_url), "agent consuming");
    let mut stop_rx = stop_tx.subscribe();
    let mut running = JoinSet::new();
    let mut check = tokio::time::interval(Duration::from_secs(2));
    let result = loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(msg) => {
                    running.spawn(handle(bus.clone(), env.clone(), msg, stop_tx.clone()));
                }
                None => break Err("the broker closed the consumer".to_owned()),
            },
            _ = stop_rx.changed() => break Ok(()),
            _ = check.tick() => {
                if !bus.is_open() {
                    break Err("the broker connection closed".to_owned());
                }
            }
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    };
    // Operations under way finish (and report) before the agent leaves.
    let drain = async { while running.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(30), drain)
        .await
        .is_err()
    {
        tracing::warn!("operations still running at stop were abandoned");
    }
    result
}

/// Runs one task message and reports its outcome, then acknowledges it.
async fn handle(
    bus: Arc<AmqpBus>,
    env: Arc<AgentEnv>,
    msg: BusMessage,
    stop_tx: watch::Sender<bool>,
) {
    let task = match celery::parse_task(msg.content_type.as_deref(), &msg.body) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "dropping an unreadable task message");
            let _ = bus.ack(msg.delivery_tag).await;
            return;
        }
    };
    let outcome = if task.name == celery::STOP_TASK {
        Outcome::Success(serde_json::Value::Null)
    } else if msg.redelivered {
        // The manager gave up on it when this agent went away mid-run.
        Outcome::Failure {
            exc_type: "NonRecoverableError".into(),
            message: format!(
                "task {} was redelivered after the agent restarted; cfyd agents do not run an operation twice",
                task.id
            ),
            retry_after: None,
            traceback: String::new(),
        }
    } else {
        tracing::info!(task = %task.id, name = %task.name, "running task");
        operation::run(&env, bus.clone(), &task).await
    };
    if let Err(e) = report(&*bus, &task.id, &outcome).await {
        tracing::error!(task = %task.id, error = %e, "cannot report a task result");
    }
    let _ = bus.ack(msg.delivery_tag).await;
    if task.name == celery::STOP_TASK {
        tracing::info!("the manager asked this agent to stop");
        let _ = stop_tx.send(true);
    }
}

/// Stores a result as Celery's AMQP result backend does.
async fn report(bus: &dyn MessageBus, task_id: &str, outcome: &Outcome) -> Result<(), String> {
    let err = |e: crate::bus::BusError| e.to_string();
    let queue = celery::result_queue(task_id);
    bus.declare_exchange(celery::RESULTS_EXCHANGE, "direct", true, false)
        .await
        .map_err(err)?;
    bus.declare_queue_expiring(&queue, true, true, celery::RESULT_EXPIRES_MS)
        .await
        .map_err(err)?;
    bus.bind(&queue, celery::RESULTS_EXCHANGE, &queue)
        .await
        .map_err(err)?;
    bus.publish_with(
        celery::RESULTS_EXCHANGE,
        &queue,
        Bytes::from(celery::result_body(task_id, outcome)),
        &Props::json(task_id),
    )
    .await
    .map_err(err)
}
