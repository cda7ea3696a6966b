//! One connection's protocol state, sans-IO: the handshake, channel
//! open/close bookkeeping and content assembly. It turns frames into
//! [`Output`]s; the server writes what it says and hands commands to the core.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::config::Config;
use crate::core::{ClientCaps, Command};
use crate::error::AmqpError;
use crate::proto::constants::*;
use crate::proto::method::*;
use crate::proto::{
    ContentHeader, FieldTable, FieldValue, Frame, FrameError, Method, PROTOCOL_HEADER,
};

/// What the session asks its I/O layer to do.
#[derive(Debug)]
pub enum Output {
    Send(Frame),
    /// Bytes outside any frame (our protocol header after a bad one).
    Raw(&'static [u8]),
    /// Handshake done: register with the core, then send open-ok.
    Open {
        user: String,
        vhost: String,
        caps: ClientCaps,
    },
    Command(u16, Command),
    /// Flush what was sent and drop the socket.
    Disconnect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitHeader,
    AwaitStartOk,
    AwaitTuneOk,
    AwaitOpen,
    Running,
    /// We sent connection.close and wait for close-ok.
    Closing,
    Closed,
}

#[derive(Debug)]
struct Partial {
    method: BasicPublish,
    header: Option<ContentHeader>,
    body: BytesMut,
    first: Option<Bytes>,
}

#[derive(Debug)]
// Moved a few times per message; boxing the content would add an
// allocation per message on the hot path.
#[allow(clippy::large_enum_variant)]
enum ChannelPhase {
    Open(Option<Partial>),
    /// We sent channel.close; everything but close-ok is dropped.
    Closing,
}

pub struct Session {
    config: Arc<Config>,
    loopback: bool,
    phase: Phase,
    pub frame_max: u32,
    pub channel_max: u16,
    pub heartbeat: u16,
    channels: HashMap<u16, ChannelPhase>,
    user: Option<String>,
    caps: ClientCaps,
    auth_failure_close: bool,
}

fn flag(props: &FieldTable, cap: &str) -> bool {
    match props.get("capabilities") {
        Some(FieldValue::Table(t)) => matches!(t.get(cap), Some(FieldValue::Bool(true))),
        _ => false,
    }
}

impl Session {
    pub fn new(config: Arc<Config>, loopback: bool) -> Self {
        let frame_max = config.frame_max;
        Session {
            config,
            loopback,
            phase: Phase::AwaitHeader,
            frame_max,
            channel_max: 0,
            heartbeat: 0,
            channels: HashMap::new(),
            user: None,
            caps: ClientCaps::default(),
            auth_failure_close: false,
        }
    }

    pub fn is_running(&self) -> bool {
        self.phase == Phase::Running
    }

    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// The protocol header. A wrong one is answered with ours, then closed.
    pub fn handle_header(&mut self, header: &[u8], out: &mut Vec<Output>) {
        if header != PROTOCOL_HEADER {
            self.phase = Phase::Closed;
            out.push(Output::Raw(PROTOCOL_HEADER));
            out.push(Output::Disconnect);
            return;
        }
        self.phase = Phase::AwaitStartOk;
        out.push(Output::Send(self.method0(self.start())));
    }

    fn method0(&self, m: impl Into<Method>) -> Frame {
        Frame::Method {
            channel: 0,
            method: m.into(),
        }
    }

    fn start(&self) -> ConnectionStart {
        let mut caps = FieldTable::new();
        for c in [
            "publisher_confirms",
            "exchange_exchange_bindings",
            "basic.nack",
            "consumer_cancel_notify",
            "connection.blocked",
            "consumer_priorities",
            "authentication_failure_close",
            "per_consumer_qos",
            "direct_reply_to",
        ] {
            caps.insert(c, FieldValue::Bool(true));
        }
        let mut props = FieldTable::new();
        props.insert("capabilities", FieldValue::Table(caps));
        props.insert("cluster_name", FieldValue::str("cfyd"));
        props.insert("copyright", FieldValue::str("cfyd contributors"));
        props.insert(
            "information",
            FieldValue::str("cfyd embedded AMQP 0-9-1 broker, RabbitMQ-compatible"),
        );
        props.insert("platform", FieldValue::str("Rust/tokio"));
        props.insert("product", FieldValue::str(&self.config.product));
        props.insert("version", FieldValue::str(&self.config.version));
        ConnectionStart {
            version_major: 0,
            version_minor: 9,
            server_properties: props,
            mechanisms: Bytes::from_static(b"AMQPLAIN PLAIN"),
            locales: Bytes::from_static(b"en_US"),
        }
    }

