"""DeploymentsClient: create (inputs resolved with defaults), list, get, outputs,
delete, and the input / dependency errors (cloudify-api.md 1.3 Deployment,
1.4 Deployments, traps 7 and 9)."""

import pytest
from cloudify_rest_client.exceptions import (
    MissingRequiredDeploymentInputError,
    UnknownDeploymentInputError,
)

from .support import (
    BUILTIN_WORKFLOWS,
    IGNORE_NODE_ID_DEPRECATION,
    DEPLOYMENT_FIELDS,
    RUNNABLE,
    TIMESTAMP,
    TYPES_URL,
    client_error,
    deploy,
    inputs_for,
    runnable_path,
    runnable_yaml,
    write_blueprint,
)

pytestmark = [pytest.mark.timeout(90), IGNORE_NODE_ID_DEPRECATION]

# One required input (no default), two with defaults; static and runtime outputs.
INPUTS_BLUEPRINT = f"""tosca_definitions_version: cloudify_dsl_1_2
imports:
  - {TYPES_URL}
inputs:
  name:
    description: required, no default
  port:
    default: 8080
  flag:
    default: false
node_templates:
  vm:
    type: cloudify.nodes.Compute
    properties:
      ip: 10.0.0.5
      agent_config:
        install_method: none
  app:
    type: cloudify.nodes.WebServer
    properties:
      port: {{ get_input: port }}
    relationships:
      - type: cloudify.relationships.contained_in
        target: vm
outputs:
  greeting:
    description: static concat
    value: {{ concat: [hello-, {{ get_input: name }}] }}
  endpoint:
    value: {{ concat: ['http://', {{ get_property: [vm, ip] }}, ':', {{ get_property: [app, port] }}] }}
  pid:
    description: a runtime property
    value: {{ get_attribute: [app, pid] }}
  vm_ip:
    value: {{ get_attribute: [vm, ip] }}
"""

# Evaluated output values before install, per runnable blueprint with default
# inputs: get_attribute of a runtime property that no operation has set yet is null.
OUTPUTS_BEFORE_INSTALL = {
    "hello-web": {"http_endpoint": "http://127.0.0.1:18080/", "server_pid": None},
    "multi-instance": {"worker_count": None, "workers": None},
    "ops-and-inputs": {"store_file": None, "item_count": None, "items": None, "title": None, "reader_saw": None},
    "retry-then-succeed": {"configure_attempts": None},
    "two-tier": {"db_endpoint": None, "app_db_endpoint": None, "app_record_count": None, "db_client": None},
}


@pytest.fixture(scope="module")
def blueprints(client, tmp_path_factory):
    for name in RUNNABLE:
        client.blueprints.upload(runnable_path(name), name)
    path = write_blueprint(tmp_path_factory.mktemp("bp") / "inputs-bp", INPUTS_BLUEPRINT)
    client.blueprints.upload(path, "inputs-bp")
    return {bp.id: bp for bp in client.blueprints.list()}


@pytest.fixture(scope="module")
def runnable_deployments(client, blueprints):
    """One deployment per runnable blueprint, named dep-<blueprint>, created with the
    inputs the plan requires (none of them has one) and otherwise the defaults."""
    return {
        name: deploy(client, name, f"dep-{name}", inputs_for(blueprints[name].plan) or None)
        for name in RUNNABLE
    }


def check_deployment(dep, blueprint_id, deployment_id, plan):
    assert set(dep) == DEPLOYMENT_FIELDS  # no permalink, no description (1.3)
    assert dep.id == deployment_id
    assert dep.blueprint_id == blueprint_id
    assert TIMESTAMP.match(dep["created_at"]) and TIMESTAMP.match(dep["updated_at"])
    # workflows: a list of {name, created_at: null, parameters} (trap 7)
    assert isinstance(dep.workflows, list)
    assert {w.name for w in dep.workflows} == set(plan["workflows"]) == BUILTIN_WORKFLOWS
    for w in dep.workflows:
        assert set(w) == {"name", "created_at", "parameters"}
        assert w["created_at"] is None
        assert w.parameters == plan["workflows"][w.name].get("parameters", {})
    assert dep["policy_types"] == plan["policy_types"]
    assert dep["policy_triggers"] == plan["policy_triggers"]
    assert dep["groups"] == plan["groups"]


