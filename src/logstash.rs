//! The Logstash liveness listener (9999): accepts TCP connections and
//! closes them while the event pipeline is healthy, and refuses them (the
//! port is closed) while it is not, so health checks written for the
//! seed's Logstash report the pipeline's state.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::watch;

pub async fn serve(
    listener: TcpListener,
    mut healthy: watch::Receiver<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    let mut listener = Some(listener);
    let mut was_up = false;
    loop {
        let up = *healthy.borrow_and_update();
        match (up, listener.take()) {
            (true, Some(l)) => listener = Some(l),
            (true, None) => match addr {
                Some(a) => match TcpListener::bind(a).await {
                    Ok(l) => listener = Some(l),
                    Err(e) => {
                        tracing::warn!(error = %e, addr = %a, "cannot reopen the logstash liveness port")
                    }
                },
                None => return,
            },
            (false, _) if was_up => {
                tracing::warn!("event pipeline down: closing the logstash liveness port");
            }
            (false, _) => {}
        }
        was_up = up;
        tokio::select! {
            accepted = accept(&listener) => match accepted {
                Ok(stream) => drop(stream),
                Err(e) => tracing::warn!(error = %e, "logstash liveness accept failed"),
            },
            changed = healthy.changed() => if changed.is_err() { return },
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

async fn accept(listener: &Option<TcpListener>) -> std::io::Result<tokio::net::TcpStream> {
    match listener {
        Some(l) => l.accept().await.map(|(s, _)| s),
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn connects(addr: SocketAddr) -> bool {
        tokio::net::TcpStream::connect(addr).await.is_ok()
    }

    #[tokio::test]
    async fn the_port_follows_pipeline_health() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (health, health_rx) = watch::channel(false);
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(serve(listener, health_rx, stop_rx));
        let settle = || tokio::time::sleep(std::time::Duration::from_millis(100));
        settle().await;
        assert!(!connects(addr).await, "refused before the pipeline runs");
        health.send_replace(true);
        settle().await;
        assert!(connects(addr).await, "accepted while healthy");
        health.send_replace(false);
        settle().await;
        assert!(!connects(addr).await, "refused while down");
        health.send_replace(true);
        settle().await;
        assert!(connects(addr).await, "accepted again");
        stop.send_replace(true);
        task.await.unwrap();
    }
}
