"""A real Celery 5 worker and client over the broker under test (rpc:// results).

The worker is a subprocess (`celery worker --pool=solo`) started once per module from
a tasks module written into a temp dir; its startup is bounded by polling its log for
"ready.", and it is stopped by pid (TERM, then KILL) at the end. Every wait is bounded.
"""

import importlib.util
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid

import pytest

pytestmark = pytest.mark.timeout(180)

WORKER_READY_TIMEOUT_S = 60
WORKER_STOP_TIMEOUT_S = 20

TASKS_MODULE = """\
from celery import Celery

app = Celery("{module}", broker={broker!r}, backend="rpc://")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_default_queue={queue!r},
    broker_connection_retry_on_startup=True,
    broker_connection_max_retries=3,
    broker_connection_timeout=10,
    worker_hijack_root_logger=False,
)


@app.task
def add(x, y):
    return x + y


@app.task
def echo_headers():
    return "ok"
"""


class Worker:
    def __init__(self, broker_url):
        self.tmp = tempfile.TemporaryDirectory(prefix="cfyd-celery-")
        self.dir = pathlib.Path(self.tmp.name)
        suffix = uuid.uuid4().hex[:10]
        self.module = f"compat_celery_tasks_{suffix}"
        self.queue = f"compat.celery.{suffix}"
        self.node = f"compat-{suffix}@localhost"
        source = TASKS_MODULE.format(module=self.module, broker=broker_url, queue=self.queue)
        (self.dir / f"{self.module}.py").write_text(source)
        self.log_path = self.dir / "worker.log"
        env = dict(os.environ, PYTHONPATH=str(self.dir), PYTHONUNBUFFERED="1")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    self.module,
                    "worker",
                    "--loglevel=INFO",
                    "--pool=solo",
                    "-n",
                    self.node,
                    "-E",
                ],
                cwd=self.dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_ready(self):
        deadline = time.monotonic() + WORKER_READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if f"{self.node} ready." in self.log():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"celery worker exited early:\n{self.log()}")
            time.sleep(0.1)
        raise RuntimeError(f"celery worker not ready in {WORKER_READY_TIMEOUT_S}s:\n{self.log()}")

    def load_tasks(self):
        spec = importlib.util.spec_from_file_location(self.module, self.dir / f"{self.module}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)  # warm shutdown
            try:
                self.proc.wait(timeout=WORKER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=WORKER_STOP_TIMEOUT_S)

    def cleanup(self):
        self.tmp.cleanup()


@pytest.fixture(scope="module")
def celery_env(amqp_url):
    broker_url = f"amqp://{amqp_url.user}:{amqp_url.password}@{amqp_url.host}:{amqp_url.port}//"
    worker = Worker(broker_url)
    tasks = None
    try:
        worker.wait_ready()
        tasks = worker.load_tasks()
        yield worker, tasks
    finally:
        worker.stop()
        if tasks is not None:
            _delete_task_queue(tasks.app, worker.queue)
            tasks.app.close()
        worker.cleanup()


def _delete_task_queue(app, queue):
    # The durable task queue and its exchange (named after it) outlive the worker.
    try:
        with app.connection_for_write() as conn:
            channel = conn.channel()
            channel.queue_delete(queue)
            channel.exchange_delete(queue)
            channel.close()
    except Exception as e:  # cleanup only: never hide the test's own result
        print(f"could not delete celery queue {queue}: {e!r}", file=sys.stderr)


def test_worker_connected_to_the_broker(celery_env):
    worker, _ = celery_env
    log = worker.log()
    assert "Connected to amqp://guest:**@127.0.0.1:" in log
    assert "mingle: all alone" in log or "mingle: sync complete" in log


def test_add_delay_get(celery_env):
    _, tasks = celery_env
    result = tasks.add.delay(2, 3)
    assert result.get(timeout=30) == 5
    assert result.successful()


def test_group_of_20(celery_env):
    from celery import group

    _, tasks = celery_env
    job = group(tasks.add.s(i, i) for i in range(20))()
    assert job.get(timeout=60) == [2 * i for i in range(20)]


def test_inspect_ping_gets_pong(celery_env):
    worker, tasks = celery_env
    replies = tasks.app.control.inspect(timeout=5, destination=[worker.node]).ping()
    assert replies == {worker.node: {"ok": "pong"}}


def test_inspect_active_queues_shows_the_task_queue(celery_env):
    worker, tasks = celery_env
    replies = tasks.app.control.inspect(timeout=5, destination=[worker.node]).active_queues()
    assert replies and worker.node in replies
    names = {q["name"] for q in replies[worker.node]}
    assert worker.queue in names