@pytest.mark.parametrize("name", RUNNABLE)
def test_create_list_and_get_agree(client, blueprints, runnable_deployments, name):
    source = runnable_yaml(name)
    plan = blueprints[name].plan
    created = runnable_deployments[name]
    check_deployment(created, name, f"dep-{name}", plan)
    # inputs resolved with the defaults
    assert created.inputs == {k: v["default"] for k, v in source["inputs"].items()}
    got = client.deployments.get(f"dep-{name}")
    check_deployment(got, name, f"dep-{name}", plan)
    assert got == created
    listed = {d.id: d for d in client.deployments.list()}
    assert listed[f"dep-{name}"] == created


@pytest.mark.parametrize("name", RUNNABLE)
def test_outputs_are_evaluated_with_null_attributes_before_install(client, runnable_deployments, name):
    outputs = client.deployments.outputs.get(f"dep-{name}")
    assert set(outputs) == {"deployment_id", "outputs"}
    assert outputs.deployment_id == f"dep-{name}"
    assert outputs.outputs == OUTPUTS_BEFORE_INSTALL[name]


def test_deployment_outputs_are_definitions_with_get_attribute_kept(client, blueprints):
    dep = deploy(client, "inputs-bp", "defs", {"name": "cfy", "port": 9000})
    outputs = dep.outputs
    assert set(outputs) == {"greeting", "endpoint", "pid", "vm_ip"}
    assert outputs["greeting"]["description"] == "static concat"
    assert outputs["pid"]["description"] == "a runtime property"
    # runtime functions stay as written; the static ones (get_input, get_property,
    # all-static concat) were evaluated when the deployment plan was prepared
    # (dsl-parser prepare_deployment_plan scans outputs with replace=True)
    assert outputs["pid"]["value"] == {"get_attribute": ["app", "pid"]}
    assert outputs["vm_ip"]["value"] == {"get_attribute": ["vm", "ip"]}
    assert outputs["greeting"]["value"] == "hello-cfy"
    assert outputs["endpoint"]["value"] == "http://10.0.0.5:9000"
    assert client.deployments.get("defs").outputs == outputs


def test_inputs_resolve_with_defaults_and_overrides(client, blueprints):
    dep = deploy(client, "inputs-bp", "resolved", {"name": "n1", "flag": True})
    assert dep.inputs == {"name": "n1", "port": 8080, "flag": True}
    assert client.deployments.get("resolved").inputs == dep.inputs
    app = client.nodes.get("resolved", "app")
    assert app.properties["port"] == 8080


def test_outputs_evaluate_get_attribute_against_runtime_properties(client, blueprints):
    deploy(client, "inputs-bp", "outs", {"name": "x"})
    before = client.deployments.outputs.get("outs").outputs
    # get_attribute falls back to the node's properties (vm.ip), else null
    assert before == {"greeting": "hello-x", "endpoint": "http://10.0.0.5:8080", "pid": None, "vm_ip": "10.0.0.5"}
    [app] = client.node_instances.list(deployment_id="outs", node_id="app")
    [vm] = client.node_instances.list(deployment_id="outs", node_id="vm")
    client.node_instances.update(app.id, runtime_properties={"pid": 4242}, version=0)
    client.node_instances.update(vm.id, runtime_properties={"ip": "192.168.0.9"}, version=0)
    after = client.deployments.outputs.get("outs").outputs
    assert after == {"greeting": "hello-x", "endpoint": "http://10.0.0.5:8080", "pid": 4242, "vm_ip": "192.168.0.9"}


