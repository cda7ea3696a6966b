"""The error envelope as the client reads it: every CloudifyClientError carries
status_code, error_code, message and server_traceback, and the client picks its
typed exception by error_code (cloudify-api.md 1.1, 1.2, traps 2 and 12)."""

import pytest
from cloudify_rest_client.exceptions import NoSuchIncludeFieldError

from .support import client_error, deploy, runnable_path

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def deployment(client):
    client.blueprints.upload(runnable_path("hello-web"), "hello-web")
    deploy(client, "hello-web", "err-dep")
    return "err-dep"


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.blueprints.get("hello-web", _include=["id", "nope"]),
        lambda c: c.blueprints.list(_include=["nope"]),
        lambda c: c.deployments.get("err-dep", _include=["nope"]),
        lambda c: c.executions.list(deployment_id="err-dep", _include=["nope"]),
        lambda c: c.nodes.list(deployment_id="err-dep", _include=["nope"]),
        lambda c: c.node_instances.list(deployment_id="err-dep", _include=["nope"]),
    ],
    ids=["blueprint", "blueprints", "deployment", "executions", "nodes", "node_instances"],
)
def test_unknown_include_field(client, deployment, call):
    with client_error(400, "no_such_include_field_error") as info:
        call(client)
    assert isinstance(info.value, NoSuchIncludeFieldError)
    assert "nope" in info.value.args[0]


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.blueprints.list(nope="x"),
        lambda c: c.deployments.list(nope="x"),
        lambda c: c.executions.list(nope="x"),
        lambda c: c.nodes.list(deployment_id="err-dep", nope="x"),
        lambda c: c.node_instances.list(deployment_id="err-dep", nope="x"),
    ],
    ids=["blueprints", "deployments", "executions", "nodes", "node_instances"],
)
def test_unknown_filter_key(client, deployment, call):
    with client_error(400, "bad_parameters_error") as info:
        call(client)
    assert "nope" in info.value.args[0]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda c: c.blueprints.get("nothing"), "blueprint nothing not found"),
        (lambda c: c.blueprints.delete("nothing"), "blueprint nothing not found"),
        (lambda c: c.deployments.get("nothing"), "deployment nothing not found"),
        (lambda c: c.deployments.outputs.get("nothing"), "deployment nothing not found"),
        (lambda c: c.node_instances.get("nothing_12345"), "node_instance nothing_12345 not found"),
        (
            lambda c: c.executions.get("00000000-0000-4000-8000-000000000000"),
            "execution 00000000-0000-4000-8000-000000000000 not found",
        ),
    ],
    ids=["blueprint", "blueprint-delete", "deployment", "outputs", "node_instance", "execution"],
)
def test_not_found_messages(client, deployment, call, message):
    with client_error(404, "not_found_error") as info:
        call(client)
    assert info.value.args[0] == message
    # str() of the client's error is "<status>: <message>" (needs the shim's .message)
    assert str(info.value) == f"404: {message}"


def test_unknown_path_through_the_client(client):
    with client_error(404, "not_found_error"):
        client._client.get("/nothing-here")
