//! The I/O shell: accepts TCP connections and runs, per connection, a reader
//! task (decode → session → core) and a writer task (outbox → socket, plus
//! heartbeats).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::Inner;
use crate::core::outbox::{LOW_WATER, Outbox};
use crate::core::{ConnId, Core};
use crate::proto::constants::CONNECTION_FORCED;
use crate::proto::frame::decode_frame;
use crate::proto::method::{ConnectionClose, ConnectionOpenOk};
use crate::proto::{Frame, Method};
use crate::session::{Output, Session};

const READ_CHUNK: usize = 64 * 1024;

pub(crate) async fn serve(
    inner: Arc<Inner>,
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
) {
    let ticker = tokio::spawn(maintenance(inner.clone(), shutdown.clone()));
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if inner.connections.load(Ordering::Relaxed) >= inner.config.max_connections {
                        tracing::warn!(%peer, "connection limit reached; refusing");
                        drop(stream);
                        continue;
                    }
                    inner.connections.fetch_add(1, Ordering::Relaxed);
                    let inner = inner.clone();
                    let shutdown = shutdown.clone();
                    tokio::spawn(async move {
                        connection(inner.clone(), stream, peer, shutdown).await;
                        inner.connections.fetch_sub(1, Ordering::Relaxed);
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "amqp accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stopped(&mut stop) => break,
        }
    }
    let _ = ticker.await;
}

/// Resolves once the shutdown flag is set (or its sender is gone).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// TTL and x-expires, four times a second.
async fn maintenance(inner: Arc<Inner>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = tick.tick() => inner.core.lock().tick(),
            _ = stopped(&mut shutdown) => return,
        }
    }
}

async fn connection(
    inner: Arc<Inner>,
    stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let (mut rd, wr) = stream.into_split();
    let outbox = Arc::new(Outbox::new(inner.config.frame_max));
    let conn_cell = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let writer = tokio::spawn(writer(wr, outbox.clone(), inner.clone(), conn_cell.clone()));
    let mut session = Session::new(inner.config.clone(), peer.ip().is_loopback());
    let mut out = Vec::new();
    let mut conn: Option<ConnId> = None;

    let mut header = [0u8; 8];
    match tokio::time::timeout(inner.config.handshake_timeout, rd.read_exact(&mut header)).await {
        Ok(Ok(_)) => session.handle_header(&header, &mut out),
        _ => {
            outbox.close();
            let _ = writer.await;
            return;
        }
    }
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut disconnect = apply(
        &inner,
        &outbox,
        &mut session,
        &mut out,
        &mut conn,
        &peer,
        &conn_cell,
    );
    while !disconnect {
        let idle = if session.is_running() && session.heartbeat > 0 {
            Duration::from_secs(u64::from(session.heartbeat) * 2 + 1)
        } else if session.is_running() {
            Duration::from_secs(24 * 3600)
        } else {
            inner.config.handshake_timeout
        };
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(READ_CHUNK);
        }
        let read = tokio::select! {
            r = tokio::time::timeout(idle, rd.read_buf(&mut buf)) => r,
            _ = stopped(&mut shutdown) => {
                outbox.method(0, &Method::ConnectionClose(ConnectionClose {
                    reply_code: CONNECTION_FORCED,
                    reply_text: "CONNECTION_FORCED - broker shutdown".into(),
                    class_id: 0,
                    method_id: 0,
                }));
                break;
            }
        };
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(_)) => {}
            Err(_) => {
                tracing::info!(%peer, "missed heartbeats from client, closing");
                break;
            }
        }
        loop {
            match decode_frame(&mut buf, session.frame_max) {
                Ok(Some(frame)) => session.handle_frame(frame, &mut out),
                Ok(None) => break,
                Err(e) => {
                    session.frame_error(&e, &mut out);
                    buf.clear();
                    break;
                }
            }
            if session.is_closed() {
                break;
            }
        }
        disconnect = apply(
            &inner,
            &outbox,
            &mut session,
            &mut out,
            &mut conn,
            &peer,
            &conn_cell,
        );
        outbox.set_frame_max(session.frame_max);
        outbox.heartbeat.store(session.heartbeat, Ordering::Relaxed);
        // Memory alarm: stop reading from connections that publish.
        while !disconnect && conn.is_some() {
            let blocked = {
                let core = inner.core.lock();
                core.is_blocked()
                    && conn
                        .and_then(|c| core.conns.get(&c))
                        .is_some_and(|c| c.has_published)
            };
            if !blocked {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    if let Some(id) = conn {
        inner.core.lock().disconnect(id);
    }
    outbox.close();
    let _ = writer.await;
}

/// Carries out what the session asked for; true means disconnect.
fn apply(
    inner: &Inner,
    outbox: &Arc<Outbox>,
    session: &mut Session,
    out: &mut Vec<Output>,
    conn: &mut Option<ConnId>,
    peer: &SocketAddr,
    conn_cell: &std::sync::atomic::AtomicU64,
) -> bool {
    let mut disconnect = false;
    let mut core: Option<parking_lot::MutexGuard<'_, Core>> = None;
    let mut i = 0;
    while i < out.len() {
        let o = std::mem::replace(&mut out[i], Output::Raw(b""));
        i += 1;
        match o {
            Output::Send(frame) => outbox.frame(&frame),
            Output::Raw(bytes) => outbox.raw(bytes),
            Output::Disconnect => disconnect = true,
            Output::Open { user, vhost, caps } => {
                let core = core.get_or_insert_with(|| inner.core.lock());
                let id = core.connect(outbox.clone(), user, vhost, peer.to_string(), caps);
                conn_cell.store(id, Ordering::Relaxed);
                *conn = Some(id);
                outbox.method(0, &ConnectionOpenOk::default().into());
            }
            Output::Command(channel, cmd) => {
                let Some(id) = *conn else { continue };
                let core = core.get_or_insert_with(|| inner.core.lock());
                if let Err(e) = core.handle(id, channel, cmd) {
                    let mut more = Vec::new();
                    session.command_failed(channel, e, &mut more);
                    out.extend(more);
                }
            }
        }
    }
    out.clear();
    disconnect
}

async fn writer(
    mut wr: OwnedWriteHalf,
    outbox: Arc<Outbox>,
    inner: Arc<Inner>,
    conn: Arc<std::sync::atomic::AtomicU64>,
) {
    let mut spare = BytesMut::with_capacity(READ_CHUNK);
    let heartbeat_frame = {
        let mut b = BytesMut::new();
        crate::proto::encode_frame(&Frame::Heartbeat { channel: 0 }, &mut b);
        b.freeze()
    };
    loop {
        let buf = outbox.take(spare);
        if buf.is_empty() {
            spare = buf;
            if outbox.is_closed() {
                break;
            }
            let hb = outbox.heartbeat.load(Ordering::Relaxed);
            if hb == 0 {
                outbox.wait().await;
            } else {
                let half = Duration::from_millis(u64::from(hb) * 500);
                if tokio::time::timeout(half, outbox.wait()).await.is_err()
                    && wr.write_all(&heartbeat_frame).await.is_err()
                {
                    break;
                }
            }
            continue;
        }
        if wr.write_all(&buf).await.is_err() {
            break;
        }
        spare = buf;
        spare.clear();
        if outbox.throttled.load(Ordering::Relaxed) && outbox.len() < LOW_WATER {
            outbox.throttled.store(false, Ordering::Relaxed);
            let id = conn.load(Ordering::Relaxed);
            inner.core.lock().resume(id);
        }
    }
    let _ = wr.shutdown().await;
}