    /// A frame-level error found by the decoder.
    pub fn frame_error(&mut self, e: &FrameError, out: &mut Vec<Output>) {
        let err = match e {
            FrameError::Decode {
                error: crate::proto::DecodeError::UnknownMethod(c, m),
                ..
            } => AmqpError::not_implemented(format!("unknown method {c}.{m}")).with_ids((*c, *m)),
            FrameError::Decode {
                error: crate::proto::DecodeError::UnknownFieldType(t),
                ids,
                ..
            } => AmqpError::new(INTERNAL_ERROR, format!("unknown field type {t:#04x}"))
                .with_ids(ids.unwrap_or((0, 0))),
            FrameError::Decode { ids, .. } => {
                AmqpError::new(FRAME_ERROR, e.to_string()).with_ids(ids.unwrap_or((0, 0)))
            }
            _ => AmqpError::new(FRAME_ERROR, e.to_string()),
        };
        self.close_connection(err, out);
    }

    /// Sends connection.close and waits for close-ok; before the handshake
    /// is done, just drops the socket.
    pub fn close_connection(&mut self, err: AmqpError, out: &mut Vec<Output>) {
        if matches!(self.phase, Phase::Closing | Phase::Closed) {
            return;
        }
        if matches!(
            self.phase,
            Phase::AwaitHeader | Phase::AwaitStartOk | Phase::AwaitTuneOk
        ) {
            self.phase = Phase::Closed;
            out.push(Output::Disconnect);
            return;
        }
        tracing::debug!(code = err.code, text = %err.text, "closing connection");
        self.phase = Phase::Closing;
        out.push(Output::Send(self.method0(ConnectionClose {
            reply_code: err.code,
            reply_text: err.reply_text(),
            class_id: err.ids.0,
            method_id: err.ids.1,
        })));
    }

    /// An error the core returned for a command on `channel`.
    pub fn command_failed(&mut self, channel: u16, err: AmqpError, out: &mut Vec<Output>) {
        if err.is_connection_level() {
            self.close_connection(err, out);
            return;
        }
        if let Some(ch) = self.channels.get_mut(&channel) {
            *ch = ChannelPhase::Closing;
        }
        out.push(Output::Send(Frame::Method {
            channel,
            method: ChannelClose {
                reply_code: err.code,
                reply_text: err.reply_text(),
                class_id: err.ids.0,
                method_id: err.ids.1,
            }
            .into(),
        }));
    }

    pub fn handle_frame(&mut self, frame: Frame, out: &mut Vec<Output>) {
        match self.phase {
            Phase::AwaitHeader | Phase::Closed => {}
            Phase::AwaitStartOk | Phase::AwaitTuneOk | Phase::AwaitOpen => {
                self.handshake(frame, out)
            }
            Phase::Closing => {
                if let Frame::Method {
                    channel: 0,
                    method: Method::ConnectionCloseOk(_) | Method::ConnectionClose(_),
                } = frame
                {
                    self.phase = Phase::Closed;
                    out.push(Output::Disconnect);
                }
            }
            Phase::Running => {
                if let Err(e) = self.running(frame, out) {
                    self.close_connection(e, out);
                }
            }
        }
    }

