"""ExecutionsClient: the create_deployment_environment execution that deployment
creation starts, get/list, and starting a workflow (cloudify-api.md 1.3 Execution, 1.4 Executions, trap 10)."""

import time
import uuid

import pytest
from cloudify_rest_client.executions import Execution

from .support import (
    EXECUTION_FIELDS,
    RUNNABLE,
    TIMESTAMP,
    client_error,
    deploy,
    runnable_path,
)

pytestmark = pytest.mark.timeout(60)

BLUEPRINT = "hello-web"


@pytest.fixture(scope="module")
def deployment(client):
    assert BLUEPRINT in RUNNABLE
    client.blueprints.upload(runnable_path(BLUEPRINT), BLUEPRINT)
    deploy(client, BLUEPRINT, "ex-dep")
    return "ex-dep"


def check_execution(ex, deployment_id):
    assert set(ex) == EXECUTION_FIELDS
    assert isinstance(ex.id, str) and uuid.UUID(ex.id).version == 4
    assert ex.deployment_id == deployment_id
    assert ex["blueprint_id"] == BLUEPRINT
    assert TIMESTAMP.match(ex.created_at), ex.created_at
    assert isinstance(ex.is_system_workflow, bool)
    assert isinstance(ex.parameters, dict)
    assert not [k for k in ex.parameters if k.startswith("__")]


def test_deployment_creation_ran_create_deployment_environment(client, deployment):
    executions = client.executions.list(deployment_id=deployment)
    assert len(executions) == 1
    [ex] = executions
    check_execution(ex, deployment)
    assert ex.workflow_id == "create_deployment_environment"
    # stored as a non-system workflow, so it shows in the default list (trap 10)
    assert ex.is_system_workflow is False
    assert ex.status == Execution.TERMINATED
    assert ex.error == ""
    assert {"deployment_plugins_to_install", "workflow_plugins_to_install", "policy_configuration"} <= set(
        ex.parameters
    )
    assert executions.metadata.pagination.total == 1


def test_get_returns_the_listed_execution(client, deployment):
    [listed] = client.executions.list(deployment_id=deployment)
    got = client.executions.get(listed.id)
    check_execution(got, deployment)
    assert got == listed
    projected = client.executions.get(listed.id, _include=["id", "status"])
    assert dict(projected) == {"id": listed.id, "status": "terminated"}


def test_list_without_deployment_and_with_system_workflows(client, deployment):
    everything = client.executions.list()
    assert deployment in {e.deployment_id for e in everything}
    assert everything.metadata.pagination.total == len(everything.items)
    with_system = client.executions.list(deployment_id=deployment, include_system_workflows=True)
    assert [e.id for e in with_system] == [e.id for e in client.executions.list(deployment_id=deployment)]
    by_workflow = client.executions.list(workflow_id="create_deployment_environment", deployment_id=deployment)
    assert len(by_workflow) == 1
    assert len(client.executions.list(workflow_id="install", deployment_id=deployment)) == 0


def test_list_for_a_missing_deployment_is_not_found(client, deployment):
    with client_error(404, "not_found_error"):
        client.executions.list(deployment_id="no-such-dep")


def test_get_of_a_missing_execution_is_not_found(client, deployment):
    missing = str(uuid.uuid4())
    with client_error(404, "not_found_error") as info:
        client.executions.get(missing)
    assert info.value.args[0] == f"execution {missing} not found"


def test_start_uninstall_runs_to_terminated(client, deployment):
    """The engine runs hello-web's uninstall (its stop and delete scripts find
    nothing to remove): the execution ends `terminated` and every instance is
    `deleted`. (install would start a web server on a fixed port.)"""
    ex = client.executions.start(deployment, "uninstall")
    check_execution(ex, deployment)
    assert (ex.workflow_id, ex.status) == ("uninstall", "pending")
    for _ in range(400):
        ex = client.executions.get(ex.id)
        if ex.status in Execution.END_STATES:
            break
        time.sleep(0.05)
    assert ex.status == Execution.TERMINATED, ex
    assert all(i.state == "deleted" for i in client.node_instances.list(deployment_id=deployment))
    for e in client.executions.list(deployment_id=deployment):
        assert e.status in Execution.END_STATES, e


def test_start_of_an_unknown_workflow(client, deployment):
    with client_error(400, "nonexistent_workflow_error") as info:
        client.executions.start(deployment, "no_such_workflow")
    assert "no_such_workflow" in info.value.args[0]
    assert deployment in info.value.args[0]


def test_start_on_a_missing_deployment(client, deployment):
    with client_error(404, "not_found_error") as info:
        client.executions.start("no-such-dep", "install")
    assert info.value.args[0] == "deployment no-such-dep not found"

