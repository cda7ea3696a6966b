//! `cfyd serve`: open the data directory, bind every listener, run until a
//! shutdown signal, then stop accepting, finish in-flight work and flush.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::bus::{AmqpBus, EmbeddedBus, MessageBus};
use crate::config::Config;
use crate::datadir::DataDir;
use crate::listeners::Listener;
use crate::rest::status::Service;
use crate::rest::{self, RestState};

/// How long in-flight work may take after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The listeners this build serves, in start order; the broker's only when
/// it is the embedded one.
fn served(embedded_broker: bool, embedded_metrics: bool) -> Vec<Listener> {
    let mut l = vec![Listener::Rest, Listener::RestInternal];
    if embedded_broker {
        l.extend([Listener::Amqp, Listener::AmqpManagement]);
    }
    l.push(Listener::Elasticsearch);
    if embedded_metrics {
        l.push(Listener::Influxdb);
    }
    l.push(Listener::FileServer);
    l.push(Listener::Logstash);
    l.push(Listener::Mqtt);
    l
}

/// Runs the manager until `shutdown` resolves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let started = Instant::now();
    let data = DataDir::open(&config.data_dir)?;
    let indices = Arc::new(search::Indices::open(&data.path().join("indices"))?);
    let (events, _) = indices.ensure(crate::es_api::EVENTS_INDEX)?;
    let model = Arc::new(crate::model::Model::open(data.path())?);
    let tsdb_dir = data.path().join("tsdb");
    let metrics_store = if config.metrics.url.is_empty() {
        Some(Arc::new(
            tsdb::Tsdb::open(&tsdb_dir, tsdb::TsdbConfig::default()).with_context(|| {
                format!("cannot open the metrics store in {}", tsdb_dir.display())
            })?,
        ))
    } else {
        None
    };
    let es = crate::es_api::EsState::new(indices.clone(), Some(model.clone()));
    let embedded = config.broker.url.is_empty();
    let broker = if embedded {
        Some(broker::Broker::open(crate::amqp::broker_config(&config))?)
    } else {
        None
    };
    let bus: Arc<dyn MessageBus> = match &broker {
        Some(b) => EmbeddedBus::new(b, &config.broker.user)?,
        None => AmqpBus::connect(&config.broker.url)
            .await
            .context("cannot reach the broker named by broker.url")?,
    };
    crate::bus::declare_manager_topology(bus.as_ref())
        .await
        .context("cannot declare the manager's exchanges and queues")?;
    tracing::info!(bus = %bus.describe(), "message bus ready");
    let workflows = crate::workflows::Engine::new(model.clone(), bus.clone());
    let interrupted = workflows
        .recover()
        .context("cannot mark interrupted executions")?;
    if interrupted > 0 {
        tracing::warn!(
            interrupted,
            "executions left running by the previous run were marked failed"
        );
    }

    let mut bound = BTreeMap::new();
    for listener in served(embedded, metrics_store.is_some()) {
        let addr = listener.addr(&config)?;
        let socket = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} for {}", listener.config_key()))?;
        let local = socket.local_addr()?;
        tracing::info!(listener = listener.config_key(), addr = %local, "listening");
        bound.insert(listener, (socket, local));
    }
    let ports: BTreeMap<&'static str, u16> = bound
        .iter()
        .map(|(l, (_, addr))| (l.config_key(), addr.port()))
        .collect();

    let port = |key: &str| ports.get(key).copied().unwrap_or_default();
    let host = &config.agents.manager_host;
    workflows.set_agent_endpoints(crate::workflows::AgentEndpoints {
        broker_url: if embedded {
            format!(
                "amqp://{}:{}@{host}:{}/",
                config.broker.user,
                config.broker.password,
                port("amqp")
            )
        } else {
            config.broker.url.clone()
        },
        rest_url: format!("http://{host}:{}", port("rest_internal")),
        file_server_url: format!("http://{host}:{}", port("file_server")),
        start_timeout: config.agents.start_timeout,
    });
    let services = Arc::new(services(&bound, bus.as_ref(), &config.metrics.url));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (pipeline_health, pipeline_health_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for (listener, (socket, _)) in bound {
        let stop = stop_rx.clone();
        match listener {
            Listener::Rest | Listener::RestInternal => {
                let app = rest::router(RestState {
                    services: services.clone(),
                    model: model.clone(),
                    es: Some(es.clone()),
                    workflows: workflows.clone(),
                    max_upload: usize::try_from(config.rest.max_upload_mb.saturating_mul(1 << 20))
                        .unwrap_or(usize::MAX),
                    internal: listener == Listener::RestInternal,
                });
                tasks.spawn(serve_http(socket, app, stop, "rest"));
            }
            Listener::Logstash => {
                tasks.spawn(crate::logstash::serve(
                    socket,
                    pipeline_health_rx.clone(),
                    stop,
                ));
            }
            Listener::Elasticsearch => {
                let app = crate::es_api::router(es.clone());
                tasks.spawn(serve_http(socket, app, stop, "elasticsearch"));
            }
            Listener::Influxdb => {
                let Some(store) = metrics_store.clone() else {
                    continue;
                };
                let app = crate::influx_api::router(crate::influx_api::InfluxState { tsdb: store });
                tasks.spawn(serve_http(socket, app, stop, "influxdb"));
            }
            Listener::Mqtt => {
                // rumqttd binds its own socket: hand it the address we hold.
                let addr = socket.local_addr()?;
                drop(socket);
                let auth = (!config.mqtt.user.is_empty())
                    .then(|| (config.mqtt.user.clone(), config.mqtt.password.clone()));
                crate::mqtt::start(addr, auth, bus.clone(), tokio::runtime::Handle::current())
                    .map_err(|e| anyhow::anyhow!("cannot start the MQTT broker: {e}"))?;
            }
            Listener::FileServer => {
                let app = crate::fileserver::router(model.resources.clone());
                tasks.spawn(serve_http(socket, app, stop, "file_server"));
            }
            Listener::Amqp => {
                let Some(broker) = broker.clone() else {
                    continue;
                };
                tasks.spawn(async move { broker.serve(socket, stop).await });
            }
            Listener::AmqpManagement => {
                let Some(broker) = broker.clone() else {
                    continue;
                };
                let app = crate::amqp::admin_router(broker);
                tasks.spawn(serve_http(socket, app, stop, "amqp_management"));
            }
            other => anyhow::bail!(
                "listener {} is not served by this build",
                other.config_key()
            ),
        }
    }

    let pipeline = tokio::spawn(crate::pipeline::run(
        bus.clone(),
        events.clone(),
        stop_rx.clone(),
        pipeline_health,
    ));
    // The policy engine (issue 9) will subscribe to this metric stream.
    let (metric_stream, _) = tokio::sync::broadcast::channel(10_000);
    let sink = match &metrics_store {
        Some(store) => {
            tasks.spawn(crate::influx_api::maintain(store.clone(), stop_rx.clone()));
            crate::metrics::Sink::Embedded(store.clone())
        }
        None => crate::metrics::Sink::external(&config.metrics.url),
    };
    tasks.spawn(crate::metrics::run(
        bus.clone(),
        sink,
        metric_stream,
        stop_rx.clone(),
    ));
    tasks.spawn(crate::retention::run(
        indices.clone(),
        config.events.clone(),
        stop_rx.clone(),
    ));
    // Ready means events flow: wait (briefly) for the pipeline to consume.
    let mut flowing = pipeline_health_rx.clone();
    if tokio::time::timeout(Duration::from_secs(5), flowing.wait_for(|up| *up))
        .await
        .is_err()
    {
        tracing::warn!("the event pipeline is not consuming yet; starting anyway");
    }
    data.write_ports(&ports)
        .with_context(|| format!("cannot write ports.json in {}", data.path().display()))?;
    tracing::info!(
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        data_dir = %data.path().display(),
        "cfyd ready"
    );

    shutdown.await;
    tracing::info!("shutting down: no new connections, draining in-flight requests");
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            timeout_s = DRAIN_TIMEOUT.as_secs(),
            "in-flight work did not finish in time"
        );
        tasks.abort_all();
    }
    let _ = pipeline.await;
    drop(bus);
    if let Err(e) = model.store.flush() {
        tracing::error!(error = %e, "cannot flush the store");
    }
    if let Some(b) = &broker {
        b.close();
    }
    data.remove_ports();
    tracing::info!("stopped");
    Ok(())
}

