"""events.get / events.list of cloudify-rest-client 3.3.1 against events
published as 3.3 agents publish them (bare JSON to the queues)."""

import json
import time

import pika
import pytest

pytestmark = pytest.mark.timeout(60)


def publish(cfyd, queue, docs):
    conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", cfyd.ports["amqp"]))
    ch = conn.channel()
    for d in docs:
        ch.basic_publish("", queue, json.dumps(d).encode())
    conn.close()


def event(exec_id, i):
    return {"event_type": "task_succeeded", "type": "cloudify_event", "message_code": None,
            "message": {"text": "Task succeeded 'op%d'" % i, "arguments": None},
            "timestamp": "2015-12-07 14:03:15.004+0000",
            "context": {"execution_id": exec_id, "deployment_id": "d1", "workflow_id": "install"}}


def log(exec_id, level):
    return {"type": "cloudify_log", "level": level, "logger": "task", "message": {"text": level + " line"},
            "timestamp": "2015-12-07 14:03:15.004+0000", "context": {"execution_id": exec_id}}


def wait_for(fn, want):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = fn()
        if got == want:
            return got
        time.sleep(0.05)
    raise AssertionError("timed out: last %r, wanted %r" % (got, want))


def test_events_get_pages_one_execution(cfyd, client):
    publish(cfyd, "cloudify-events", [event("x1", i) for i in range(12)])
    publish(cfyd, "cloudify-logs", [log("x1", "info")])
    publish(cfyd, "cloudify-events", [event("other", 0)])
    wait_for(lambda: client.events.get("x1", batch_size=100, include_logs=True)[1], 13)
    items, total = client.events.get("x1", from_event=0, batch_size=5)
    assert total == 12
    assert [e["message"]["text"] for e in items] == ["Task succeeded 'op%d'" % i for i in range(5)]
    items, total = client.events.get("x1", from_event=10, batch_size=5)
    assert (len(items), total) == (2, 12)
    assert all("@timestamp" in e for e in items)


def test_events_list_filters(cfyd, client):
    publish(cfyd, "cloudify-logs", [log("x2", "error"), log("x2", "info")])
    wait_for(lambda: len(client.events.list(include_logs=True, execution_id="x2")), 2)
    errors = client.events.list(include_logs=True, execution_id="x2", level="error")
    assert [e["level"] for e in errors] == ["error"]
    assert list(client.events.list(include_logs=False, execution_id="x2")) == []
