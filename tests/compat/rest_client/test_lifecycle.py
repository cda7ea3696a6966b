"""The unmodified cloudify-rest-client 3.3.1 drives a whole lifecycle:
upload → deploy → install → runtime properties and outputs → events →
uninstall → delete (issue 7), on the runnable ops-and-inputs and
retry-then-succeed blueprints."""

import time
import uuid

import pytest
from cloudify_rest_client.executions import Execution

from .support import deploy, runnable_path, wait_for_executions

pytestmark = pytest.mark.timeout(120)


def run(client, deployment_id, workflow):
    ex = client.executions.start(deployment_id, workflow)
    assert (ex.workflow_id, ex.status) == (workflow, Execution.PENDING)
    wait_for_executions(client, deployment_id, timeout_s=90)
    return client.executions.get(ex.id)


def test_install_outputs_events_uninstall_delete(client):
    client.manager.create_context("lab", {"cloudify": {"workflows": {"task_retries": 5, "task_retry_interval": 0}}})
    client.blueprints.upload(runnable_path("ops-and-inputs"), "lc-ops")
    dep = "lc-ops-" + uuid.uuid4().hex[:6]
    deploy(client, "lc-ops", dep)

    ex = run(client, dep, "install")
    assert ex.status == Execution.TERMINATED, ex.error
    instances = client.node_instances.list(deployment_id=dep)
    assert {i.state for i in instances} == {"started"}
    store = next(i for i in instances if i.node_id == "store")
    assert store.runtime_properties["item_count"] == 3
    outputs = client.deployments.outputs.get(dep).outputs
    assert outputs["reader_saw"] == 3 and outputs["title"] == "hello, pantry"

    # events reach the index within a second of their publication
    for _ in range(100):
        events, total = client.events.get(ex.id, batch_size=1000, include_logs=True)
        kinds = [e.get("event_type") for e in events if e["type"] == "cloudify_event"]
        if "workflow_succeeded" in kinds:
            break
        time.sleep(0.05)
    assert kinds[0] == "workflow_started" and kinds[-1] == "workflow_succeeded", kinds
    assert "task_succeeded" in kinds
    assert any(e["type"] == "cloudify_log" for e in events)

    ex = run(client, dep, "uninstall")
    assert ex.status == Execution.TERMINATED, ex.error
    assert {i.state for i in client.node_instances.list(deployment_id=dep)} == {"deleted"}
    client.deployments.delete(dep)
    client.blueprints.delete("lc-ops")


def test_retries_until_the_third_attempt(client):
    client.blueprints.upload(runnable_path("retry-then-succeed"), "lc-rts")
    dep = "lc-rts-" + uuid.uuid4().hex[:6]
    deploy(client, "lc-rts", dep)
    ex = run(client, dep, "install")
    assert ex.status == Execution.TERMINATED, ex.error
    assert client.deployments.outputs.get(dep).outputs["configure_attempts"] == "3"
    assert run(client, dep, "uninstall").status == Execution.TERMINATED


def run_with(client, deployment_id, workflow, parameters):
    ex = client.executions.start(deployment_id, workflow, parameters=parameters)
    wait_for_executions(client, deployment_id, timeout_s=90)
    return client.executions.get(ex.id)


def test_scale_execute_operation_heal(client):
    client.blueprints.upload(runnable_path("multi-instance"), "lc-mi")
    dep = "lc-mi-" + uuid.uuid4().hex[:6]
    deploy(client, "lc-mi", dep)
    assert run(client, dep, "install").status == Execution.TERMINATED
    collector = client.node_instances.list(deployment_id=dep, node_id="collector")[0]

    # scale +1 on worker itself (not its Compute host): a fourth worker
    # that the intact collector established its relationship with
    ex = run_with(client, dep, "scale", {"node_id": "worker", "delta": 1, "scale_compute": False})
    assert ex.status == Execution.TERMINATED, ex.error
    workers = client.node_instances.list(deployment_id=dep, node_id="worker")
    assert len(workers) == 4 and {w.state for w in workers} == {"started"}
    assert {w.runtime_properties.get("collected_by") for w in workers} == {collector.id}
    mods = client.deployment_modifications.list(deployment_id=dep)
    assert [m.status for m in mods] == ["finished"]

    # execute_operation on one node's instances only
    ex = run_with(client, dep, "execute_operation",
                  {"operation": "cloudify.interfaces.lifecycle.start", "node_ids": ["worker"]})
    assert ex.status == Execution.TERMINATED, ex.error

    # heal one worker: its host's whole subgraph is reinstalled
    ex = run_with(client, dep, "heal", {"node_instance_id": workers[0].id})
    assert ex.status == Execution.TERMINATED, ex.error
    assert {i.state for i in client.node_instances.list(deployment_id=dep)} == {"started"}

    # scale back in
    ex = run_with(client, dep, "scale", {"node_id": "worker", "delta": -1, "scale_compute": False})
    assert ex.status == Execution.TERMINATED, ex.error
    assert len(client.node_instances.list(deployment_id=dep, node_id="worker")) == 3

    assert run(client, dep, "uninstall").status == Execution.TERMINATED
    client.deployments.delete(dep)
    client.blueprints.delete("lc-mi")
