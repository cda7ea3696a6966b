"""AMQP 0-9-1 broker behaviour as pika's BlockingConnection sees it.

Every expectation here was checked against a real RabbitMQ 3.10 (see conftest.py and
rabbitmq-node.sh); the broker under test must behave the same. Names are unique per
test (uuid) so tests never see each other's queues or exchanges; every wait is bounded.
"""

import datetime
import os
import time
import uuid

import pika
import pytest
from pika.exceptions import (
    ChannelClosedByBroker,
    ConnectionClosedByBroker,
    ProbableAccessDeniedError,
    ProbableAuthenticationError,
    UnroutableError,
)

pytestmark = pytest.mark.timeout(60)

WAIT_S = 10  # upper bound for anything that should happen "soon"
NOT_DELIVERED_S = 1.0  # how long we watch to be sure something does NOT happen


# ---------------------------------------------------------------- helpers


def params(url, **overrides):
    p = pika.URLParameters(str(url))
    p.connection_attempts = 1
    p.socket_timeout = 10
    p.stack_timeout = 15
    p.blocked_connection_timeout = 30
    for key, value in overrides.items():
        setattr(p, key, value)
    return p


def name(kind):
    return f"compat.pika.{kind}.{uuid.uuid4().hex[:12]}"


class Broker:
    """Opens connections to the broker under test and removes what tests declared."""

    def __init__(self, url):
        self.url = url
        self.connections = []
        self.queues = []
        self.exchanges = []

    def connect(self, **overrides):
        conn = pika.BlockingConnection(params(self.url, **overrides))
        self.connections.append(conn)
        return conn

    def queue(self, kind="q"):
        n = name(kind)
        self.queues.append(n)
        return n

    def exchange(self, kind="x"):
        n = name(kind)
        self.exchanges.append(n)
        return n

    def cleanup(self):
        for conn in self.connections:
            if conn.is_open:
                try:
                    conn.close()
                except Exception:
                    pass
        if not (self.queues or self.exchanges):
            return
        try:
            conn = pika.BlockingConnection(params(self.url))
        except Exception:
            return
        try:
            for q in self.queues:
                ch = conn.channel()
                try:
                    ch.queue_delete(q)
                    ch.close()
                except Exception:
                    pass
            for x in self.exchanges:
                ch = conn.channel()
                try:
                    ch.exchange_delete(x)
                    ch.close()
                except Exception:
                    pass
        finally:
            try:
                conn.close()
            except Exception:
                pass


@pytest.fixture
def broker(amqp_url):
    b = Broker(amqp_url)
    try:
        yield b
    finally:
        b.cleanup()


@pytest.fixture
def conn(broker):
    return broker.connect()


@pytest.fixture
def ch(conn):
    return conn.channel()


def get_wait(ch, queue, timeout=WAIT_S, auto_ack=True):
    """basic.get until a message arrives (bounded); returns (method, props, body)."""
    deadline = time.monotonic() + timeout
    while True:
        method, props, body = ch.basic_get(queue, auto_ack=auto_ack)
        if method is not None:
            return method, props, body
        if time.monotonic() >= deadline:
            raise AssertionError(f"no message on {queue} within {timeout}s")
        ch.connection.sleep(0.05)


def drain(ch, queue, timeout=WAIT_S):
    """Everything ready in `queue`, in order, as (method, props, body) tuples.

    Publishes a marker straight to the queue from the same channel and reads with
    basic.get up to the marker, so "nothing else arrived" is known without sleeping:
    a broker keeps one channel's publishes to one queue in order.
    """
    marker = f"__marker__{uuid.uuid4().hex}".encode()
    ch.basic_publish("", queue, marker)
    out = []
    deadline = time.monotonic() + timeout
    while True:
        method, props, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            if time.monotonic() >= deadline:
                raise AssertionError(f"marker never reached {queue}; got {out}")
            ch.connection.sleep(0.05)
            continue
        if body == marker:
            return out
        out.append((method, props, body))


def bodies(ch, queue):
    return [body for _, _, body in drain(ch, queue)]


def get_until_empty(ch, queue, limit=1000):
    """basic.get until get-empty, for queues a marker would disturb (length limits)."""
    out = []
    for _ in range(limit):
        method, _, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            return out
        out.append(body)
    raise AssertionError(f"{queue} never ran empty")


def ready_count(conn, queue):
    """message_count from a passive declare on a fresh channel."""
    c = conn.channel()
    try:
        return c.queue_declare(queue, passive=True).method.message_count
    finally:
        c.close()


def pump(conn, until, timeout=WAIT_S):
    """Process events until until() is true (bounded)."""
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        conn.process_data_events(time_limit=0.05)


def idle(conn, seconds=NOT_DELIVERED_S):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        conn.process_data_events(time_limit=0.05)


def closed_with(excinfo, code):
    assert excinfo.value.reply_code == code, (excinfo.value.reply_code, excinfo.value.reply_text)


# ---------------------------------------------------------------- connection


