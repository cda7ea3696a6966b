//! The Logstash liveness listener (9999): accepts TCP connections and closes
//! them, so health checks written for the seed's Logstash keep passing.

use tokio::net::TcpListener;
use tokio::sync::watch;

pub async fn serve(listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => drop(stream),
                Err(e) => tracing::warn!(error = %e, "logstash liveness accept failed"),
            },
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}
