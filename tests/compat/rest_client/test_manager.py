"""ManagerClient: get_version() and get_status() (cloudify-api.md 1.4 Misc)."""

import pytest

pytestmark = pytest.mark.timeout(60)


def test_get_version(cfyd, client):
    assert client._client.url == f"http://127.0.0.1:{cfyd.ports['rest']}/api/v2"
    version = client.manager.get_version()
    assert set(version) == {"version", "build", "date", "commit"}
    assert version["version"] == "3.3.1"
    assert all(isinstance(version[k], str) for k in ("build", "date", "commit"))


def test_get_status(client):
    status = client.manager.get_status()
    assert status["status"] == "running"
    services = status["services"]
    assert isinstance(services, list) and services
    names = set()
    for service in services:
        assert isinstance(service["display_name"], str) and service["display_name"]
        names.add(service["display_name"])
        assert isinstance(service["instances"], list)
        for instance in service["instances"]:
            assert {"Id", "Description", "LoadState", "ActiveState", "SubState", "MainPID", "state"} <= set(instance)
    assert "Manager Rest-Service" in names
