"""The broker as kombu (py-amqp transport, what Celery uses) sees it.

Checked against a real RabbitMQ 3.10 (see conftest.py); every wait is bounded.
"""

import datetime
import socket
import time
import uuid

import amqp
import pytest
from kombu import Connection, Consumer, Exchange, Producer, Queue

pytestmark = pytest.mark.timeout(60)

WAIT_S = 10


def name(kind):
    return f"compat.kombu.{kind}.{uuid.uuid4().hex[:12]}"


def connection(amqp_url, **kwargs):
    kwargs.setdefault("connect_timeout", 10)
    return Connection(
        hostname=amqp_url.host,
        port=amqp_url.port,
        userid=kwargs.pop("userid", amqp_url.user),
        password=kwargs.pop("password", amqp_url.password),
        virtual_host="/",
        transport="pyamqp",
        **kwargs,
    )


@pytest.fixture
def conn(amqp_url):
    c = connection(amqp_url)
    c.connect()
    try:
        yield c
    finally:
        c.release()


@pytest.fixture
def cleanup(amqp_url):
    """Register kombu Queue/Exchange objects to delete after the test."""
    entities = []
    yield entities.append
    c = connection(amqp_url)
    try:
        for entity in entities:
            try:
                entity.bind(c.channel()).delete()
            except Exception:
                pass
    finally:
        c.release()


def drain_until(conn, predicate, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    while not predicate():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"condition not met within {timeout}s")
        try:
            conn.drain_events(timeout=min(0.2, remaining))
        except socket.timeout:
            pass


