"""DeploymentModificationsClient: start, get, list, finish, rollback, what the scale
workflow does to a deployment's instances (cloudify-api.md 1.3 DeploymentModification,
1.4 Deployment modifications, 2.10, traps 1, 5, 6, 9, 15).

Every test works on its own deployment of the runnable multi-instance blueprint:
host (Compute, 1) <-contained_in- worker (3) ; collector -contained_in-> host and
-connected_to (all_to_all)-> every worker. The check for a started modification is
global, so a fixture rolls back whatever a test leaves started.
"""

import itertools

import pytest
from cloudify_rest_client.deployment_modifications import DeploymentModification
from cloudify_rest_client.exceptions import (
    DeploymentModificationAlreadyEndedError,
    ExistingStartedDeploymentModificationError,
)

from .support import (
    IGNORE_NODE_ID_DEPRECATION,
    MODIFICATION_FIELDS,
    NODE_INSTANCE_FIELDS,
    TIMESTAMP,
    client_error,
    deploy,
    instance_id_pattern,
    is_uuid4,
    runnable_path,
)

pytestmark = [pytest.mark.timeout(90), IGNORE_NODE_ID_DEPRECATION]

BLUEPRINT = "multi-instance"
CONTAINED_IN = "cloudify.relationships.contained_in"
CONNECTED_TO = "cloudify.relationships.connected_to"
WORKFLOW_CONTEXT = {
    "blueprint_id": BLUEPRINT,
    "deployment_id": "set per test",
    "execution_id": "00000000-0000-4000-8000-000000000001",
    "workflow_id": "scale",
}


@pytest.fixture(scope="module")
def fresh(client):
    """Returns a function that creates a new deployment of the blueprint."""
    client.blueprints.upload(runnable_path(BLUEPRINT), BLUEPRINT)
    counter = itertools.count(1)

    def make():
        deployment_id = f"mod-{next(counter)}"
        deploy(client, BLUEPRINT, deployment_id)
        return deployment_id

    return make


@pytest.fixture(autouse=True)
def no_modification_left_started(client):
    yield
    for m in client.deployment_modifications.list(status="started"):
        client.deployment_modifications.rollback(m.id)


class Topology:
    """The deployment's instances, read through the client."""

    def __init__(self, client, deployment_id):
        self.all = {i.id: i for i in client.node_instances.list(deployment_id=deployment_id)}
        by_node = {}
        for i in self.all.values():
            by_node.setdefault(i.node_id, []).append(i)
        self.by_node = by_node
        [self.host] = by_node["host"]
        [self.collector] = by_node["collector"]
        self.workers = sorted(i.id for i in by_node.get("worker", []))


def without_version(instances):
    return {i["id"]: {k: v for k, v in i.items() if k != "version"} for i in instances}


def contained_in_host(host_id):
    return [{"type": CONTAINED_IN, "target_name": "host", "target_id": host_id}]


def connections(instance):
    return sorted(r["target_id"] for r in instance["relationships"] if r["type"] == CONNECTED_TO)


def split(entries, marker):
    marked = {i["id"]: i for i in entries if i.get("modification") == marker}
    related = {i["id"]: i for i in entries if i.get("modification") != marker}
    return marked, related


def counts(client, deployment_id, node_id="worker"):
    node = client.nodes.get(deployment_id, node_id)
    # strings on the wire (trap 5); the client's properties convert them
    raw = (node["number_of_instances"], node["planned_number_of_instances"], node["deploy_number_of_instances"])
    assert all(isinstance(v, str) for v in raw), raw
    assert (node.number_of_instances, node.planned_number_of_instances, node.deploy_number_of_instances) == tuple(
        int(v) for v in raw
    )
    return raw


def check_ended(ended, modification_id, status):
    """finish/rollback answer the id and status only, every other field null (trap 9)."""
    assert isinstance(ended, DeploymentModification)
    assert set(ended) == MODIFICATION_FIELDS
    assert (ended.id, ended.status) == (modification_id, status)
    assert all(ended[k] is None for k in MODIFICATION_FIELDS - {"id", "status", "node_instances"}), dict(ended)
    # a null node_instances becomes empty lists in the client
    assert all(v == [] for v in ended.node_instances.values()), ended.node_instances