    fn handshake(&mut self, frame: Frame, out: &mut Vec<Output>) {
        let method = match frame {
            Frame::Method { channel: 0, method } => method,
            Frame::Heartbeat { channel: 0 } => return,
            _ => {
                self.close_connection(
                    AmqpError::new(UNEXPECTED_FRAME, "expected a connection method"),
                    out,
                );
                return;
            }
        };
        match (self.phase, method) {
            (Phase::AwaitStartOk, Method::ConnectionStartOk(m)) => self.start_ok(m, out),
            (Phase::AwaitTuneOk, Method::ConnectionTuneOk(m)) => {
                let c = &self.config;
                let bad_channels = m.channel_max == 0 || m.channel_max > c.channel_max;
                let bad_frames = m.frame_max == 0
                    || m.frame_max > c.frame_max
                    || m.frame_max < crate::proto::FRAME_MIN_SIZE;
                if bad_channels || bad_frames {
                    tracing::info!(
                        channel_max = m.channel_max,
                        frame_max = m.frame_max,
                        "failed to negotiate connection parameters"
                    );
                    self.phase = Phase::Closed;
                    out.push(Output::Disconnect);
                    return;
                }
                self.channel_max = m.channel_max;
                self.frame_max = m.frame_max;
                self.heartbeat = m.heartbeat;
                self.phase = Phase::AwaitOpen;
            }
            (Phase::AwaitOpen, Method::ConnectionOpen(m)) => {
                let vhost = m.virtual_host;
                let user = self.user.clone().unwrap_or_default();
                let Some(u) = self.config.users.iter().find(|u| u.name == user) else {
                    self.phase = Phase::Closed;
                    out.push(Output::Disconnect);
                    return;
                };
                if !self.config.vhosts.contains(&vhost) {
                    self.phase = Phase::Running;
                    self.close_connection(
                        AmqpError::not_allowed(format!("vhost {vhost} not found"))
                            .with_ids((10, 40)),
                        out,
                    );
                    return;
                }
                if !u.vhosts.is_empty() && !u.vhosts.contains(&vhost) {
                    self.phase = Phase::Running;
                    self.close_connection(
                        AmqpError::not_allowed(format!(
                            "access to vhost '{vhost}' refused for user '{user}'"
                        ))
                        .with_ids((10, 40)),
                        out,
                    );
                    return;
                }
                self.phase = Phase::Running;
                out.push(Output::Open {
                    user,
                    vhost,
                    caps: self.caps,
                });
            }
            (_, Method::ConnectionClose(_)) => {
                out.push(Output::Send(self.method0(ConnectionCloseOk {})));
                self.phase = Phase::Closed;
                out.push(Output::Disconnect);
            }
            (_, m) => {
                tracing::debug!(method = m.name(), "unexpected method during handshake");
                self.phase = Phase::Closed;
                out.push(Output::Disconnect);
            }
        }
    }

    fn start_ok(&mut self, m: ConnectionStartOk, out: &mut Vec<Output>) {
        self.caps = ClientCaps {
            consumer_cancel_notify: flag(&m.client_properties, "consumer_cancel_notify"),
            connection_blocked: flag(&m.client_properties, "connection.blocked"),
        };
        self.auth_failure_close = flag(&m.client_properties, "authentication_failure_close");
        let creds = match m.mechanism.as_str() {
            "PLAIN" => {
                let mut parts = m.response.split(|b| *b == 0);
                let _authzid = parts.next();
                match (parts.next(), parts.next()) {
                    (Some(u), Some(p)) => Some((
                        String::from_utf8_lossy(u).into_owned(),
                        String::from_utf8_lossy(p).into_owned(),
                    )),
                    _ => None,
                }
            }
            "AMQPLAIN" => FieldTable::decode_body(&m.response, 0).ok().and_then(|t| {
                let login = t.get("LOGIN")?.as_str()?.to_owned();
                let password = t.get("PASSWORD")?.as_str()?.to_owned();
                Some((login, password))
            }),
            other => {
                tracing::info!(mechanism = other, "unsupported authentication mechanism");
                self.phase = Phase::Closed;
                out.push(Output::Disconnect);
                return;
            }
        };
        let ok = creds.as_ref().is_some_and(|(user, pass)| {
            self.config.users.iter().any(|u| {
                u.name == *user && u.password == *pass && (self.loopback || !u.loopback_only)
            })
        });
        if !ok {
            tracing::info!(user = creds.as_ref().map(|c| c.0.as_str()).unwrap_or(""), mechanism = %m.mechanism, "login refused");
            if self.auth_failure_close {
                out.push(Output::Send(self.method0(ConnectionClose {
                    reply_code: ACCESS_REFUSED,
                    reply_text: format!(
                        "ACCESS_REFUSED - Login was refused using authentication mechanism {}. For details see the broker logfile.",
                        m.mechanism
                    ),
                    class_id: 0,
                    method_id: 0,
                })));
            }
            self.phase = Phase::Closed;
            out.push(Output::Disconnect);
            return;
        }
        self.user = creds.map(|c| c.0);
        self.phase = Phase::AwaitTuneOk;
        out.push(Output::Send(self.method0(ConnectionTune {
            channel_max: self.config.channel_max,
            frame_max: self.config.frame_max,
            heartbeat: self.config.heartbeat,
        })));
    }

