"""NodesClient and NodeInstancesClient: the nodes and instances a deployment
creates, and optimistic-concurrency updates of instances (cloudify-api.md 1.3
Node / NodeInstance, 1.4 Nodes / node instances, 2.10, traps 5, 6, 14)."""

import pytest

from .support import (
    IGNORE_NODE_ID_DEPRECATION,
    NODE_FIELDS,
    NODE_INSTANCE_FIELDS,
    OPERATION_FIELDS,
    client_error,
    deploy,
    instance_id_pattern,
    runnable_path,
    runnable_yaml,
)

pytestmark = [pytest.mark.timeout(60), IGNORE_NODE_ID_DEPRECATION]

ROOT = "cloudify.nodes.Root"
HIERARCHY = {
    "hello-web": {
        "host": [ROOT, "cloudify.nodes.Compute"],
        "http_web_server": [ROOT, "cloudify.nodes.SoftwareComponent", "cloudify.nodes.WebServer"],
    },
    "multi-instance": {
        "host": [ROOT, "cloudify.nodes.Compute"],
        "worker": [ROOT, "cloudify.nodes.SoftwareComponent", "local.nodes.Worker"],
        "collector": [ROOT, "cloudify.nodes.SoftwareComponent"],
    },
}
COUNTS = {"hello-web": {"host": 1, "http_web_server": 1}, "multi-instance": {"host": 1, "worker": 3, "collector": 1}}


def workers(client, dep):
    return sorted(client.node_instances.list(deployment_id=dep, node_id="worker"), key=lambda i: i.id)


@pytest.fixture(scope="module")
def deployments(client):
    for name in HIERARCHY:
        client.blueprints.upload(runnable_path(name), name)
        deploy(client, name, f"n-{name}")
    return {name: f"n-{name}" for name in HIERARCHY}


@pytest.mark.parametrize("name", sorted(HIERARCHY))
def test_nodes_list(client, deployments, name):
    dep = deployments[name]
    nodes = {n.id: n for n in client.nodes.list(deployment_id=dep)}
    assert set(nodes) == set(runnable_yaml(name)["node_templates"])
    for node_id, node in nodes.items():
        assert NODE_FIELDS <= set(node), NODE_FIELDS - set(node)
        assert node.deployment_id == dep
        assert node.blueprint_id == name
        assert node.type == HIERARCHY[name][node_id][-1]
        assert node.type_hierarchy == HIERARCHY[name][node_id]
        # instance counts are strings on the wire; the client converts them
        count = str(COUNTS[name][node_id])
        assert node["number_of_instances"] == count
        assert node["planned_number_of_instances"] == count
        assert node["deploy_number_of_instances"] == count
        assert node.number_of_instances == COUNTS[name][node_id]
        # node level host_id: the host *node*'s name
        assert node.host_id == "host"


def test_node_operations_and_relationships(client, deployments):
    web = client.nodes.get(deployments["hello-web"], "http_web_server")
    assert web.properties["port"] == 18080  # get_input resolved
    for op_name in ("configure", "cloudify.interfaces.lifecycle.configure"):
        op = web.operations[op_name]
        assert set(op) == OPERATION_FIELDS
        assert op["plugin"] == "script"
        assert op["operation"] == "script_runner.tasks.run"
        assert op["inputs"] == {"script_path": "scripts/configure.sh"}
        assert op["executor"] == "host_agent"
        assert op["has_intrinsic_functions"] is False
    [rel] = web.relationships
    assert rel["target_id"] == "host"
    assert rel["type"] == "cloudify.relationships.contained_in"
    assert rel["type_hierarchy"][-1] == "cloudify.relationships.contained_in"
    assert {"target_id", "type", "type_hierarchy", "properties", "source_operations", "target_operations"} <= set(rel)
    assert client.nodes.get(deployments["hello-web"], "host").relationships == []


def test_nodes_get_and_filters(client, deployments):
    dep = deployments["multi-instance"]
    worker = client.nodes.get(dep, "worker")
    assert worker.id == "worker" and worker.deployment_id == dep
    assert worker.properties["role"] == "batch"  # get_input default
    assert client.nodes.get(dep, "no-such-node") is None
    by_id = client.nodes.list(deployment_id=dep, id="collector")
    assert [n.id for n in by_id] == ["collector"]
    projected = client.nodes.list(deployment_id=dep, _include=["id", "number_of_instances"])
    assert {n.id: dict(n) for n in projected} == {
        n: {"id": n, "number_of_instances": str(c)} for n, c in COUNTS["multi-instance"].items()
    }
    assert len(client.nodes.list(deployment_id="no-such-dep")) == 0