def test_scale_out_start_adds_instances_and_reports_them(client, fresh):
    dep = fresh()
    before = Topology(client, dep)
    assert len(before.workers) == 3
    collector_version = client.node_instances.get(before.collector.id).version
    context = dict(WORKFLOW_CONTEXT, deployment_id=dep)

    mod = client.deployment_modifications.start(dep, {"worker": {"instances": 5}}, context=context)

    assert isinstance(mod, DeploymentModification)
    assert set(mod) == MODIFICATION_FIELDS
    assert is_uuid4(mod.id), mod.id
    assert mod.status == DeploymentModification.STARTED
    assert mod.deployment_id == dep
    assert TIMESTAMP.match(mod.created_at), mod.created_at
    assert mod.ended_at is None
    assert mod.modified_nodes == {"worker": {"instances": 5}}
    assert mod.context == context
    raw = client._client.get(f"/deployment-modifications/{mod.id}")
    assert set(raw["node_instances"]) == {"added_and_related", "removed_and_related", "before_modification"}

    nis = mod.node_instances
    # before_modification: the deployment's instances as they were
    assert without_version(nis.before_modification) == without_version(before.all.values())
    for i in nis.before_modification:
        assert NODE_INSTANCE_FIELDS - {"version"} <= set(i), set(i)

    added, related = split(nis.added_and_related, "added")
    assert len(added) == 2
    assert not set(added) & set(before.all)
    for instance_id, inst in added.items():
        assert instance_id_pattern("worker").match(instance_id), instance_id
        assert inst.node_id == "worker"
        assert inst.host_id == before.host.id
        assert inst.relationships == contained_in_host(before.host.id)
    # related: the collector, carrying only its connections to the new ones (and
    # the host: see test_related_instances_include_the_targets_of_the_changed_ones)
    assert set(related) - {before.host.id} == {before.collector.id}
    assert related[before.collector.id].relationships == [
        {"type": CONNECTED_TO, "target_name": "worker", "target_id": t} for t in connections(related[before.collector.id])
    ]
    assert connections(related[before.collector.id]) == sorted(added)
    assert nis.removed_and_related == []

    # the new instances are stored at once; the collector gains the connections
    after = Topology(client, dep)
    assert set(after.all) == set(before.all) | set(added)
    for instance_id in added:
        inst = client.node_instances.get(instance_id)
        assert (inst.state, inst.runtime_properties, inst.deployment_id) == ("uninitialized", {}, dep)
        assert inst.host_id == before.host.id
        assert inst.relationships == contained_in_host(before.host.id)
    collector = client.node_instances.get(before.collector.id)
    assert connections(collector) == sorted(before.workers + list(added))
    assert [r for r in collector.relationships if r["type"] == CONTAINED_IN] == contained_in_host(before.host.id)
    # a manager-internal write bumps the version too (trap 6)
    assert collector.version == collector_version + 1
    assert counts(client, dep) == ("3", "5", "3")

    got = client.deployment_modifications.get(mod.id)
    assert got == mod
    projected = client._client.get(f"/deployment-modifications/{mod.id}", _include=["id", "status"])
    assert projected == {"id": mod.id, "status": "started"}

    # finish: the counts follow, the instances stay
    finished = client.deployment_modifications.finish(mod.id)
    check_ended(finished, mod.id, DeploymentModification.FINISHED)
    got = client.deployment_modifications.get(mod.id)
    assert got.status == DeploymentModification.FINISHED
    assert TIMESTAMP.match(got.ended_at), got.ended_at
    assert got.ended_at >= got.created_at == mod.created_at
    assert got.node_instances.added_and_related == nis.added_and_related
    assert got.context == context
    assert counts(client, dep) == ("5", "5", "3")
    final = Topology(client, dep)
    assert set(final.all) == set(after.all)
    assert len(final.workers) == 5


def test_scale_in_with_an_include_hint_removes_those_on_finish(client, fresh):
    dep = fresh()
    before = Topology(client, dep)
    keep, *gone = before.workers
    mod = client.deployment_modifications.start(
        dep, {"worker": {"instances": 1, "removed_ids_include_hint": list(reversed(gone))}}
    )
    nis = mod.node_instances
    assert nis.added_and_related == []
    removed, related = split(nis.removed_and_related, "removed")
    assert sorted(removed) == sorted(gone)
    for inst in removed.values():
        assert inst.node_id == "worker"
        assert inst.relationships == contained_in_host(before.host.id)
    assert set(related) - {before.host.id} == {before.collector.id}
    # (exactly which relationships it carries: test_related_instances_carry_only_...)
    assert set(gone) <= set(connections(related[before.collector.id]))
    # nothing is removed before finish
    assert set(Topology(client, dep).all) == set(before.all)
    assert counts(client, dep) == ("3", "1", "3")

    check_ended(client.deployment_modifications.finish(mod.id), mod.id, "finished")
    after = Topology(client, dep)
    assert after.workers == [keep]
    assert set(after.all) == set(before.all) - set(gone)
    for instance_id in gone:
        with client_error(404, "not_found_error"):
            client.node_instances.get(instance_id)
    collector = client.node_instances.get(before.collector.id)
    assert connections(collector) == [keep]
    assert counts(client, dep) == ("1", "1", "3")


