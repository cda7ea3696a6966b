//! Protocol edges driven with hand-built frames over a real socket: bad
//! headers, oversized frames, unknown methods, heartbeats, memory alarms.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use broker::proto::frame::{decode_frame, encode_content, encode_frame};
use broker::proto::method::*;
use broker::proto::{
    ContentHeader, FieldTable, FieldValue, Frame, Method, PROTOCOL_HEADER, Properties,
};
use bytes::{Bytes, BytesMut};
use common::Running;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Raw {
    stream: TcpStream,
    buf: BytesMut,
}

impl Raw {
    async fn connect(port: u16) -> Raw {
        Raw {
            stream: TcpStream::connect(("127.0.0.1", port)).await.unwrap(),
            buf: BytesMut::new(),
        }
    }

    async fn send(&mut self, frame: Frame) {
        let mut b = BytesMut::new();
        encode_frame(&frame, &mut b);
        self.stream.write_all(&b).await.unwrap();
    }

    async fn method(&mut self, channel: u16, m: impl Into<Method>) {
        self.send(Frame::Method {
            channel,
            method: m.into(),
        })
        .await;
    }

    /// The next frame, or `None` once the server has closed the socket.
    async fn recv(&mut self, within: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(f) = decode_frame(&mut self.buf, 1 << 24).expect("server frames decode") {
                return Some(f);
            }
            let read = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await;
            match read.expect("frame or close in time") {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// The next method, skipping heartbeats.
    async fn next_method(&mut self) -> Option<Method> {
        loop {
            match self.recv(Duration::from_secs(5)).await? {
                Frame::Method { method, .. } => return Some(method),
                Frame::Heartbeat { .. } => continue,
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    async fn handshake(&mut self, caps: &[&str], heartbeat: u16) {
        self.stream.write_all(PROTOCOL_HEADER).await.unwrap();
        assert!(matches!(
            self.next_method().await,
            Some(Method::ConnectionStart(_))
        ));
        let mut c = FieldTable::new();
        for cap in caps {
            c.insert(*cap, FieldValue::Bool(true));
        }
        let mut props = FieldTable::new();
        props.insert("capabilities", FieldValue::Table(c));
        self.method(
            0,
            ConnectionStartOk {
                client_properties: props,
                mechanism: "PLAIN".into(),
                response: Bytes::from_static(b"\0guest\0guest"),
                locale: "en_US".into(),
            },
        )
        .await;
        let Some(Method::ConnectionTune(t)) = self.next_method().await else {
            panic!("no tune")
        };
        self.method(
            0,
            ConnectionTuneOk {
                channel_max: t.channel_max,
                frame_max: t.frame_max,
                heartbeat,
            },
        )
        .await;
        self.method(
            0,
            ConnectionOpen {
                virtual_host: "/".into(),
                ..Default::default()
            },
        )
        .await;
        assert!(matches!(
            self.next_method().await,
            Some(Method::ConnectionOpenOk(_))
        ));
        self.method(1, ChannelOpen::default()).await;
        assert!(matches!(
            self.next_method().await,
            Some(Method::ChannelOpenOk(_))
        ));
    }
}

#[tokio::test]
async fn a_bad_protocol_header_gets_ours_and_a_close() {
    let b = Running::in_memory().await;
    let mut raw = Raw::connect(b.port).await;
    raw.stream
        .write_all(b"GET / HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), raw.stream.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, PROTOCOL_HEADER);
    b.stop().await;
}

#[tokio::test]
async fn oversized_frames_and_unknown_methods_close_with_their_codes() {
    let b = Running::in_memory().await;
    for (name, bytes, code) in [
        (
            "frame above frame_max",
            {
                let mut v = vec![1u8, 0, 1];
                v.extend_from_slice(&(1u32 << 20).to_be_bytes());
                v
            },
            501u16,
        ),
        (
            "unknown method",
            vec![1, 0, 1, 0, 0, 0, 4, 0, 99, 0, 1, 0xCE],
            540,
        ),
        ("bad frame end", vec![8, 0, 0, 0, 0, 0, 0, 0xAB], 501),
    ] {
        let mut raw = Raw::connect(b.port).await;
        raw.handshake(&[], 0).await;
        raw.stream.write_all(&bytes).await.unwrap();
        match raw.next_method().await {
            Some(Method::ConnectionClose(c)) => {
                assert_eq!(c.reply_code, code, "{name}: {}", c.reply_text)
            }
            other => panic!("{name}: expected connection.close, got {other:?}"),
        }
        raw.method(0, ConnectionCloseOk {}).await;
        assert!(
            raw.recv(Duration::from_secs(5)).await.is_none(),
            "{name}: socket closed after close-ok"
        );
    }
    b.stop().await;
}

#[tokio::test]
async fn heartbeats_flow_and_a_silent_client_is_dropped() {
    let b = Running::in_memory().await;
    let mut raw = Raw::connect(b.port).await;
    raw.handshake(&[], 1).await;
    let start = tokio::time::Instant::now();
    let mut heartbeats = 0;
    while let Some(f) = raw.recv(Duration::from_secs(10)).await {
        if matches!(f, Frame::Heartbeat { channel: 0 }) {
            heartbeats += 1;
        }
    }
    let silent_for = start.elapsed();
    assert!(heartbeats >= 2, "server sent {heartbeats} heartbeats");
    assert!(
        silent_for >= Duration::from_secs(2) && silent_for < Duration::from_secs(8),
        "closed after {silent_for:?}"
    );
    b.stop().await;
}

#[tokio::test]
async fn memory_alarm_blocks_publishers_that_asked_for_it() {
    let config = broker::Config {
        memory_high_watermark: 10_000,
        ..broker::Config::default()
    };
    let b = Running::start(config).await;
    let mut publisher = Raw::connect(b.port).await;
    publisher.handshake(&["connection.blocked"], 0).await;
    publisher
        .method(
            1,
            QueueDeclare {
                queue: "big".into(),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(
        publisher.next_method().await,
        Some(Method::QueueDeclareOk(_))
    ));
    let mut b2 = BytesMut::new();
    let body = vec![7u8; 20_000];
    let publish: Method = BasicPublish {
        routing_key: "big".into(),
        ..Default::default()
    }
    .into();
    encode_content(
        1,
        &publish,
        &ContentHeader::new(body.len() as u64, Properties::default()),
        &body,
        131_072,
        &mut b2,
    );
    publisher.stream.write_all(&b2).await.unwrap();
    assert!(matches!(
        publisher.next_method().await,
        Some(Method::ConnectionBlocked(_))
    ));

    // Another connection (not publishing) empties the queue: unblocked.
    let mut other = Raw::connect(b.port).await;
    other.handshake(&[], 0).await;
    other
        .method(
            1,
            QueuePurge {
                queue: "big".into(),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(other.next_method().await, Some(Method::QueuePurgeOk(p)) if p.message_count == 1)
    );
    assert!(matches!(
        publisher.next_method().await,
        Some(Method::ConnectionUnblocked(_))
    ));
    b.stop().await;
}