@pytest.mark.parametrize("name", sorted(HIERARCHY))
def test_node_instances_list(client, deployments, name):
    dep = deployments[name]
    instances = client.node_instances.list(deployment_id=dep)
    by_node = {}
    for inst in instances:
        assert set(inst) == NODE_INSTANCE_FIELDS
        assert instance_id_pattern(inst.node_id).match(inst.id), inst.id
        assert inst.deployment_id == dep
        assert inst.state == "uninitialized"
        assert inst.runtime_properties == {}
        assert inst.version is None  # null in list responses (trap 6)
        by_node.setdefault(inst.node_id, []).append(inst)
    assert {n: len(v) for n, v in by_node.items()} == COUNTS[name]
    assert len({i.id for i in instances}) == len(instances.items)
    assert instances.metadata.pagination.total == len(instances.items)
    [host] = by_node["host"]
    assert host.host_id == host.id
    assert host.relationships == []
    for node_id, group in by_node.items():
        for inst in group:
            # instance level host_id: the host *instance* id (trap 14)
            assert inst.host_id == host.id
            if node_id != "host":
                assert {"type": "cloudify.relationships.contained_in", "target_name": "host", "target_id": host.id} in (
                    inst.relationships
                )


def test_connected_to_all_instances(client, deployments):
    dep = deployments["multi-instance"]
    workers = {i.id for i in client.node_instances.list(deployment_id=dep, node_id="worker")}
    assert len(workers) == 3
    [collector] = client.node_instances.list(deployment_id=dep, node_id="collector")
    connected = [r for r in collector.relationships if r["type"] == "cloudify.relationships.connected_to"]
    assert {r["target_id"] for r in connected} == workers
    assert all(r["target_name"] == "worker" for r in connected)
    assert len(collector.relationships) == 4
    for rel in collector.relationships:
        assert set(rel) == {"type", "target_name", "target_id"}


def test_node_instance_get_has_an_int_version(client, deployments):
    dep = deployments["hello-web"]
    [listed] = client.node_instances.list(deployment_id=dep, node_id="http_web_server")
    got = client.node_instances.get(listed.id)
    assert set(got) == NODE_INSTANCE_FIELDS
    assert isinstance(got.version, int) and not isinstance(got.version, bool)
    assert got.version == 1  # storage revision after creation
    assert {k: v for k, v in got.items() if k != "version"} == {k: v for k, v in listed.items() if k != "version"}
    projected = client.node_instances.get(listed.id, _include=["id", "state"])
    assert dict(projected) == {"id": listed.id, "state": "uninitialized"}


def test_node_instance_update_bumps_the_version(client, deployments):
    dep = deployments["multi-instance"]
    inst = workers(client, dep)[0]
    current = client.node_instances.get(inst.id)
    updated = client.node_instances.update(
        inst.id, state="started", runtime_properties={"port": 8080, "tags": ["a", "b"]}, version=current.version
    )
    assert set(updated) == NODE_INSTANCE_FIELDS
    assert updated.id == inst.id
    assert updated.state == "started"
    assert updated.runtime_properties == {"port": 8080, "tags": ["a", "b"]}
    assert updated.version == current.version + 1
    assert client.node_instances.get(inst.id) == updated
    # the list shows the new state but still no version
    [listed] = [i for i in client.node_instances.list(deployment_id=dep) if i.id == inst.id]
    assert listed.state == "started" and listed.version is None


def test_stale_version_is_a_conflict(client, deployments):
    dep = deployments["multi-instance"]
    inst = workers(client, dep)[1]
    v = client.node_instances.get(inst.id).version
    client.node_instances.update(inst.id, state="creating", version=v)
    with client_error(409, "conflict_error") as info:
        client.node_instances.update(inst.id, state="created", runtime_properties={"x": 1}, version=v)
    assert info.value.args[0] == f"Node instance update conflict [current_version={v + 1}, updated_version={v}]"
    after = client.node_instances.get(inst.id)
    assert (after.state, after.runtime_properties, after.version) == ("creating", {}, v + 1)


def test_version_zero_skips_the_check(client, deployments):
    dep = deployments["multi-instance"]
    inst = workers(client, dep)[2]
    v = client.node_instances.get(inst.id).version
    client.node_instances.update(inst.id, runtime_properties={"a": 1}, version=v)
    updated = client.node_instances.update(inst.id, state="configured", version=0)
    assert updated.state == "configured"
    assert updated.version == v + 2
    assert updated.runtime_properties == {"a": 1}  # absent runtime_properties: untouched


def test_runtime_properties_replace_the_whole_map(client, deployments):
    dep = deployments["hello-web"]
    [inst] = client.node_instances.list(deployment_id=dep, node_id="host")
    client.node_instances.update(inst.id, runtime_properties={"a": 1, "b": {"c": 2}})
    replaced = client.node_instances.update(inst.id, runtime_properties={"d": 3})
    assert replaced.runtime_properties == {"d": 3}
    assert client.node_instances.get(inst.id).runtime_properties == {"d": 3}
    assert replaced.state == "uninitialized"  # absent state: untouched
    emptied = client.node_instances.update(inst.id, runtime_properties={})
    assert emptied.runtime_properties == {}


def test_missing_node_instance(client, deployments):
    with client_error(404, "not_found_error") as info:
        client.node_instances.get("nothing_00000")
    assert info.value.args[0] == "node_instance nothing_00000 not found"
    with client_error(404, "not_found_error"):
        client.node_instances.update("nothing_00000", state="started", version=0)
