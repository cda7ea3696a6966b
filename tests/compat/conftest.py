"""Starts the real cfyd binary on free ports for each test module.

AMQP suites take the broker from the `amqp_url` fixture: cfyd's "amqp" listener by
default, or, when COMPAT_AMQP_PORT is set, whatever broker listens on that port of
127.0.0.1 (cfyd is then not started at all). That is how the suites themselves are
checked against a real RabbitMQ (see rabbitmq-node.sh):

    tests/compat/rabbitmq-node.sh start /tmp/rmq 5699
    COMPAT_AMQP_PORT=5699 target/compat-venv/bin/python -m pytest -q -p no:cacheprovider \
        tests/compat -k 'amqp or celery or kombu'
    tests/compat/rabbitmq-node.sh stop /tmp/rmq
"""

import json
import os
import pathlib
import signal
import subprocess
import tempfile
import time

import pytest

READY_TIMEOUT_S = 30
# Every test gets this many seconds unless it sets its own @pytest.mark.timeout:
# a hung broker must fail the test, never hang the run.
DEFAULT_TEST_TIMEOUT_S = 120
AMQP_USER = "guest"
AMQP_PASSWORD = "guest"


def external_amqp_port():
    """The COMPAT_AMQP_PORT override as an int, or None when cfyd is the broker."""
    value = os.environ.get("COMPAT_AMQP_PORT", "").strip()
    if not value:
        return None
    port = int(value)
    if not 0 < port < 65536:
        raise ValueError(f"COMPAT_AMQP_PORT={value!r} is not a port")
    return port


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TEST_TIMEOUT_S))


class Cfyd:
    def __init__(self, binary, extra_args=()):
        self._tmp = tempfile.TemporaryDirectory(prefix="cfyd-compat-")
        self.data_dir = pathlib.Path(self._tmp.name) / "data"
        self.log_path = pathlib.Path(self._tmp.name) / "cfyd.log"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [binary, "serve", "--ephemeral-ports", "--data-dir", str(self.data_dir), *extra_args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        self.ports = self._wait_ready()

    def _wait_ready(self):
        ports_file = self.data_dir / "ports.json"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if ports_file.exists():
                try:
                    return json.loads(ports_file.read_text())
                except ValueError:
                    pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"cfyd exited early:\n{self.log()}")
            time.sleep(0.01)
        raise RuntimeError(f"cfyd not ready:\n{self.log()}")

    def url(self, listener, path):
        return f"http://127.0.0.1:{self.ports[listener]}{path}"

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._tmp.cleanup()


@pytest.fixture(scope="module")
def cfyd():
    if external_amqp_port() is not None:
        pytest.skip("COMPAT_AMQP_PORT is set: only the AMQP suites run, against that broker")
    binary = os.environ.get("COMPAT_CFYD_BIN")
    if not binary:
        pytest.fail("COMPAT_CFYD_BIN is not set: run the suites through tests/compat/run")
    instance = Cfyd(binary)
    try:
        yield instance
    finally:
        instance.stop()


class AmqpUrl(str):
    """`amqp://guest:guest@127.0.0.1:<port>/%2F`, with the parts as attributes."""

    def __new__(cls, port):
        url = super().__new__(cls, f"amqp://{AMQP_USER}:{AMQP_PASSWORD}@127.0.0.1:{port}/%2F")
        url.host = "127.0.0.1"
        url.port = port
        url.user = AMQP_USER
        url.password = AMQP_PASSWORD
        url.vhost = "/"
        return url

    def with_credentials(self, user, password):
        return f"amqp://{user}:{password}@{self.host}:{self.port}/%2F"


@pytest.fixture(scope="module")
def amqp_url(request):
    """The broker under test: cfyd's "amqp" listener, or COMPAT_AMQP_PORT on 127.0.0.1."""
    port = external_amqp_port()
    if port is None:
        instance = request.getfixturevalue("cfyd")
        if "amqp" not in instance.ports:
            pytest.fail(f"cfyd has no 'amqp' listener in ports.json: {instance.ports}")
        port = instance.ports["amqp"]
    return AmqpUrl(port)
