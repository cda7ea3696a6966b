"""ManagerClient: get_version, get_status, get_context, create_context,
update_context, set_global_parallel_executions_limit; TokensClient.get
(cloudify-api.md 1.4 Misc, trap 1)."""

import copy

import pytest

from .support import client_error

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


# Provider context (1.4 Misc): what `cfy bootstrap` stores and agents/workflows read.
PROVIDER_CONTEXT = {
    "cloudify": {
        "transient_deployment_workers_mode": {"enabled": True, "global_parallel_executions_limit": 50},
        "workflows": {"task_retries": -1, "task_retry_interval": 30, "subgraph_retries": 0},
        "cloudify_agent": {"min_workers": 2, "max_workers": 5, "remote_execution_port": 22, "user": "centos"},
        "policy_engine": {"start_timeout": 30},
        "resources_prefix": "",
    },
    "resources": {"management_keypair": {"id": "kp"}},
}


@pytest.fixture(scope="module")
def context_created(client):
    return client.manager.create_context("openstack", PROVIDER_CONTEXT)


def test_create_context_then_get_it(client, context_created):
    assert context_created == {"status": "ok"}
    assert client.manager.get_context() == {"name": "openstack", "context": PROVIDER_CONTEXT}
    assert client.manager.get_context(_include=["name"]) == {"name": "openstack"}


def test_a_second_create_context_is_a_conflict(client, context_created):
    with client_error(409, "conflict_error"):
        client.manager.create_context("other", {"cloudify": {}})
    assert client.manager.get_context()["name"] == "openstack"


def test_update_context_replaces_it(client, context_created):
    changed = copy.deepcopy(PROVIDER_CONTEXT)
    changed["cloudify"]["workflows"]["task_retries"] = 5
    try:
        # update=true answers 200, not 201
        assert client.manager.update_context("openstack-2", changed) == {"status": "ok"}
        assert client.manager.get_context() == {"name": "openstack-2", "context": changed}
    finally:
        client.manager.update_context("openstack", PROVIDER_CONTEXT)
    assert client.manager.get_context()["context"] == PROVIDER_CONTEXT


def limit_of(context):
    return context["cloudify"]["transient_deployment_workers_mode"]["global_parallel_executions_limit"]


def test_set_global_parallel_executions_limit(client, context_created):
    try:
        result = client.manager.set_global_parallel_executions_limit(7)
        # PATCH /provider/context answers the whole ProviderContext
        assert set(result) == {"name", "context"}
        assert result["name"] == "openstack"
        assert limit_of(result["context"]) == 7
        assert limit_of(client.manager.get_context()["context"]) == 7
        assert client.manager.set_global_parallel_executions_limit(-1)["context"] == client.manager.get_context()["context"]
        assert limit_of(client.manager.get_context()["context"]) == -1
        # everything else is kept
        rest = copy.deepcopy(client.manager.get_context()["context"])
        rest["cloudify"]["transient_deployment_workers_mode"]["global_parallel_executions_limit"] = 50
        assert rest == PROVIDER_CONTEXT
    finally:
        client.manager.update_context("openstack", PROVIDER_CONTEXT)


def test_global_parallel_executions_limit_errors(client, context_created):
    with client_error(400, "bad_parameters_error"):
        client.manager.set_global_parallel_executions_limit("seven")
    disabled = copy.deepcopy(PROVIDER_CONTEXT)
    disabled["cloudify"]["transient_deployment_workers_mode"]["enabled"] = False
    client.manager.update_context("openstack", disabled)
    try:
        with client_error(400, "bad_parameters_error"):
            client.manager.set_global_parallel_executions_limit(3)
        assert client.manager.get_context()["context"] == disabled
    finally:
        client.manager.update_context("openstack", PROVIDER_CONTEXT)


def test_tokens_without_security(client):
    """Security is off: 3.3 answers 401 application_not_secured_error (1.2, 1.4 Misc)."""
    with client_error(401, "application_not_secured_error"):
        client.tokens.get()