def test_connect_open_channel_and_close(broker):
    conn = broker.connect()
    assert conn.is_open
    ch = conn.channel()
    assert ch.is_open and ch.channel_number >= 1
    ch2 = conn.channel()
    assert ch2.channel_number != ch.channel_number
    ch.close()
    assert ch.is_closed and ch2.is_open
    conn.close()
    assert conn.is_closed


def refused_with_403(url):
    # pika advertises authentication_failure_close, so the broker must say
    # connection.close 403 ACCESS_REFUSED rather than just drop the socket; pika
    # reports that as ProbableAuthenticationError carrying the close's code and text.
    with pytest.raises((ProbableAuthenticationError, ConnectionClosedByBroker)) as excinfo:
        pika.BlockingConnection(params(url))
    if isinstance(excinfo.value, ConnectionClosedByBroker):
        closed_with(excinfo, 403)
    else:
        assert "(403)" in str(excinfo.value), str(excinfo.value)


def test_wrong_password_is_refused(amqp_url):
    bad = amqp_url.with_credentials("guest", "not-the-password")
    refused_with_403(bad)


def test_unknown_user_is_refused(amqp_url):
    bad = amqp_url.with_credentials("nobody-" + uuid.uuid4().hex[:6], "guest")
    refused_with_403(bad)


def test_unknown_vhost_is_530(amqp_url):
    p = params(amqp_url)
    p.virtual_host = "no-such-vhost-" + uuid.uuid4().hex[:6]
    with pytest.raises((ProbableAccessDeniedError, ConnectionClosedByBroker)) as excinfo:
        pika.BlockingConnection(p)
    if isinstance(excinfo.value, ConnectionClosedByBroker):
        closed_with(excinfo, 530)
    else:
        assert "(530)" in str(excinfo.value), str(excinfo.value)


# ---------------------------------------------------------------- declare


def test_declare_exchange_and_queue_kinds(broker, conn, ch):
    x = broker.exchange()
    ch.exchange_declare(x, exchange_type="direct", durable=True)
    ch.exchange_declare(x, exchange_type="direct", durable=True)  # same again: fine
    ch.exchange_declare(x, passive=True)

    durable = broker.queue("durable")
    ok = ch.queue_declare(durable, durable=True)
    assert ok.method.queue == durable
    assert (ok.method.message_count, ok.method.consumer_count) == (0, 0)

    ch.basic_publish("", durable, b"one")
    ch.basic_publish("", durable, b"two")
    assert get_count_soon(conn, durable, 2)

    server_named = ch.queue_declare("", exclusive=True).method.queue
    assert server_named.startswith("amq.gen-") and len(server_named) > len("amq.gen-")
    other = ch.queue_declare("", exclusive=True).method.queue
    assert other != server_named
    ch.basic_publish("", server_named, b"hello")
    assert get_wait(ch, server_named)[2] == b"hello"
    ch.queue_declare(server_named, passive=True)
    # A non-passive declare naming it is refused: `amq.` names are reserved.
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        ch.queue_declare(server_named, exclusive=True)
    closed_with(excinfo, 403)


