"""SnapshotsClient: create (a system-wide create_snapshot execution), get, list,
download, update_status, delete, and upload + restore on a second, empty cfyd
(cloudify-api.md 1.3 Snapshot / Execution, 1.4 Snapshots, traps 1, 16)."""

import os
import tarfile
import time
import zipfile

import pytest
from cloudify_rest_client import CloudifyClient
from cloudify_rest_client.executions import Execution
from cloudify_rest_client.snapshots import Snapshot

from .support import (
    EXECUTION_FIELDS,
    SNAPSHOT_FIELDS,
    TIMESTAMP,
    client_error,
    closed_port_url,
    deploy,
    is_uuid4,
    runnable_path,
)

pytestmark = pytest.mark.timeout(90)

BLUEPRINT = "hello-web"
DEPLOYMENT = "snap-dep"
SNAPSHOT = "snap-1"


def wait_for_execution(client, execution_id, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while True:
        ex = client.executions.get(execution_id)
        if ex.status in Execution.END_STATES:
            return ex
        if time.monotonic() > deadline:
            raise AssertionError(f"execution {execution_id} not ended: {dict(ex)}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def populated(client):
    """A blueprint, a deployment and an instance with runtime properties."""
    client.blueprints.upload(runnable_path(BLUEPRINT), BLUEPRINT)
    deploy(client, BLUEPRINT, DEPLOYMENT)
    [web] = client.node_instances.list(deployment_id=DEPLOYMENT, node_id="http_web_server")
    client.node_instances.update(web.id, runtime_properties={"pid": 4242, "port": 18080}, state="started", version=0)
    return DEPLOYMENT


@pytest.fixture(scope="module")
def created(client, populated):
    """The create_snapshot execution of SNAPSHOT, once it has ended."""
    ex = client.snapshots.create(SNAPSHOT, include_metrics=False, include_credentials=True)
    return ex, wait_for_execution(client, ex.id)


def test_create_returns_a_system_wide_execution(client, created):
    ex, ended = created
    assert isinstance(ex, Execution)
    assert set(ex) == EXECUTION_FIELDS
    assert is_uuid4(ex.id), ex.id
    assert ex.workflow_id == "create_snapshot"
    assert ex.deployment_id is None
    assert ex["blueprint_id"] is None
    assert ex.is_system_workflow is True
    assert TIMESTAMP.match(ex.created_at), ex.created_at
    assert ex.status in {Execution.PENDING, Execution.STARTED, Execution.TERMINATED}, ex.status
    assert {"snapshot_id": SNAPSHOT, "include_metrics": False, "include_credentials": True}.items() <= ex.parameters.items()
    assert ended.status == Execution.TERMINATED
    assert ended.error == ""
    # a system workflow: listed only with include_system_workflows
    assert ex.id not in {e.id for e in client.executions.list()}
    assert ex.id in {e.id for e in client.executions.list(include_system_workflows=True)}


def test_create_passes_the_flags_to_the_workflow(client, created):
    ex = client.snapshots.create("snap-flags", include_metrics=True, include_credentials=False)
    try:
        assert ex.parameters["snapshot_id"] == "snap-flags"
        assert (ex.parameters["include_metrics"], ex.parameters["include_credentials"]) == (True, False)
        assert wait_for_execution(client, ex.id).parameters == ex.parameters
    finally:
        wait_for_execution(client, ex.id)
        client.snapshots.delete("snap-flags")


def test_get_and_list(client, created):
    snap = client.snapshots.get(SNAPSHOT)
    assert isinstance(snap, Snapshot)
    assert set(snap) == SNAPSHOT_FIELDS
    assert snap.id == SNAPSHOT
    assert snap.status == "created"
    assert snap.error == ""
    assert TIMESTAMP.match(snap.created_at), snap.created_at
    snapshots = client.snapshots.list()
    assert [s.id for s in snapshots] == [SNAPSHOT]
    assert snapshots[0] == snap
    assert snapshots.metadata.pagination.total == 1
    assert snapshots.metadata.pagination.size == 10000
    assert all(set(s) == {"id"} for s in client.snapshots.list(_include=["id"]))


def test_get_with_include_projects_the_fields(client, created):
    assert dict(client.snapshots.get(SNAPSHOT, _include=["id", "status"])) == {"id": SNAPSHOT, "status": "created"}


def test_list_ignores_filters(client, created):
    # 3.3 ignored filters on snapshots (1.4 Snapshots); paging still applies
    assert [s.id for s in client.snapshots.list(status="no-such-status")] == [SNAPSHOT]
    assert len(client.snapshots.list(_size=0)) == 0


def test_an_existing_id_is_a_conflict(client, created):
    with client_error(409, "conflict_error"):
        client.snapshots.create(SNAPSHOT, False, True)
    assert client.snapshots.get(SNAPSHOT).status == "created"


def test_get_of_a_missing_snapshot(client):
    with client_error(404, "not_found_error") as info:
        client.snapshots.get("nope")
    assert info.value.args[0] == "snapshot nope not found"
    with client_error(404, "not_found_error"):
        client.snapshots.delete("nope")
    with client_error(404, "not_found_error"):
        client.snapshots.restore("nope")


def test_download_is_a_zip_named_after_the_snapshot(client, created, tmp_path, monkeypatch):
    target = tmp_path / "snap.zip"
    assert client.snapshots.download(SNAPSHOT, str(target)) == str(target)
    assert zipfile.is_zipfile(target)
    with zipfile.ZipFile(target) as z:
        assert z.testzip() is None
        assert z.namelist()
    monkeypatch.chdir(tmp_path)
    written = client.snapshots.download(SNAPSHOT, None)
    assert written == f"{SNAPSHOT}.zip"
    assert (tmp_path / written).read_bytes() == target.read_bytes()


def test_running_executions_block_a_snapshot(client, populated, created):
    [env] = client.executions.list(deployment_id=DEPLOYMENT, workflow_id="create_deployment_environment")
    client.executions.update(env.id, "started")
    try:
        with client_error(400, "existing_running_execution_error"):
            client.snapshots.create("blocked", False, True)
        # the record is removed again
        with client_error(404, "not_found_error"):
            client.snapshots.get("blocked")
        assert "blocked" not in {s.id for s in client.snapshots.list()}
    finally:
        client.executions.update(env.id, "terminated")


def test_update_status_sets_status_and_error(client, created):
    ex = client.snapshots.create("snap-status", False, True)
    wait_for_execution(client, ex.id)
    assert client.snapshots.update_status("snap-status", "failed", "disk full") is None
    snap = client.snapshots.get("snap-status")
    assert (snap.status, snap.error) == ("failed", "disk full")
    client.snapshots.update_status("snap-status", "created")
    snap = client.snapshots.get("snap-status")
    assert (snap.status, snap.error) == ("created", "")
    client.snapshots.delete("snap-status")


def test_delete_returns_the_snapshot_and_removes_it(client, created, tmp_path):
    ex = client.snapshots.create("snap-gone", False, True)
    wait_for_execution(client, ex.id)
    before = client.snapshots.get("snap-gone")
    deleted = client.snapshots.delete("snap-gone")
    assert isinstance(deleted, Snapshot)
    assert deleted == before
    with client_error(404, "not_found_error"):
        client.snapshots.get("snap-gone")
    with client_error(404, "not_found_error"):
        client.snapshots.download("snap-gone", str(tmp_path / "gone.zip"))
    with client_error(404, "not_found_error"):
        client.snapshots.delete("snap-gone")
    assert [s.id for s in client.snapshots.list()] == [SNAPSHOT]


def test_an_unreachable_snapshot_url(client, created):
    with client_error(400, "param_url_not_found_error"):
        client.snapshots.upload(closed_port_url("snap.zip"), "from-url")
    with client_error(404, "not_found_error"):
        client.snapshots.get("from-url")


@pytest.fixture(scope="module")
def second(cfyd):
    """Another cfyd, empty, started with the same class as the `cfyd` fixture's."""
    instance = type(cfyd)(os.environ["COMPAT_CFYD_BIN"])
    try:
        yield CloudifyClient(host="127.0.0.1", port=instance.ports["rest"], api_version="v2")
    finally:
        instance.stop()


def test_upload_and_restore_on_another_manager(client, created, second, tmp_path):
    archive = client.snapshots.download(SNAPSHOT, str(tmp_path / "moved.zip"))
    assert len(second.blueprints.list()) == 0

    uploaded = second.snapshots.upload(archive, "moved")
    assert isinstance(uploaded, Snapshot)
    assert set(uploaded) == SNAPSHOT_FIELDS
    assert (uploaded.id, uploaded.status, uploaded.error) == ("moved", "uploaded", "")
    assert TIMESTAMP.match(uploaded.created_at), uploaded.created_at
    assert second.snapshots.get("moved") == uploaded
    assert [s.id for s in second.snapshots.list()] == ["moved"]
    with client_error(409, "conflict_error"):
        second.snapshots.upload(archive, "moved")

    restored = second.snapshots.restore("moved", recreate_deployments_envs=True, force=False)
    # an execution marshalled with the Snapshot fields (trap 16)
    assert set(restored) == SNAPSHOT_FIELDS, dict(restored)
    assert is_uuid4(restored.id), restored.id
    assert TIMESTAMP.match(restored.created_at), restored.created_at
    assert restored.status in {"pending", "started", "terminated"}, restored.status
    ex = wait_for_execution(second, restored.id)
    assert (ex.workflow_id, ex.deployment_id, ex.is_system_workflow, ex.status) == (
        "restore_snapshot", None, True, "terminated")

    # the manager's data came along
    assert second.blueprints.get(BLUEPRINT) == client.blueprints.get(BLUEPRINT)
    assert second.deployments.get(DEPLOYMENT) == client.deployments.get(DEPLOYMENT)
    assert second.deployments.outputs.get(DEPLOYMENT) == client.deployments.outputs.get(DEPLOYMENT)

    def by_id(items):
        return {i["id"]: i for i in items}

    assert by_id(second.nodes.list(deployment_id=DEPLOYMENT)) == by_id(client.nodes.list(deployment_id=DEPLOYMENT))
    assert by_id(second.node_instances.list(deployment_id=DEPLOYMENT)) == by_id(
        client.node_instances.list(deployment_id=DEPLOYMENT))
    [web] = second.node_instances.list(deployment_id=DEPLOYMENT, node_id="http_web_server")
    assert (web.state, web.runtime_properties) == ("started", {"pid": 4242, "port": 18080})
    assert by_id(second.executions.list(deployment_id=DEPLOYMENT)) == by_id(
        client.executions.list(deployment_id=DEPLOYMENT))
    # and the blueprint's files
    target = tmp_path / "bp.tar.gz"
    second.blueprints.download(BLUEPRINT, str(target))
    with tarfile.open(target) as tar:
        assert f"{BLUEPRINT}/blueprint.yaml" in tar.getnames()
    # the restored deployment is usable
    assert second.deployments.delete(DEPLOYMENT, ignore_live_nodes=True).id == DEPLOYMENT
    assert second.blueprints.delete(BLUEPRINT).id == BLUEPRINT


def test_restore_needs_its_two_flags(client, created):
    # recreate_deployments_envs and force are both required keys (1.4 Snapshots)
    for body in ({"force": False}, {"recreate_deployments_envs": True}):
        with client_error(400, "bad_parameters_error"):
            client._client.post(f"/snapshots/{SNAPSHOT}/restore", data=body)
