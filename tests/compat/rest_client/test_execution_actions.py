"""ExecutionsClient.update (PATCH, what the workflow runner reports) and
ExecutionsClient.cancel (cancel / force-cancel actions) (cloudify-api.md 1.4
Executions, traps 1, 2)."""

import pytest
from cloudify_rest_client.executions import Execution

from .support import EXECUTION_FIELDS, client_error, deploy, runnable_path

pytestmark = pytest.mark.timeout(60)

BLUEPRINT = "hello-web"
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def execution(client):
    """The create_deployment_environment execution of a fresh deployment."""
    client.blueprints.upload(runnable_path(BLUEPRINT), BLUEPRINT)
    deploy(client, BLUEPRINT, "act-dep")
    [ex] = client.executions.list(deployment_id="act-dep")
    assert ex.status == Execution.TERMINATED
    return ex


@pytest.fixture
def ex_id(client, execution):
    """The execution's id; it is terminated again after each test."""
    yield execution.id
    client.executions.update(execution.id, Execution.TERMINATED)


def check_same_execution(updated, original, status, error):
    assert isinstance(updated, Execution)
    assert set(updated) == EXECUTION_FIELDS
    assert (updated.status, updated.error) == (status, error)
    # nothing but status and error changes
    unchanged = EXECUTION_FIELDS - {"status", "error"}
    assert {k: updated[k] for k in unchanged} == {k: original[k] for k in unchanged}


def test_update_sets_status_and_error(client, execution, ex_id):
    failed = client.executions.update(ex_id, Execution.FAILED, "Traceback (most recent call last): boom")
    check_same_execution(failed, execution, "failed", "Traceback (most recent call last): boom")
    assert client.executions.get(ex_id) == failed
    # without an error the client sends none; the stored error becomes ""
    started = client.executions.update(ex_id, Execution.STARTED)
    check_same_execution(started, execution, "started", "")
    assert client.executions.get(ex_id).status == "started"


def test_update_does_not_validate_the_status(client, execution, ex_id):
    odd = client.executions.update(ex_id, "half-done")
    assert odd.status == "half-done"
    assert client.executions.get(ex_id).status == "half-done"


def test_cancel_of_an_ended_execution_is_illegal(client, execution, ex_id):
    for force, action in ((False, "cancel"), (True, "force-cancel")):
        with client_error(400, "illegal_action_error") as info:
            client.executions.cancel(ex_id, force=force)
        assert info.value.args[0] == f"Can't {action} execution {ex_id} because it's in status terminated"
    assert client.executions.get(ex_id).status == "terminated"


def test_cancel_then_force_cancel_a_started_execution(client, execution, ex_id):
    client.executions.update(ex_id, Execution.STARTED)
    cancelling = client.executions.cancel(ex_id)
    check_same_execution(cancelling, execution, Execution.CANCELLING, "")
    assert client.executions.get(ex_id).status == "cancelling"
    # cancel is allowed from pending/started only; force-cancel also from cancelling
    with client_error(400, "illegal_action_error") as info:
        client.executions.cancel(ex_id)
    assert "cancelling" in info.value.args[0]
    forced = client.executions.cancel(ex_id, force=True)
    check_same_execution(forced, execution, Execution.FORCE_CANCELLING, "")
    for force in (False, True):
        with client_error(400, "illegal_action_error"):
            client.executions.cancel(ex_id, force=force)
    # the runner then reports the end
    assert client.executions.update(ex_id, Execution.CANCELLED).status == "cancelled"
    with client_error(400, "illegal_action_error"):
        client.executions.cancel(ex_id)


def test_force_cancel_a_pending_execution(client, execution, ex_id):
    client.executions.update(ex_id, Execution.PENDING)
    assert client.executions.cancel(ex_id, force=True).status == "force_cancelling"


def test_cancel_a_pending_execution(client, execution, ex_id):
    client.executions.update(ex_id, Execution.PENDING)
    assert client.executions.cancel(ex_id).status == "cancelling"


def test_unknown_action_is_a_bad_parameter(client, execution, ex_id):
    client.executions.update(ex_id, Execution.STARTED)
    with client_error(400, "bad_parameters_error"):
        client._client.post(f"/executions/{ex_id}", data={"action": "pause"})
    assert client.executions.get(ex_id).status == "started"


def test_a_missing_execution(client, execution):
    with client_error(404, "not_found_error") as info:
        client.executions.update(MISSING, Execution.STARTED)
    assert info.value.args[0] == f"execution {MISSING} not found"
    with client_error(404, "not_found_error"):
        client.executions.cancel(MISSING)