def get_count_soon(conn, queue, expected, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    while ready_count(conn, queue) != expected:
        if time.monotonic() >= deadline:
            return False
        conn.sleep(0.05)
    return True


def test_exclusive_queue_goes_away_with_its_connection(broker):
    owner = broker.connect()
    q = owner.channel().queue_declare("", exclusive=True).method.queue
    other = broker.connect()
    owner.close()
    deadline = time.monotonic() + WAIT_S
    while True:
        c = other.channel()
        try:
            c.queue_declare(q, passive=True)
        except ChannelClosedByBroker as e:
            assert e.reply_code == 404
            break
        c.close()
        assert time.monotonic() < deadline, "exclusive queue survived its connection"
        other.sleep(0.05)


def test_auto_delete_queue_goes_away_after_last_consumer(broker, conn, ch):
    q = broker.queue("autodel")
    ch.queue_declare(q, auto_delete=True)
    # Never consumed: stays.
    ch.queue_declare(q, passive=True)
    tag1 = ch.basic_consume(q, lambda *a: None, auto_ack=True)
    tag2 = ch.basic_consume(q, lambda *a: None, auto_ack=True)
    ch.basic_cancel(tag1)
    ch.queue_declare(q, passive=True)  # still one consumer
    ch.basic_cancel(tag2)
    probe = conn.channel()
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            probe.queue_declare(q, passive=True)
            conn.sleep(0.05)
    closed_with(excinfo, 404)


def test_passive_declare_of_missing_queue_is_404(conn, ch):
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        ch.queue_declare(name("missing"), passive=True)
    closed_with(excinfo, 404)
    assert ch.is_closed
    assert conn.is_open  # a channel error, not a connection error
    ch2 = conn.channel()
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        ch2.exchange_declare(name("missing-x"), passive=True)
    closed_with(excinfo, 404)
    assert conn.is_open


def test_reserved_amq_names_are_403(conn, ch):
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        ch.queue_declare("amq.compat-" + uuid.uuid4().hex[:6])
    closed_with(excinfo, 403)
    ch = conn.channel()
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        ch.exchange_declare("amq.compat-" + uuid.uuid4().hex[:6], exchange_type="direct")
    closed_with(excinfo, 403)
    ch = conn.channel()
    ch.exchange_declare("amq.topic", passive=True)  # predeclared, passive is fine
    ch.exchange_declare("amq.fanout", passive=True)


def test_redeclare_with_different_arguments_is_406(broker, conn, ch):
    q = broker.queue()
    ch.queue_declare(q, arguments={"x-message-ttl": 60000})
    ch.queue_declare(q, arguments={"x-message-ttl": 60000})  # equivalent: fine
    ch.queue_declare(q, passive=True)  # passive ignores arguments
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        ch.queue_declare(q, arguments={"x-message-ttl": 30000})
    closed_with(excinfo, 406)
    ch = conn.channel()
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        ch.queue_declare(q)  # argument missing on redeclare
    closed_with(excinfo, 406)
    ch = conn.channel()
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        ch.queue_declare(q, durable=True, arguments={"x-message-ttl": 60000})
    closed_with(excinfo, 406)

    x = broker.exchange()
    ch = conn.channel()
    ch.exchange_declare(x, exchange_type="direct")
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        ch.exchange_declare(x, exchange_type="fanout")
    closed_with(excinfo, 406)
    assert conn.is_open


# ---------------------------------------------------------------- bind / publish / get


def test_bind_and_unbind(broker, conn, ch):
    x, q = broker.exchange(), broker.queue()
    ch.exchange_declare(x, exchange_type="direct")
    ch.queue_declare(q)
    ch.queue_bind(q, x, routing_key="k1")
    ch.queue_bind(q, x, routing_key="k2")
    ch.basic_publish(x, "k1", b"a")
    ch.basic_publish(x, "k2", b"b")
    ch.basic_publish(x, "k3", b"unbound key")
    assert bodies(ch, q) == [b"a", b"b"]
    ch.queue_unbind(q, x, routing_key="k1")
    ch.queue_unbind(q, x, routing_key="never-bound")  # unbinding nothing is fine
    ch.basic_publish(x, "k1", b"c")
    ch.basic_publish(x, "k2", b"d")
    assert bodies(ch, q) == [b"d"]


def test_publish_to_missing_exchange_is_404(conn, ch):
    ch.basic_publish(name("missing-x"), "k", b"x")
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        ch.queue_declare("", exclusive=True)  # next synchronous call sees the close
    closed_with(excinfo, 404)
    assert conn.is_open


def test_publish_get_and_get_empty(broker, ch):
    q = broker.queue()
    ch.queue_declare(q)
    headers = {
        "str": "text é",
        "int": 7,
        "big": 2**40,
        "neg": -5,
        "yes": True,
        "none": None,
        "nested": {"list": [1, "two", None, [3]], "t": {"k": "v"}},
    }
    props = pika.BasicProperties(
        content_type="application/json",
        content_encoding="utf-8",
        headers=headers,
        delivery_mode=2,
        priority=3,
        correlation_id="corr-1",
        reply_to="reply-here",
        expiration="600000",
        message_id="mid-1",
        timestamp=1700000000,
        type="kind",
        user_id="guest",
        app_id="compat",
    )
    ch.basic_publish("", q, b'{"n": 1}', properties=props)
    ch.basic_publish("", q, b"second")
    method, got, body = get_wait(ch, q, auto_ack=False)
    assert body == b'{"n": 1}'
    assert method.delivery_tag == 1
    assert method.redelivered is False
    assert method.exchange == ""
    assert method.routing_key == q
    assert method.message_count == 1  # messages left after this one
    for attr in (
        "content_type",
        "content_encoding",
        "delivery_mode",
        "priority",
        "correlation_id",
        "reply_to",
        "expiration",
        "message_id",
        "timestamp",
        "type",
        "user_id",
        "app_id",
    ):
        assert getattr(got, attr) == getattr(props, attr), attr
    assert got.headers == headers
    ch.basic_ack(method.delivery_tag)

    method, got, body = ch.basic_get(q, auto_ack=True)
    assert body == b"second" and method.delivery_tag == 2 and method.message_count == 0
    assert got.headers is None and got.content_type is None
    assert ch.basic_get(q, auto_ack=True) == (None, None, None)  # get-empty


def test_user_id_must_match_the_login(broker, conn, ch):
    q = broker.queue()
    ch.queue_declare(q)
    ch.basic_publish("", q, b"x", pika.BasicProperties(user_id="someone-else"))
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        ch.queue_declare(q, passive=True)
    closed_with(excinfo, 406)


@pytest.mark.parametrize("size", [0, 1, 131072 - 8, 131072 - 7, 1024 * 1024, 3 * 1024 * 1024 + 5])
def test_message_sizes_round_trip_intact(broker, ch, size):
    q = broker.queue()
    ch.queue_declare(q)
    payload = os.urandom(size)
    ch.basic_publish("", q, payload)
    got_get = get_wait(ch, q)[2]
    assert len(got_get) == size and got_get == payload
    # and the same through basic.deliver
    ch.basic_publish("", q, payload)
    received = []
    ch.basic_consume(q, lambda c, m, p, b: received.append(b), auto_ack=True)
    pump(ch.connection, lambda: received)
    assert len(received[0]) == size and received[0] == payload


# ---------------------------------------------------------------- consume / ack


def test_consume_and_ack(broker, conn, ch):
    q = broker.queue()
    ch.queue_declare(q)
    for i in range(3):
        ch.basic_publish("", q, f"m{i}".encode())
    seen = []

    def on_message(channel, method, props, body):
        seen.append((method.consumer_tag, method.delivery_tag, method.redelivered, body))
        channel.basic_ack(method.delivery_tag)

    tag = ch.basic_consume(q, on_message)
    pump(conn, lambda: len(seen) == 3)
    assert [b for *_, b in seen] == [b"m0", b"m1", b"m2"]
    assert [t for _, t, _, _ in seen] == [1, 2, 3]
    assert all(ct == tag for ct, *_ in seen)
    assert not any(r for _, _, r, _ in seen)
    ch.basic_cancel(tag)
    ch.close()
    assert ready_count(conn, q) == 0  # acked messages are gone for good


def test_unacked_messages_come_back_redelivered_when_channel_closes(broker, conn, ch):
    q = broker.queue()
    ch.queue_declare(q)
    ch.basic_publish("", q, b"m0")
    ch.basic_publish("", q, b"m1")
    seen = []
    ch.basic_consume(q, lambda c, m, p, b: seen.append(b))
    pump(conn, lambda: len(seen) == 2)
    assert ready_count(conn, q) == 0  # delivered, unacked: not ready
    ch.close()
    ch2 = conn.channel()
    m0 = get_wait(ch2, q)
    m1 = get_wait(ch2, q)
    assert [m0[2], m1[2]] == [b"m0", b"m1"]
    assert m0[0].redelivered and m1[0].redelivered


def test_nack_and_reject_with_requeue_redeliver(broker, ch):
    q = broker.queue()
    ch.queue_declare(q)
    ch.basic_publish("", q, b"again")
    method, _, body = get_wait(ch, q, auto_ack=False)
    assert body == b"again" and method.redelivered is False
    ch.basic_nack(method.delivery_tag, requeue=True)
    method, _, body = get_wait(ch, q, auto_ack=False)
    assert body == b"again" and method.redelivered is True
    ch.basic_reject(method.delivery_tag, requeue=True)
    method, _, body = get_wait(ch, q, auto_ack=False)
    assert body == b"again" and method.redelivered is True
    ch.basic_ack(method.delivery_tag)
    assert ch.basic_get(q) == (None, None, None)


def test_requeued_message_keeps_its_place_at_the_head(broker, ch):
    q = broker.queue()
    ch.queue_declare(q)
    for b in (b"first", b"second"):
        ch.basic_publish("", q, b)
    method, _, body = get_wait(ch, q, auto_ack=False)
    assert body == b"first"
    ch.basic_reject(method.delivery_tag, requeue=True)
    assert bodies(ch, q) == [b"first", b"second"]


def test_multiple_ack_and_nack(broker, conn, ch):
    q = broker.queue()
    ch.queue_declare(q)
    for i in range(6):
        ch.basic_publish("", q, f"m{i}".encode())
    tags = [get_wait(ch, q, auto_ack=False)[0].delivery_tag for _ in range(6)]
    assert tags == [1, 2, 3, 4, 5, 6]
    ch.basic_ack(tags[2], multiple=True)  # acks m0..m2
    ch.basic_nack(tags[4], multiple=True, requeue=True)  # requeues m3, m4
    # m5 is still unacked on this channel; m3 and m4 are ready again.
    back = [get_wait(ch, q, auto_ack=True) for _ in range(2)]
    assert [b for _, _, b in back] == [b"m3", b"m4"]
    assert all(m.redelivered for m, _, _ in back)
    assert ch.basic_get(q) == (None, None, None)
    ch.close()  # m5 requeued
    ch2 = conn.channel()
    m, _, b = get_wait(ch2, q)
    assert b == b"m5" and m.redelivered
    assert ch2.basic_get(q) == (None, None, None)


def test_unknown_delivery_tag_is_406(broker, conn, ch):
    q = broker.queue()
    ch.queue_declare(q)
    ch.basic_ack(4242)
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        ch.queue_declare(q, passive=True)
    closed_with(excinfo, 406)
    assert "4242" in excinfo.value.reply_text
    # acking the same tag twice is the same error
    ch = conn.channel()
    ch.basic_publish("", q, b"x")
    method, _, _ = get_wait(ch, q, auto_ack=False)
    ch.basic_ack(method.delivery_tag)
    ch.basic_ack(method.delivery_tag)
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        ch.queue_declare(q, passive=True)
    closed_with(excinfo, 406)
    assert conn.is_open


def test_prefetch_limits_unacked_deliveries(broker, conn, ch):
    q = broker.queue()
    ch.queue_declare(q)
    for i in range(5):
        ch.basic_publish("", q, f"m{i}".encode())
    ch.basic_qos(prefetch_count=2)
    seen = []
    ch.basic_consume(q, lambda c, m, p, b: seen.append(m.delivery_tag))
    pump(conn, lambda: len(seen) >= 2)
    idle(conn)
    assert len(seen) == 2, "prefetch_count=2 must hold back the third delivery"
    assert ready_count(conn, q) == 3
    ch.basic_ack(seen[0])
    pump(conn, lambda: len(seen) >= 3)
    idle(conn)
    assert len(seen) == 3
    ch.basic_ack(seen[2], multiple=True)
    pump(conn, lambda: len(seen) >= 5)
    idle(conn, 0.3)
    assert len(seen) == 5


def test_exclusive_consumer_conflicts_are_403(broker, conn, ch):
    q = broker.queue()
    ch.queue_declare(q)
    ch.basic_consume(q, lambda *a: None)
    other = conn.channel()
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        other.basic_consume(q, lambda *a: None, exclusive=True)
    closed_with(excinfo, 403)

    q2 = broker.queue()
    ch.queue_declare(q2)
    ch.basic_consume(q2, lambda *a: None, exclusive=True)
    other = broker.connect().channel()  # from another connection too
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        other.basic_consume(q2, lambda *a: None)
    closed_with(excinfo, 403)
    assert conn.is_open


def test_exclusive_queue_is_locked_to_other_connections(broker, conn, ch):
    q = broker.queue("exclusive")
    ch.queue_declare(q, exclusive=True)
    intruder = broker.connect()

    def expect_405(op):
        c = intruder.channel()
        with pytest.raises(ChannelClosedByBroker) as excinfo:
            op(c)
        closed_with(excinfo, 405)

    expect_405(lambda c: c.queue_declare(q, passive=True))
    expect_405(lambda c: c.queue_declare(q, exclusive=True))
    expect_405(lambda c: c.basic_consume(q, lambda *a: None))
    expect_405(lambda c: c.queue_purge(q))
    expect_405(lambda c: c.queue_delete(q))
    # Publishing into it from elsewhere is allowed.
    c = intruder.channel()
    c.confirm_delivery()
    c.basic_publish("", q, b"from outside", mandatory=True)
    assert get_wait(ch, q)[2] == b"from outside"
    assert intruder.is_open


# ---------------------------------------------------------------- confirms / tx


def test_confirms_and_mandatory_unroutable(broker, ch):
    q = broker.queue()
    ch.queue_declare(q)
    ch.confirm_delivery()
    ch.basic_publish("", q, b"routed", mandatory=True)  # acked: returns normally
    with pytest.raises(UnroutableError) as excinfo:
        ch.basic_publish("", name("nowhere"), b"lost", mandatory=True)
    returned = excinfo.value.messages
    assert len(returned) == 1 and returned[0].body == b"lost"
    assert returned[0].method.reply_code == 312
    ch.basic_publish("", name("nowhere"), b"dropped")  # not mandatory: silently dropped
    assert bodies(ch, q) == [b"routed"]


def test_tx_commit_and_rollback(broker, conn, ch):
    q = broker.queue()
    ch.queue_declare(q)
    ch.tx_select()
    ch.basic_publish("", q, b"rolled back")
    assert ready_count(conn, q) == 0
    ch.tx_rollback()
    assert ready_count(conn, q) == 0
    ch.basic_publish("", q, b"committed")
    assert ready_count(conn, q) == 0  # not before commit
    ch.tx_commit()
    assert ready_count(conn, q) == 1

    # Acks are transactional too.
    method, _, body = get_wait(ch, q, auto_ack=False)
    assert body == b"committed"
    ch.tx_commit()  # the get itself is not transactional
    ch.basic_ack(method.delivery_tag)
    ch.tx_rollback()  # drops the ack: message stays unacked
    ch.close()
    ch = conn.channel()
    method, _, body = get_wait(ch, q, auto_ack=False)
    assert body == b"committed" and method.redelivered
    ch.tx_select()
    ch.basic_ack(method.delivery_tag)
    ch.tx_commit()
    ch.close()
    assert ready_count(conn, q) == 0


def test_tx_select_after_confirm_select_is_406(conn, ch):
    ch.confirm_delivery()
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        ch.tx_select()
    closed_with(excinfo, 406)


# ---------------------------------------------------------------- routing


def test_topic_exchange_wildcards(broker, ch):
    x = broker.exchange()
    ch.exchange_declare(x, exchange_type="topic")
    patterns = {"star": "a.*", "hash": "a.#", "mid": "a.#.z", "all": "#", "inner": "*.b.*"}
    queues = {}
    for key, pattern in patterns.items():
        q = broker.queue(key)
        ch.queue_declare(q)
        ch.queue_bind(q, x, routing_key=pattern)
        queues[key] = q
    keys = ["a", "a.b", "a.b.c", "a.b.z", "a.z", "b.c", "a.b.c.z", "x.b.y"]
    for k in keys:
        ch.basic_publish(x, k, k.encode())
    got = {key: [b.decode() for b in bodies(ch, q)] for key, q in queues.items()}
    assert got["star"] == ["a.b", "a.z"]
    assert got["hash"] == ["a", "a.b", "a.b.c", "a.b.z", "a.z", "a.b.c.z"]
    assert got["mid"] == ["a.b.z", "a.z", "a.b.c.z"]
    assert got["all"] == keys
    assert got["inner"] == ["a.b.c", "a.b.z", "x.b.y"]


def test_fanout_ignores_routing_key(broker, ch):
    x = broker.exchange()
    ch.exchange_declare(x, exchange_type="fanout")
    qs = []
    for key in ("k1", "k2", ""):
        q = broker.queue()
        ch.queue_declare(q)
        ch.queue_bind(q, x, routing_key=key)
        qs.append(q)
    ch.basic_publish(x, "anything", b"to all")
    for q in qs:
        assert bodies(ch, q) == [b"to all"]


def test_headers_exchange_all_and_any(broker, ch):
    x = broker.exchange()
    ch.exchange_declare(x, exchange_type="headers")
    q_all, q_any, q_default = broker.queue("all"), broker.queue("any"), broker.queue("default")
    for q in (q_all, q_any, q_default):
        ch.queue_declare(q)
    ch.queue_bind(q_all, x, arguments={"x-match": "all", "a": 1, "b": "x"})
    ch.queue_bind(q_any, x, arguments={"x-match": "any", "a": 1, "b": "x"})
    ch.queue_bind(q_default, x, arguments={"a": 1, "b": "x"})  # x-match defaults to all
    cases = [
        ("both", {"a": 1, "b": "x"}),
        ("a-only", {"a": 1}),
        ("wrong-a", {"a": 2, "b": "x"}),
        ("neither", {"c": 1}),
        ("extra", {"a": 1, "b": "x", "c": 3}),
        ("no-headers", None),
    ]
    for label, headers in cases:
        ch.basic_publish(x, "ignored", label.encode(), pika.BasicProperties(headers=headers))
    assert bodies(ch, q_all) == [b"both", b"extra"]
    assert bodies(ch, q_default) == [b"both", b"extra"]
    assert bodies(ch, q_any) == [b"both", b"a-only", b"wrong-a", b"extra"]


def test_exchange_to_exchange_binding(broker, ch):
    src, dst = broker.exchange("src"), broker.exchange("dst")
    ch.exchange_declare(src, exchange_type="direct")
    ch.exchange_declare(dst, exchange_type="fanout")
    q, q_both = broker.queue(), broker.queue("both")
    ch.queue_declare(q)
    ch.queue_declare(q_both)
    ch.queue_bind(q, dst)
    ch.exchange_bind(destination=dst, source=src, routing_key="k")
    ch.queue_bind(q_both, dst)
    ch.queue_bind(q_both, src, routing_key="k")  # reachable two ways: one copy
    ch.basic_publish(src, "k", b"via e2e")
    ch.basic_publish(src, "other", b"not bound")
    assert bodies(ch, q) == [b"via e2e"]
    assert bodies(ch, q_both) == [b"via e2e"]
    # A cycle must not loop or duplicate.
    ch.exchange_bind(destination=src, source=dst, routing_key="k")
    ch.basic_publish(src, "k", b"cycle")
    assert bodies(ch, q) == [b"cycle"]
    assert bodies(ch, q_both) == [b"cycle"]
    ch.exchange_unbind(destination=dst, source=src, routing_key="k")
    ch.exchange_unbind(destination=src, source=dst, routing_key="k")
    ch.basic_publish(src, "k", b"after unbind")
    assert bodies(ch, q) == []
    assert bodies(ch, q_both) == [b"after unbind"]


def test_alternate_exchange_catches_unroutable(broker, ch):
    main, alt = broker.exchange("main"), broker.exchange("alt")
    ch.exchange_declare(alt, exchange_type="fanout")
    ch.exchange_declare(main, exchange_type="direct", arguments={"alternate-exchange": alt})
    q_main, q_alt = broker.queue("main"), broker.queue("alt")
    ch.queue_declare(q_main)
    ch.queue_declare(q_alt)
    ch.queue_bind(q_main, main, routing_key="k")
    ch.queue_bind(q_alt, alt)
    ch.confirm_delivery()
    ch.basic_publish(main, "k", b"routed", mandatory=True)
    ch.basic_publish(main, "unknown", b"to alt", mandatory=True)  # no UnroutableError
    assert bodies(ch, q_main) == [b"routed"]
    assert bodies(ch, q_alt) == [b"to alt"]


def test_purge_and_delete_report_counts(broker, conn, ch):
    q = broker.queue()
    ch.queue_declare(q)
    for i in range(3):
        ch.basic_publish("", q, b"x")
    assert get_count_soon(conn, q, 3)
    assert ch.queue_purge(q).method.message_count == 3
    assert ch.queue_purge(q).method.message_count == 0
    for i in range(2):
        ch.basic_publish("", q, b"y")
    assert get_count_soon(conn, q, 2)
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        ch.queue_delete(q, if_empty=True)
    closed_with(excinfo, 406)
    ch = conn.channel()
    tag = ch.basic_consume(q, lambda *a: None)
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        conn.channel().queue_delete(q, if_unused=True)
    closed_with(excinfo, 406)
    ch.basic_cancel(tag)  # the consumer took and requeued nothing: no prefetch => it may hold both
    ch.close()
    ch = conn.channel()
    assert get_count_soon(conn, q, 2)
    assert ch.queue_delete(q).method.message_count == 2
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        ch.queue_declare(q, passive=True)
    closed_with(excinfo, 404)
    ch = conn.channel()
    ch.queue_delete(q)  # deleting a missing queue is fine


# ---------------------------------------------------------------- TTL, DLX, limits


def _dlx(broker, ch):
    dlx, dead = broker.exchange("dlx"), broker.queue("dead")
    ch.exchange_declare(dlx, exchange_type="fanout")
    ch.queue_declare(dead)
    ch.queue_bind(dead, dlx)
    return dlx, dead


def _check_death(entry, reason, queue, exchange, routing_keys):
    assert entry["reason"] == reason
    assert entry["queue"] == queue
    assert entry["exchange"] == exchange
    assert entry["routing-keys"] == routing_keys
    assert entry["count"] == 1
    assert isinstance(entry["time"], datetime.datetime)


def test_message_ttl_expiry_dead_letters_with_x_death(broker, ch):
    dlx, dead = _dlx(broker, ch)
    src = broker.queue("ttl")
    ch.queue_declare(src, arguments={"x-message-ttl": 100, "x-dead-letter-exchange": dlx})
    ch.basic_publish("", src, b"short-lived", pika.BasicProperties(headers={"keep": "me"}))
    method, props, body = get_wait(ch, dead)
    assert body == b"short-lived"
    assert method.exchange == dlx and method.routing_key == src  # original routing key kept
    h = props.headers
    assert h["keep"] == "me"
    deaths = h["x-death"]
    assert isinstance(deaths, list) and len(deaths) == 1
    _check_death(deaths[0], "expired", src, "", [src])
    assert h["x-first-death-reason"] == "expired"
    assert h["x-first-death-queue"] == src
    assert h["x-first-death-exchange"] == ""
    assert ch.basic_get(src) == (None, None, None)


def test_per_message_expiration_dead_letters_with_original_expiration(broker, ch):
    dlx, dead = _dlx(broker, ch)
    x, src = broker.exchange("src"), broker.queue("src")
    ch.exchange_declare(x, exchange_type="direct")
    ch.queue_declare(src, arguments={"x-dead-letter-exchange": dlx})
    ch.queue_bind(src, x, routing_key="rk")
    ch.basic_publish(x, "rk", b"expiring", pika.BasicProperties(expiration="50"))
    ch.basic_publish(x, "rk", b"lasting", pika.BasicProperties(expiration="600000"))
    method, props, body = get_wait(ch, dead)
    assert body == b"expiring"
    assert props.expiration is None  # removed from the dead-lettered copy
    (death,) = props.headers["x-death"]
    _check_death(death, "expired", src, x, ["rk"])
    assert death["original-expiration"] == "50"
    assert bodies(ch, src) == [b"lasting"]


def test_reject_without_requeue_dead_letters_as_rejected(broker, ch):
    dlx = broker.exchange("dlx")
    ch.exchange_declare(dlx, exchange_type="direct")
    dead = broker.queue("dead")
    ch.queue_declare(dead)
    ch.queue_bind(dead, dlx, routing_key="dead-key")
    src = broker.queue("src")
    ch.queue_declare(
        src,
        arguments={"x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": "dead-key"},
    )
    ch.basic_publish("", src, b"no thanks")
    ch.basic_publish("", src, b"nack too")
    m, _, _ = get_wait(ch, src, auto_ack=False)
    ch.basic_reject(m.delivery_tag, requeue=False)
    m, _, _ = get_wait(ch, src, auto_ack=False)
    ch.basic_nack(m.delivery_tag, requeue=False)
    for expected in (b"no thanks", b"nack too"):
        method, props, body = get_wait(ch, dead)
        assert body == expected
        assert method.routing_key == "dead-key"  # the override is used for routing...
        (death,) = props.headers["x-death"]
        _check_death(death, "rejected", src, "", [src])  # ...but x-death keeps the original
        assert props.headers["x-first-death-reason"] == "rejected"
    assert ch.basic_get(src) == (None, None, None)


def test_dead_lettered_twice_from_same_queue_counts_up(broker, ch):
    # A message rejected, routed back to the same queue, and rejected again: one
    # x-death entry for (queue, reason) with count 2, not two entries.
    dlx = broker.exchange("dlx")
    ch.exchange_declare(dlx, exchange_type="fanout")
    src, dead = broker.queue("src"), broker.queue("dead")
    ch.queue_declare(src, arguments={"x-dead-letter-exchange": dlx})
    ch.queue_declare(dead)
    ch.queue_bind(src, dlx)  # loops back
    ch.basic_publish("", src, b"boomerang")
    m, _, _ = get_wait(ch, src, auto_ack=False)
    ch.basic_reject(m.delivery_tag, requeue=False)
    m, props, _ = get_wait(ch, src, auto_ack=False)
    assert props.headers["x-death"][0]["count"] == 1
    ch.queue_unbind(src, dlx)
    ch.queue_bind(dead, dlx)
    ch.basic_reject(m.delivery_tag, requeue=False)
    _, props, body = get_wait(ch, dead)
    assert body == b"boomerang"
    (death,) = props.headers["x-death"]
    assert death["count"] == 2 and death["reason"] == "rejected" and death["queue"] == src


def test_max_length_drops_from_head(broker, conn, ch):
    dlx, dead = _dlx(broker, ch)
    q = broker.queue("maxlen")
    ch.queue_declare(q, arguments={"x-max-length": 2, "x-dead-letter-exchange": dlx})
    for i in range(5):
        ch.basic_publish("", q, f"m{i}".encode())
    assert get_count_soon(conn, q, 2)
    assert get_until_empty(ch, q) == [b"m3", b"m4"]
    dropped = [get_wait(ch, dead) for _ in range(3)]
    assert [b for _, _, b in dropped] == [b"m0", b"m1", b"m2"]
    for _, props, _ in dropped:
        (death,) = props.headers["x-death"]
        _check_death(death, "maxlen", q, "", [q])


def test_max_length_reject_publish_nacks_confirms(broker, ch):
    q = broker.queue("full")
    ch.queue_declare(q, arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    ch.confirm_delivery()
    ch.basic_publish("", q, b"fits")
    with pytest.raises(pika.exceptions.NackError):
        ch.basic_publish("", q, b"overflows")
    assert get_until_empty(ch, q) == [b"fits"]
    ch.basic_publish("", q, b"room again")  # confirmed once there is room
    assert get_until_empty(ch, q) == [b"room again"]


def test_max_priority_orders_delivery(broker, ch):
    q = broker.queue("prio")
    ch.queue_declare(q, arguments={"x-max-priority": 10})
    ch.confirm_delivery()  # all enqueued before the first get
    sent = [("p0", None), ("p5a", 5), ("p1", 1), ("p9", 9), ("p5b", 5), ("p20", 20), ("p0b", 0)]
    for body, prio in sent:
        ch.basic_publish("", q, body.encode(), pika.BasicProperties(priority=prio))
    got = []
    deadline = time.monotonic() + WAIT_S
    while len(got) < len(sent) and time.monotonic() < deadline:
        m, _, b = ch.basic_get(q, auto_ack=True)
        if m is None:
            ch.connection.sleep(0.05)
            continue
        got.append(b.decode())
    # above max counts as max; equal priorities stay FIFO; none == 0
    assert got == ["p20", "p9", "p5a", "p5b", "p1", "p0", "p0b"]


# ---------------------------------------------------------------- direct reply-to


def test_direct_reply_to_rpc(broker, conn, ch):
    server_conn = broker.connect()
    server = server_conn.channel()
    rpc_q = broker.queue("rpc")
    server.queue_declare(rpc_q)

    replies = []
    ch.basic_consume(
        "amq.rabbitmq.reply-to", lambda c, m, p, b: replies.append((p, b)), auto_ack=True
    )
    ch.basic_publish(
        "",
        rpc_q,
        b"2+3",
        pika.BasicProperties(reply_to="amq.rabbitmq.reply-to", correlation_id="c-1"),
    )
    method, props, body = get_wait(server, rpc_q)
    assert body == b"2+3"
    assert props.reply_to.startswith("amq.rabbitmq.reply-to.")  # rewritten per channel
    assert props.correlation_id == "c-1"
    server.basic_publish(
        "", props.reply_to, b"5", pika.BasicProperties(correlation_id=props.correlation_id)
    )
    pump(conn, lambda: replies)
    reply_props, reply_body = replies[0]
    assert reply_body == b"5" and reply_props.correlation_id == "c-1"


def test_direct_reply_to_needs_no_ack_consumer(conn, ch):
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        ch.basic_consume("amq.rabbitmq.reply-to", lambda *a: None, auto_ack=False)
    closed_with(excinfo, 406)
    ch = conn.channel()
    ch.basic_publish("", "x", b"?", pika.BasicProperties(reply_to="amq.rabbitmq.reply-to"))
    with pytest.raises(ChannelClosedByBroker) as excinfo:
        ch.queue_declare("", exclusive=True)
    closed_with(excinfo, 406)
