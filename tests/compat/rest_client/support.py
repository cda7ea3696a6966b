"""Helpers for the rest_client suites (the client itself is imported by conftest.py,
after the Python 2 import shim is installed)."""

import contextlib
import pathlib
import re
import socket
import time
import uuid

import pytest
import yaml
from cloudify_rest_client.exceptions import ERROR_MAPPING, CloudifyClientError
from cloudify_rest_client.executions import Execution

# tests/compat/rest_client/support.py -> the work tree's parent holds shared/
SHARED = pathlib.Path(__file__).resolve().parents[4] / "shared"
RUNNABLE_DIR = SHARED / "blueprints" / "runnable"
RUNNABLE = sorted(p.parent.name for p in RUNNABLE_DIR.glob("*/blueprint.yaml"))

TYPES_URL = "http://www.getcloudify.org/spec/cloudify/3.3.1/types.yaml"
# str(datetime.now()): space separator, no zone, microseconds omitted when 0 (section 1.1)
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{6})?$")
# nodes.get() passes node_id to nodes.list(), which warns that it is deprecated
IGNORE_NODE_ID_DEPRECATION = pytest.mark.filterwarnings(
    "ignore:'node_id' filtering capability is deprecated:DeprecationWarning"
)
BUILTIN_WORKFLOWS = {"install", "uninstall", "execute_operation", "heal", "scale", "install_new_agents"}

BLUEPRINT_FIELDS = {"id", "plan", "created_at", "updated_at", "description", "main_file_name"}
DEPLOYMENT_FIELDS = {
    "id", "blueprint_id", "created_at", "updated_at", "inputs", "outputs",
    "workflows", "policy_types", "policy_triggers", "groups",
}
EXECUTION_FIELDS = {
    "id", "workflow_id", "blueprint_id", "deployment_id", "status", "error",
    "created_at", "parameters", "is_system_workflow",
}
NODE_FIELDS = {
    "id", "deployment_id", "blueprint_id", "type", "type_hierarchy", "number_of_instances",
    "planned_number_of_instances", "deploy_number_of_instances", "host_id", "properties",
    "operations", "plugins", "relationships",
}
NODE_INSTANCE_FIELDS = {
    "id", "node_id", "deployment_id", "host_id", "relationships", "runtime_properties",
    "state", "version",
}
OPERATION_FIELDS = {
    "plugin", "operation", "executor", "inputs", "has_intrinsic_functions", "max_retries",
    "retry_interval",
}
MODIFICATION_FIELDS = {
    "id", "deployment_id", "status", "created_at", "ended_at", "modified_nodes", "node_instances",
    "context",
}
PLUGIN_FIELDS = {
    "id", "package_name", "archive_name", "package_source", "package_version", "supported_platform",
    "distribution", "distribution_version", "distribution_release", "wheels", "excluded_wheels",
    "supported_py_versions", "uploaded_at",
}
SNAPSHOT_FIELDS = {"id", "created_at", "status", "error"}


def is_uuid4(value):
    try:
        return isinstance(value, str) and uuid.UUID(value).version == 4 and str(uuid.UUID(value)) == value
    except ValueError:
        return False


def closed_port_url(path):
    """An http URL on 127.0.0.1 where nothing listens: what a manager answers for an
    archive URL it cannot fetch, without any traffic leaving the machine."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{path}"


def runnable_path(name):
    return str(RUNNABLE_DIR / name / "blueprint.yaml")


def runnable_yaml(name):
    return yaml.safe_load((RUNNABLE_DIR / name / "blueprint.yaml").read_text())


def instance_id_pattern(node_id):
    return re.compile(rf"^{re.escape(node_id)}_[0-9a-f]{{5}}$")


def write_blueprint(directory, text, main_file="blueprint.yaml"):
    """Writes a one-file blueprint directory and returns the main file's path."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / main_file
    path.write_text(text)
    return str(path)


def inputs_for(plan, **overrides):
    """A value for every input the plan requires (no default), plus overrides."""
    values = {}
    for name, definition in plan["inputs"].items():
        if definition.get("default") is None:
            values[name] = {"integer": 1, "float": 1.5, "boolean": True}.get(definition.get("type"), f"{name}-value")
    values.update(overrides)
    return values


def assert_error_shape(err):
    """What the CLI relies on in every error the client raises (section 1.1, trap 2)."""
    message = err.args[0] if err.args else None
    assert isinstance(err.status_code, int) and err.status_code >= 400, (err.status_code, message)
    assert isinstance(err.error_code, str) and err.error_code, (
        f"no error_code (non-JSON or partial error body?): {err.status_code} {message!r}")
    assert isinstance(message, str) and message, f"empty message for {err.error_code}"
    assert isinstance(err.server_traceback, str), f"server_traceback is {err.server_traceback!r}"
    # The client picks its exception class from error_code.
    assert type(err) is ERROR_MAPPING.get(err.error_code, CloudifyClientError)


@contextlib.contextmanager
def client_error(status_code, error_code):
    """Expects the block to raise a CloudifyClientError with these codes (None: any,
    as long as it has one); yields pytest's ExceptionInfo (the error is `.value`)."""
    with pytest.raises(CloudifyClientError) as info:
        yield info
    err = info.value
    assert_error_shape(err)
    expected = (status_code or err.status_code, error_code or err.error_code)
    assert (err.status_code, err.error_code) == expected, err.args[0]


def wait_for_executions(client, deployment_id, timeout_s=30):
    """Waits until every execution of the deployment is in an end state."""
    deadline = time.monotonic() + timeout_s
    while True:
        executions = client.executions.list(deployment_id=deployment_id)
        if executions.items and all(e.status in Execution.END_STATES for e in executions):
            return executions
        if time.monotonic() > deadline:
            raise AssertionError(f"executions of {deployment_id} not ended: {executions.items}")
        time.sleep(0.05)


def deploy(client, blueprint_id, deployment_id, inputs=None):
    """Creates a deployment and waits for its create_deployment_environment execution."""
    deployment = client.deployments.create(blueprint_id, deployment_id, inputs)
    wait_for_executions(client, deployment_id)
    return deployment