/// Serves an HTTP app until the stop flag is set, letting requests finish.
async fn serve_http(
    socket: TcpListener,
    app: axum::Router,
    mut stop: watch::Receiver<bool>,
    name: &'static str,
) {
    let result = axum::serve(socket, app)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
    if let Err(e) = result {
        tracing::error!(listener = name, error = %e, "http listener failed");
    }
}

/// The `/status` entries for the services this process really runs.
fn services(
    bound: &BTreeMap<Listener, (TcpListener, std::net::SocketAddr)>,
    bus: &dyn MessageBus,
    metrics_url: &str,
) -> Vec<Service> {
    let addr = |l: Listener| {
        bound
            .get(&l)
            .map(|(_, a)| a.to_string())
            .unwrap_or_default()
    };
    vec![
        Service::running(
            "Manager Rest-Service",
            "cfyd-restservice",
            format!(
                "cfyd REST service on {} and {}",
                addr(Listener::Rest),
                addr(Listener::RestInternal)
            ),
        ),
        Service::running(
            "RabbitMQ",
            "cfyd-broker",
            if bound.contains_key(&Listener::Amqp) {
                format!(
                    "cfyd AMQP 0-9-1 broker on {} (admin API on {})",
                    addr(Listener::Amqp),
                    addr(Listener::AmqpManagement)
                )
            } else {
                bus.describe()
            },
        ),
        Service::running(
            "Elasticsearch",
            "cfyd-events",
            format!(
                "cfyd event index (Elasticsearch API) on {}",
                addr(Listener::Elasticsearch)
            ),
        ),
        Service::running(
            "InfluxDB",
            "cfyd-metrics",
            if metrics_url.is_empty() {
                format!(
                    "cfyd time-series store (InfluxDB 1.x API) on {}",
                    addr(Listener::Influxdb)
                )
            } else {
                format!("external InfluxDB {metrics_url}")
            },
        ),
        Service::running(
            "MQTT",
            "cfyd-mqtt",
            format!("embedded MQTT broker (rumqttd) on {}", addr(Listener::Mqtt)),
        ),
        Service::running(
            "Logstash",
            "cfyd-logstash",
            format!("cfyd liveness listener on {}", addr(Listener::Logstash)),
        ),
    ]
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!(signal = "SIGINT", "signal received"),
        _ = term => tracing::info!(signal = "SIGTERM", "signal received"),
    }
}
