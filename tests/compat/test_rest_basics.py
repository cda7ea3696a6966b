"""Status and version over plain HTTP, as any 3.3 client reads them."""

import pytest
import requests


@pytest.mark.parametrize("listener", ["rest", "rest_internal"])
@pytest.mark.parametrize("prefix", ["/api/v2", "/api/v1", ""])
def test_version_has_the_3_3_shape(cfyd, listener, prefix):
    resp = requests.get(cfyd.url(listener, f"{prefix}/version"), timeout=10)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert body["version"] == "3.3.1"
    assert set(body) == {"version", "build", "date", "commit"}


@pytest.mark.parametrize("prefix", ["/api/v2", "/api/v1", ""])
def test_status_lists_running_services(cfyd, prefix):
    body = requests.get(cfyd.url("rest", f"{prefix}/status"), timeout=10).json()
    assert body["status"] == "running"
    names = {s["display_name"] for s in body["services"]}
    assert "Manager Rest-Service" in names
    for service in body["services"]:
        for instance in service["instances"]:
            assert instance["state"] == "running"
            assert isinstance(instance["MainPID"], int)


def test_unknown_path_is_a_cloudify_error(cfyd):
    resp = requests.get(cfyd.url("rest", "/api/v2/nothing-here"), timeout=10)
    assert resp.status_code == 404
    body = resp.json()
    assert body["error_code"] == "not_found_error"
    assert {"message", "error_code", "server_traceback"} <= set(body)


def test_logstash_port_accepts_connections(cfyd):
    import socket

    with socket.create_connection(("127.0.0.1", cfyd.ports["logstash"]), timeout=10) as s:
        assert s.recv(1) == b""