@pytest.mark.parametrize("count, marker, key", [(5, "added", "added_and_related"), (1, "removed", "removed_and_related")])
def test_related_instances_include_the_targets_of_the_changed_ones(client, fresh, count, marker, key):
    """dsl-parser 3.3 rel_graph._graph_diff puts both ends of every relationship of an
    added/removed instance in the result graph (G.neighbors and G.predecessors), so
    the host a new worker is contained in is "related" too, with no relationship of
    its own in the result (its relationships list is empty)."""
    dep = fresh()
    before = Topology(client, dep)
    mod = client.deployment_modifications.start(dep, {"worker": {"instances": count}})
    changed, related = split(mod.node_instances[key], marker)
    assert len(changed) == 2
    assert set(related) == {before.host.id, before.collector.id}
    assert related[before.host.id].relationships == []
    assert related[before.host.id].host_id == before.host.id
    assert "modification" not in related[before.host.id]
    client.deployment_modifications.rollback(mod.id)


@pytest.mark.parametrize("count, marker, key", [(5, "added", "added_and_related"), (1, "removed", "removed_and_related")])
def test_related_instances_carry_only_relationships_to_the_changed_ones(client, fresh, count, marker, key):
    """Same _graph_diff: a related instance's relationships are the edges of the
    result graph, i.e. only those to added (removed) instances; its contained_in
    and its connections to untouched workers are not repeated."""
    dep = fresh()
    before = Topology(client, dep)
    mod = client.deployment_modifications.start(dep, {"worker": {"instances": count}})
    changed, related = split(mod.node_instances[key], marker)
    collector = related[before.collector.id]
    assert collector.relationships == [
        {"type": CONNECTED_TO, "target_name": "worker", "target_id": t} for t in connections(collector)
    ]
    assert connections(collector) == sorted(changed)
    client.deployment_modifications.rollback(mod.id)


def test_scale_in_honours_the_exclude_hint_and_rollback_restores(client, fresh):
    dep = fresh()
    before = Topology(client, dep)
    first, second, third = before.workers
    mod = client.deployment_modifications.start(
        dep, {"worker": {"instances": 2, "removed_ids_exclude_hint": [first, third]}}
    )
    removed, _ = split(mod.node_instances.removed_and_related, "removed")
    assert list(removed) == [second]
    assert counts(client, dep) == ("3", "2", "3")

    rolled = client.deployment_modifications.rollback(mod.id)
    check_ended(rolled, mod.id, DeploymentModification.ROLLEDBACK)
    got = client.deployment_modifications.get(mod.id)
    assert got.status == "rolledback"
    assert TIMESTAMP.match(got.ended_at), got.ended_at
    assert counts(client, dep) == ("3", "3", "3")
    assert without_version(Topology(client, dep).all.values()) == without_version(before.all.values())


def test_rollback_of_a_scale_out_drops_the_new_instances(client, fresh):
    dep = fresh()
    before = Topology(client, dep)
    mod = client.deployment_modifications.start(dep, {"worker": {"instances": 4}})
    added, _ = split(mod.node_instances.added_and_related, "added")
    assert len(added) == 1
    during = Topology(client, dep)
    assert len(during.workers) == 4

    check_ended(client.deployment_modifications.rollback(mod.id), mod.id, "rolledback")
    after = Topology(client, dep)
    assert without_version(after.all.values()) == without_version(before.all.values())
    [new_id] = added
    with client_error(404, "not_found_error"):
        client.node_instances.get(new_id)
    assert connections(client.node_instances.get(before.collector.id)) == before.workers
    assert counts(client, dep) == ("3", "3", "3")
    got = client.deployment_modifications.get(mod.id)
    # before_rollback: the instances as they were when the rollback came
    raw = client._client.get(f"/deployment-modifications/{mod.id}")
    assert "before_rollback" in raw["node_instances"]
    assert without_version(got.node_instances.before_rollback) == without_version(during.all.values())
    assert got.node_instances.before_modification == mod.node_instances.before_modification