def test_missing_required_input(client, blueprints):
    with client_error(400, "missing_required_deployment_input_error") as info:
        client.deployments.create("inputs-bp", "no-name", {"port": 1})
    assert isinstance(info.value, MissingRequiredDeploymentInputError)
    assert "name" in info.value.args[0]
    with client_error(404, "not_found_error"):
        client.deployments.get("no-name")


def test_unknown_input(client, blueprints):
    with client_error(400, "unknown_deployment_input_error") as info:
        client.deployments.create("inputs-bp", "bogus-input", {"name": "x", "bogus": 1})
    assert isinstance(info.value, UnknownDeploymentInputError)
    assert "bogus" in info.value.args[0]
    with client_error(404, "not_found_error"):
        client.deployments.get("bogus-input")


def test_create_from_a_missing_blueprint(client, blueprints):
    with client_error(404, "not_found_error") as info:
        client.deployments.create("no-such-bp", "orphan")
    assert info.value.args[0] == "blueprint no-such-bp not found"


def test_create_with_an_existing_id_is_a_conflict(client, blueprints, runnable_deployments):
    name = RUNNABLE[0]
    with client_error(409, "conflict_error"):
        client.deployments.create(name, f"dep-{name}")
    assert client.deployments.get(f"dep-{name}") == runnable_deployments[name]


def test_get_of_a_missing_deployment(client):
    with client_error(404, "not_found_error") as info:
        client.deployments.get("no-such-dep")
    assert info.value.args[0] == "deployment no-such-dep not found"
    with client_error(404, "not_found_error"):
        client.deployments.outputs.get("no-such-dep")
    with client_error(404, "not_found_error"):
        client.deployments.delete("no-such-dep")


def test_list_filters_by_blueprint(client, blueprints, runnable_deployments):
    name = RUNNABLE[0]
    only = client.deployments.list(blueprint_id=name)
    assert [d.id for d in only] == [f"dep-{name}"]
    assert only.metadata.pagination.total == 1
    projected = client.deployments.list(_include=["id", "blueprint_id"])
    assert all(set(d) == {"id", "blueprint_id"} for d in projected)
    assert {f"dep-{n}" for n in RUNNABLE} <= {d.id for d in projected}


def test_delete_returns_the_id_only_and_removes_everything(client, blueprints):
    deploy(client, "inputs-bp", "gone", {"name": "x"})
    assert len(client.nodes.list(deployment_id="gone")) == 2
    deleted = client.deployments.delete("gone")
    assert deleted.id == "gone"
    assert all(deleted.get(k) is None for k in DEPLOYMENT_FIELDS - {"id"}), dict(deleted)
    with client_error(404, "not_found_error"):
        client.deployments.get("gone")
    assert "gone" not in {d.id for d in client.deployments.list(_include=["id"])}
    assert len(client.nodes.list(deployment_id="gone")) == 0
    assert len(client.node_instances.list(deployment_id="gone")) == 0
    # the id is free again
    assert deploy(client, "inputs-bp", "gone", {"name": "y"}).inputs["name"] == "y"
    client.deployments.delete("gone")


def test_delete_refuses_live_nodes_unless_ignored(client, blueprints):
    deploy(client, "inputs-bp", "live", {"name": "x"})
    [vm] = client.node_instances.list(deployment_id="live", node_id="vm")
    client.node_instances.update(vm.id, state="started", version=0)
    with client_error(400, "dependent_exists_error") as info:
        client.deployments.delete("live")
    assert vm.id in info.value.args[0]
    assert client.deployments.get("live").id == "live"
    assert client.deployments.delete("live", ignore_live_nodes=True).id == "live"
    with client_error(404, "not_found_error"):
        client.deployments.get("live")


def test_deleting_a_blueprint_with_deployments(client, blueprints, runnable_deployments):
    name = RUNNABLE[0]
    with client_error(400, "dependent_exists_error") as info:
        client.blueprints.delete(name)
    assert f"dep-{name}" in info.value.args[0]
    assert client.blueprints.get(name).id == name