    fn running(&mut self, frame: Frame, out: &mut Vec<Output>) -> Result<(), AmqpError> {
        let channel = frame.channel();
        if channel == 0 {
            return self.channel_zero(frame, out);
        }
        let Some(state) = self.channels.get_mut(&channel) else {
            return match frame {
                Frame::Method {
                    method: Method::ChannelOpen(_),
                    ..
                } => {
                    if self.channels.len() >= usize::from(self.channel_max) {
                        return Err(AmqpError::not_allowed(format!(
                            "number of channels opened ({}) has reached the negotiated channel_max ({})",
                            self.channels.len(),
                            self.channel_max
                        ))
                        .with_ids((20, 10)));
                    }
                    self.channels.insert(channel, ChannelPhase::Open(None));
                    out.push(Output::Command(channel, Command::Open));
                    Ok(())
                }
                Frame::Method { method, .. } => {
                    Err(AmqpError::channel_error("expected 'channel.open'").with_ids(method.ids()))
                }
                Frame::Heartbeat { .. } => Err(AmqpError::new(
                    UNEXPECTED_FRAME,
                    "heartbeat frame on a non-zero channel",
                )),
                _ => Err(AmqpError::channel_error("expected 'channel.open'")),
            };
        };
        let partial = match state {
            ChannelPhase::Closing => {
                if let Frame::Method {
                    method: Method::ChannelCloseOk(_) | Method::ChannelClose(_),
                    ..
                } = &frame
                {
                    let was_close = matches!(
                        &frame,
                        Frame::Method {
                            method: Method::ChannelClose(_),
                            ..
                        }
                    );
                    self.channels.remove(&channel);
                    if was_close {
                        out.push(Output::Send(Frame::Method {
                            channel,
                            method: ChannelCloseOk {}.into(),
                        }));
                    }
                    out.push(Output::Command(channel, Command::Closed));
                }
                return Ok(());
            }
            ChannelPhase::Open(p) => p,
        };
        match frame {
            Frame::Method { method, .. } => {
                if partial.is_some() {
                    return Err(AmqpError::new(UNEXPECTED_FRAME, "expected content header for class 60, got non content header frame instead").with_ids(method.ids()));
                }
                match method {
                    Method::ChannelOpen(_) => {
                        Err(AmqpError::channel_error("second 'channel.open' seen")
                            .with_ids((20, 10)))
                    }
                    Method::ChannelClose(_) => {
                        self.channels.remove(&channel);
                        out.push(Output::Command(channel, Command::Close));
                        Ok(())
                    }
                    Method::ChannelCloseOk(_) => Ok(()),
                    Method::BasicPublish(m) => {
                        *partial = Some(Partial {
                            method: m,
                            header: None,
                            body: BytesMut::new(),
                            first: None,
                        });
                        Ok(())
                    }
                    m if m.ids().0 == 10 => {
                        Err(AmqpError::channel_error("connection method on a channel")
                            .with_ids(m.ids()))
                    }
                    m => {
                        out.push(Output::Command(channel, Command::Method(m)));
                        Ok(())
                    }
                }
            }
            Frame::Header { header, .. } => {
                let Some(p) = partial.as_mut().filter(|p| p.header.is_none()) else {
                    return Err(AmqpError::new(
                        UNEXPECTED_FRAME,
                        "expected method frame, got non method frame instead",
                    ));
                };
                if header.body_size > self.config.max_message_size {
                    let size = header.body_size;
                    *partial = None;
                    let err = AmqpError::precondition(format!(
                        "message size {size} is larger than configured max size {}",
                        self.config.max_message_size
                    ))
                    .with_ids((60, 40));
                    self.command_failed(channel, err, out);
                    return Ok(());
                }
                p.header = Some(header);
                self.complete_if_done(channel, out);
                Ok(())
            }
            Frame::Body { payload, .. } => {
                let Some(p) = partial.as_mut().filter(|p| p.header.is_some()) else {
                    return Err(AmqpError::new(
                        UNEXPECTED_FRAME,
                        "expected method frame, got non method frame instead",
                    ));
                };
                let expected = p.header.as_ref().map_or(0, |h| h.body_size);
                let have = p.body.len() as u64 + p.first.as_ref().map_or(0, |b| b.len() as u64);
                if have + payload.len() as u64 > expected {
                    return Err(AmqpError::new(
                        UNEXPECTED_FRAME,
                        "content body larger than the header said",
                    ));
                }
                if have == 0 && payload.len() as u64 == expected {
                    p.first = Some(payload);
                } else {
                    if let Some(first) = p.first.take() {
                        p.body.extend_from_slice(&first);
                    }
                    p.body.extend_from_slice(&payload);
                }
                self.complete_if_done(channel, out);
                Ok(())
            }
            Frame::Heartbeat { .. } => Err(AmqpError::new(
                UNEXPECTED_FRAME,
                "heartbeat frame on a non-zero channel",
            )),
        }
    }