def test_only_one_modification_may_be_started_on_the_whole_manager(client, fresh):
    dep, other = fresh(), fresh()
    first = client.deployment_modifications.start(dep, {"worker": {"instances": 4}})
    with client_error(400, "existing_started_deployment_modification_error") as info:
        client.deployment_modifications.start(dep, {"worker": {"instances": 5}})
    assert isinstance(info.value, ExistingStartedDeploymentModificationError)
    assert first.id in info.value.args[0]
    # the check is global (trap 15)
    with client_error(400, "existing_started_deployment_modification_error"):
        client.deployment_modifications.start(other, {"worker": {"instances": 2}})
    assert counts(client, other) == ("3", "3", "3")
    assert len(Topology(client, dep).workers) == 4
    client.deployment_modifications.finish(first.id)
    second = client.deployment_modifications.start(other, {"worker": {"instances": 2}})
    assert second.status == "started"
    client.deployment_modifications.rollback(second.id)


def test_an_ended_modification_cannot_end_again(client, fresh):
    dep = fresh()
    finished = client.deployment_modifications.start(dep, {"worker": {"instances": 3}})
    client.deployment_modifications.finish(finished.id)
    for end in (client.deployment_modifications.finish, client.deployment_modifications.rollback):
        with client_error(400, "deployment_modification_already_ended_error") as info:
            end(finished.id)
        assert isinstance(info.value, DeploymentModificationAlreadyEndedError)
        assert finished.id in info.value.args[0]
    rolled = client.deployment_modifications.start(dep, {"worker": {"instances": 3}})
    client.deployment_modifications.rollback(rolled.id)
    for end in (client.deployment_modifications.finish, client.deployment_modifications.rollback):
        with client_error(400, "deployment_modification_already_ended_error"):
            end(rolled.id)
    assert client.deployment_modifications.get(finished.id).status == "finished"
    assert client.deployment_modifications.get(rolled.id).status == "rolledback"


def test_start_without_context_stores_an_empty_one(client, fresh):
    # 3.3: context = request_json.get('context', {})
    dep = fresh()
    mod = client.deployment_modifications.start(dep, {"worker": {"instances": 3}})
    assert mod.context == {}
    assert client.deployment_modifications.get(mod.id).context == {}
    client.deployment_modifications.rollback(mod.id)


def test_list_filters_by_deployment_and_status(client, fresh):
    dep, other = fresh(), fresh()
    ids = []
    for count in (4, 2):
        mod = client.deployment_modifications.start(dep, {"worker": {"instances": count}})
        ids.append(mod.id)
        client.deployment_modifications.rollback(mod.id)
    done = client.deployment_modifications.start(other, {"worker": {"instances": 3}})
    client.deployment_modifications.finish(done.id)

    mine = client.deployment_modifications.list(deployment_id=dep)
    assert sorted(m.id for m in mine) == sorted(ids)
    assert all(isinstance(m, DeploymentModification) and set(m) == MODIFICATION_FIELDS for m in mine)
    assert all(m.deployment_id == dep and m.status == "rolledback" for m in mine)
    assert mine.metadata.pagination.total == 2
    assert mine.metadata.pagination.size == 10000
    everything = client.deployment_modifications.list()
    assert set(ids) | {done.id} <= {m.id for m in everything}
    assert everything.metadata.pagination.total == len(everything.items)
    assert [m.id for m in client.deployment_modifications.list(deployment_id=other, status="finished")] == [done.id]
    assert len(client.deployment_modifications.list(deployment_id=other, status="rolledback")) == 0
    raw = client._client.get("/deployment-modifications", params={"deployment_id": dep}, _include=["id", "status"])
    assert all(set(m) == {"id", "status"} for m in raw["items"]), raw["items"]


def test_missing_modification_and_deployment(client, fresh):
    missing = "00000000-0000-4000-8000-00000000dead"
    for call in (
        client.deployment_modifications.get,
        client.deployment_modifications.finish,
        client.deployment_modifications.rollback,
    ):
        with client_error(404, "not_found_error") as info:
            call(missing)
        assert missing in info.value.args[0]
    with client_error(404, "not_found_error") as info:
        client.deployment_modifications.start("no-such-dep", {"worker": {"instances": 2}})
    assert info.value.args[0] == "deployment no-such-dep not found"
    assert len(client.deployment_modifications.list(deployment_id="no-such-dep")) == 0