def drain_quiet(conn, seconds=0.5):
    """Deliver anything that is still coming for a short, bounded while."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn.drain_events(timeout=0.1)
        except socket.timeout:
            pass


def test_url_form_connects(amqp_url):
    # The //-vhost URL form that Celery configurations use.
    url = f"pyamqp://guest:guest@127.0.0.1:{amqp_url.port}//"
    with Connection(url, connect_timeout=10) as c:
        c.connect()
        assert c.connected
        assert c.transport.driver_type == "amqp"
        ch = c.channel()
        q = Queue(name("url"), exclusive=True, channel=ch)
        q.declare()
        assert q.name


def test_producer_consumer_direct_exchange(conn, cleanup):
    ex = Exchange(name("direct"), type="direct", durable=False)
    queue = Queue(name("direct-q"), exchange=ex, routing_key="work", durable=False)
    cleanup(queue)
    cleanup(ex)
    got = []

    def on_message(body, message):
        got.append((body, message))
        message.ack()

    with Consumer(conn, queues=[queue], callbacks=[on_message], accept=["json"]):
        producer = Producer(conn.channel())
        for i in range(3):
            producer.publish(
                {"n": i, "text": "héllo"},
                exchange=ex,
                routing_key="work",
                serializer="json",
                correlation_id=f"c{i}",
            )
        producer.publish({"n": 99}, exchange=ex, routing_key="elsewhere", serializer="json")
        drain_until(conn, lambda: len(got) >= 3)
        drain_quiet(conn)
    assert [b for b, _ in got] == [{"n": i, "text": "héllo"} for i in range(3)]
    message = got[0][1]
    assert message.content_type == "application/json"
    assert message.delivery_info["routing_key"] == "work"
    assert message.delivery_info["exchange"] == ex.name
    assert message.properties["correlation_id"] == "c0"
    assert message.acknowledged


def test_producer_consumer_topic_exchange(conn, cleanup):
    ex = Exchange(name("topic"), type="topic", durable=False)
    one = Queue(name("one"), exchange=ex, routing_key="logs.*", durable=False)
    many = Queue(name("many"), exchange=ex, routing_key="logs.#", durable=False)
    for e in (one, many, ex):
        cleanup(e)
    got = {"one": [], "many": []}

    def collector(key):
        def on_message(body, message):
            got[key].append(message.delivery_info["routing_key"])
            message.ack()

        return on_message

    with Consumer(conn, queues=[one], callbacks=[collector("one")], accept=["json"]), Consumer(
        conn, queues=[many], callbacks=[collector("many")], accept=["json"]
    ):
        producer = Producer(conn.channel(), exchange=ex, serializer="json")
        for key in ("logs.info", "logs.app.error", "logs", "metrics.cpu"):
            producer.publish({"k": key}, routing_key=key)
        drain_until(conn, lambda: len(got["one"]) >= 1 and len(got["many"]) >= 3)
        drain_quiet(conn)
    assert got["one"] == ["logs.info"]
    assert got["many"] == ["logs.info", "logs.app.error", "logs"]


def test_simple_queue_put_get(conn, cleanup):
    qname = name("simple")
    sq = conn.SimpleQueue(qname, serializer="json")
    cleanup(Queue(qname))
    cleanup(Exchange(qname))
    try:
        sq.put({"hello": "world"})
        sq.put([1, 2, 3])
        # qsize is a passive declare's message_count (before any consumer exists)
        deadline = time.monotonic() + WAIT_S
        while sq.qsize() != 2:
            assert time.monotonic() < deadline, f"qsize {sq.qsize()} never reached 2"
            time.sleep(0.05)
        msg = sq.get(block=True, timeout=WAIT_S)
        assert msg.payload == {"hello": "world"}
        msg.ack()
        msg = sq.get(block=True, timeout=WAIT_S)
        assert msg.payload == [1, 2, 3]
        msg.ack()
        with pytest.raises(sq.Empty):
            sq.get(block=True, timeout=0.5)
        sq.put("again")
        msg = sq.get(block=True, timeout=WAIT_S)
        assert msg.payload == "again"
        msg.requeue()  # reject with requeue: comes back redelivered
        msg = sq.get(block=True, timeout=WAIT_S)
        assert msg.payload == "again" and msg.delivery_info["redelivered"]
        msg.ack()
    finally:
        sq.close()


def celery_style_headers():
    task_id = str(uuid.uuid4())
    return {
        "lang": "py",
        "task": "tasks.add",
        "id": task_id,
        "shadow": None,
        "eta": None,
        "expires": None,
        "group": None,
        "group_index": None,
        "retries": 0,
        "timelimit": [None, None],
        "root_id": task_id,
        "parent_id": None,
        "argsrepr": "(2, 3)",
        "kwargsrepr": "{}",
        "origin": "gen123@host",
        "ignore_result": False,
        "replaced_task_nesting": 0,
        "stamped_headers": None,
        "stamps": {},
        "nested": [[1, None, "x"], [None, [None, {"deep": [None]}]], []],
        "float": 1.5,
        "negative": -7,
        "big": 2**40,
        "when": datetime.datetime(2026, 1, 2, 3, 4, 5),
        "unicode": "ünïcødé ✓",
    }


def test_celery_style_headers_round_trip_unchanged(conn, cleanup):
    queue = Queue(name("headers"), durable=False)
    cleanup(queue)
    headers = celery_style_headers()
    got = []

    def on_message(body, message):
        got.append(message)
        message.ack()

    with Consumer(conn, queues=[queue], callbacks=[on_message], accept=["json"]):
        Producer(conn.channel()).publish(
            [[2, 3], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}],
            routing_key=queue.name,
            serializer="json",
            headers=headers,
            delivery_mode=2,
            priority=0,
            correlation_id=headers["id"],
            reply_to="some-oid",
        )
        drain_until(conn, lambda: got)
    message = got[0]
    assert message.headers == headers
    assert message.payload[0] == [2, 3]
    assert message.properties["correlation_id"] == headers["id"]
    assert message.properties["reply_to"] == "some-oid"
    assert message.properties["delivery_mode"] == 2


def test_amqplain_login(amqp_url, cleanup):
    with connection(amqp_url, login_method="AMQPLAIN") as c:
        c.connect()
        assert c.connected
        # py-amqp picked AMQPLAIN (the only mechanism it was given)
        mechanisms = [m.mechanism for m in c.connection.authentication]
        assert mechanisms == [b"AMQPLAIN"]
        qname = name("amqplain")
        cleanup(Queue(qname))
        cleanup(Exchange(qname))
        sq = c.SimpleQueue(qname)
        try:
            sq.put({"via": "amqplain"})
            msg = sq.get(block=True, timeout=WAIT_S)
            assert msg.payload == {"via": "amqplain"}
            msg.ack()
        finally:
            sq.close()


@pytest.mark.parametrize("login_method", ["PLAIN", "AMQPLAIN"])
def test_bad_password_is_refused(amqp_url, login_method):
    c = connection(amqp_url, password="wrong", login_method=login_method)
    try:
        with pytest.raises(amqp.exceptions.AccessRefused) as excinfo:
            c.connection.connect()  # the raw py-amqp connect: no kombu retry loop
        assert excinfo.value.reply_code == 403
    finally:
        c.release()