    fn complete_if_done(&mut self, channel: u16, out: &mut Vec<Output>) {
        let Some(ChannelPhase::Open(partial)) = self.channels.get_mut(&channel) else {
            return;
        };
        let done = partial.as_ref().is_some_and(|p| {
            let expected = p.header.as_ref().map_or(u64::MAX, |h| h.body_size);
            p.body.len() as u64 + p.first.as_ref().map_or(0, |b| b.len() as u64) == expected
        });
        if !done {
            return;
        }
        let Some(p) = partial.take() else { return };
        let Some(header) = p.header else { return };
        let body = p.first.unwrap_or_else(|| p.body.freeze());
        out.push(Output::Command(
            channel,
            Command::Publish {
                method: p.method,
                header,
                body,
            },
        ));
    }

    fn channel_zero(&mut self, frame: Frame, out: &mut Vec<Output>) -> Result<(), AmqpError> {
        match frame {
            Frame::Heartbeat { .. } => Ok(()),
            Frame::Method {
                method: Method::ConnectionClose(_),
                ..
            } => {
                out.push(Output::Send(self.method0(ConnectionCloseOk {})));
                self.phase = Phase::Closed;
                out.push(Output::Disconnect);
                Ok(())
            }
            Frame::Method {
                method: Method::ConnectionUpdateSecret(_),
                ..
            } => {
                out.push(Output::Send(self.method0(ConnectionUpdateSecretOk {})));
                Ok(())
            }
            Frame::Method {
                method: Method::ConnectionBlocked(_) | Method::ConnectionUnblocked(_),
                ..
            } => Ok(()),
            Frame::Method { method, .. } => Err(AmqpError::channel_error(
                "unexpected method in connection state running",
            )
            .with_ids(method.ids())),
            _ => Err(AmqpError::new(
                UNEXPECTED_FRAME,
                "content frame on channel 0",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Properties;

    fn session() -> Session {
        Session::new(Arc::new(Config::default()), true)
    }

    fn method(channel: u16, m: impl Into<Method>) -> Frame {
        Frame::Method {
            channel,
            method: m.into(),
        }
    }

    fn sent_close(out: &[Output]) -> Option<(u16, u16)> {
        out.iter().find_map(|o| match o {
            Output::Send(Frame::Method {
                method: Method::ConnectionClose(c),
                ..
            }) => Some((c.reply_code, c.class_id)),
            _ => None,
        })
    }

    fn plain(user: &str, pass: &str, caps: bool) -> ConnectionStartOk {
        let mut props = FieldTable::new();
        if caps {
            let mut c = FieldTable::new();
            c.insert("authentication_failure_close", FieldValue::Bool(true));
            props.insert("capabilities", FieldValue::Table(c));
        }
        ConnectionStartOk {
            client_properties: props,
            mechanism: "PLAIN".into(),
            response: Bytes::from(format!("\0{user}\0{pass}")),
            locale: "en_US".into(),
        }
    }

    /// Runs the handshake to the running state.
    fn open() -> Session {
        let mut s = session();
        let mut out = Vec::new();
        s.handle_header(PROTOCOL_HEADER, &mut out);
        s.handle_frame(method(0, plain("guest", "guest", false)), &mut out);
        s.handle_frame(
            method(
                0,
                ConnectionTuneOk {
                    channel_max: 2,
                    frame_max: 131_072,
                    heartbeat: 10,
                },
            ),
            &mut out,
        );
        s.handle_frame(
            method(
                0,
                ConnectionOpen {
                    virtual_host: "/".into(),
                    ..Default::default()
                },
            ),
            &mut out,
        );
        assert!(
            matches!(out.last(), Some(Output::Open { user, vhost, .. }) if user == "guest" && vhost == "/"),
            "{out:?}"
        );
        assert!(s.is_running());
        assert_eq!(s.heartbeat, 10);
        s
    }

    #[test]
    fn a_wrong_protocol_header_gets_ours_and_a_close() {
        let mut s = session();
        let mut out = Vec::new();
        s.handle_header(b"GET / HT", &mut out);
        assert!(matches!(out[..], [Output::Raw(h), Output::Disconnect] if h == PROTOCOL_HEADER));
    }

    #[test]
    fn bad_logins_are_refused_with_403_only_when_the_client_asks_for_it() {
        for (caps, expect_close) in [(true, true), (false, false)] {
            let mut s = session();
            let mut out = Vec::new();
            s.handle_header(PROTOCOL_HEADER, &mut out);
            s.handle_frame(method(0, plain("guest", "nope", caps)), &mut out);
            assert_eq!(sent_close(&out).map(|c| c.0), expect_close.then_some(403));
            assert!(matches!(out.last(), Some(Output::Disconnect)));
        }
    }

    #[test]
    fn amqplain_logs_in() {
        let mut s = session();
        let mut out = Vec::new();
        s.handle_header(PROTOCOL_HEADER, &mut out);
        let mut creds = FieldTable::new();
        creds.insert("LOGIN", FieldValue::str("guest"));
        creds.insert("PASSWORD", FieldValue::str("guest"));
        let mut buf = BytesMut::new();
        creds.encode(&mut buf);
        let response = Bytes::copy_from_slice(&buf[4..]);
        s.handle_frame(
            method(
                0,
                ConnectionStartOk {
                    mechanism: "AMQPLAIN".into(),
                    response,
                    ..Default::default()
                },
            ),
            &mut out,
        );
        assert!(
            matches!(
                out.last(),
                Some(Output::Send(Frame::Method {
                    method: Method::ConnectionTune(_),
                    ..
                }))
            ),
            "{out:?}"
        );
    }

    #[test]
    fn tune_ok_outside_the_proposal_fails_negotiation() {
        for (channel_max, frame_max) in [(0, 131_072), (2048, 131_072), (10, 1000), (10, 1 << 20)] {
            let mut s = session();
            let mut out = Vec::new();
            s.handle_header(PROTOCOL_HEADER, &mut out);
            s.handle_frame(method(0, plain("guest", "guest", false)), &mut out);
            s.handle_frame(
                method(
                    0,
                    ConnectionTuneOk {
                        channel_max,
                        frame_max,
                        heartbeat: 0,
                    },
                ),
                &mut out,
            );
            assert!(
                matches!(out.last(), Some(Output::Disconnect)),
                "{channel_max} {frame_max}"
            );
        }
    }

    #[test]
    fn protocol_errors_close_with_the_rabbitmq_code() {
        let publish = || {
            method(
                1,
                BasicPublish {
                    routing_key: "q".into(),
                    ..Default::default()
                },
            )
        };
        let header = |size| Frame::Header {
            channel: 1,
            header: ContentHeader::new(size, Properties::default()),
        };
        let body = || Frame::Body {
            channel: 1,
            payload: Bytes::from_static(b"x"),
        };
        let open_ch = |n| method(n, ChannelOpen::default());
        let cases: Vec<(&str, Vec<Frame>, u16)> = vec![
            (
                "method before channel.open",
                vec![method(1, BasicQos::default())],
                CHANNEL_ERROR,
            ),
            (
                "second channel.open",
                vec![open_ch(1), open_ch(1)],
                CHANNEL_ERROR,
            ),
            (
                "basic.ack on channel 0",
                vec![method(0, BasicAck::default())],
                CHANNEL_ERROR,
            ),
            (
                "heartbeat on channel 1",
                vec![open_ch(1), Frame::Heartbeat { channel: 1 }],
                UNEXPECTED_FRAME,
            ),
            (
                "body without header",
                vec![open_ch(1), publish(), body()],
                UNEXPECTED_FRAME,
            ),
            (
                "method instead of header",
                vec![open_ch(1), publish(), method(1, BasicQos::default())],
                UNEXPECTED_FRAME,
            ),
            (
                "body beyond its size",
                vec![
                    open_ch(1),
                    publish(),
                    header(1),
                    Frame::Body {
                        channel: 1,
                        payload: Bytes::from_static(b"xy"),
                    },
                ],
                UNEXPECTED_FRAME,
            ),
            (
                "header without publish",
                vec![open_ch(1), header(0)],
                UNEXPECTED_FRAME,
            ),
            (
                "too many channels",
                vec![open_ch(1), open_ch(2), open_ch(3)],
                NOT_ALLOWED,
            ),
        ];
        for (name, frames, code) in cases {
            let mut s = open();
            let mut out = Vec::new();
            for f in frames {
                s.handle_frame(f, &mut out);
            }
            assert_eq!(sent_close(&out).map(|c| c.0), Some(code), "{name}: {out:?}");
            // After our close only close-ok matters.
            out.clear();
            s.handle_frame(method(1, BasicQos::default()), &mut out);
            assert!(out.is_empty(), "{name}: frames after close must be ignored");
            s.handle_frame(method(0, ConnectionCloseOk {}), &mut out);
            assert!(matches!(out[..], [Output::Disconnect]), "{name}");
        }
    }

    #[test]
    fn content_is_assembled_across_body_frames() {
        let mut s = open();
        let mut out = Vec::new();
        s.handle_frame(method(1, ChannelOpen::default()), &mut out);
        s.handle_frame(
            method(
                1,
                BasicPublish {
                    routing_key: "q".into(),
                    ..Default::default()
                },
            ),
            &mut out,
        );
        s.handle_frame(
            Frame::Header {
                channel: 1,
                header: ContentHeader::new(5, Properties::default()),
            },
            &mut out,
        );
        for part in [&b"he"[..], b"llo"] {
            s.handle_frame(
                Frame::Body {
                    channel: 1,
                    payload: Bytes::copy_from_slice(part),
                },
                &mut out,
            );
        }
        let bodies: Vec<&Bytes> = out
            .iter()
            .filter_map(|o| match o {
                Output::Command(1, Command::Publish { body, .. }) => Some(body),
                _ => None,
            })
            .collect();
        assert_eq!(bodies, vec![&Bytes::from_static(b"hello")]);
        // A zero-size message completes with its header.
        out.clear();
        s.handle_frame(method(1, BasicPublish::default()), &mut out);
        s.handle_frame(
            Frame::Header {
                channel: 1,
                header: ContentHeader::new(0, Properties::default()),
            },
            &mut out,
        );
        assert!(matches!(
            out[..],
            [Output::Command(1, Command::Publish { .. })]
        ));
    }

    #[test]
    fn a_failed_channel_drops_frames_until_close_ok() {
        let mut s = open();
        let mut out = Vec::new();
        s.handle_frame(method(1, ChannelOpen::default()), &mut out);
        s.command_failed(
            1,
            AmqpError::not_found("no queue 'q' in vhost '/'"),
            &mut out,
        );
        assert!(
            matches!(out.last(), Some(Output::Send(Frame::Method { method: Method::ChannelClose(c), .. })) if c.reply_code == 404)
        );
        out.clear();
        s.handle_frame(method(1, BasicQos::default()), &mut out);
        assert!(out.is_empty());
        s.handle_frame(method(1, ChannelCloseOk {}), &mut out);
        assert!(matches!(out[..], [Output::Command(1, Command::Closed)]));
        out.clear();
        s.handle_frame(method(1, ChannelOpen::default()), &mut out);
        assert!(
            matches!(out[..], [Output::Command(1, Command::Open)]),
            "the id is free again"
        );
    }
}
