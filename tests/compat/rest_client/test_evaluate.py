"""EvaluateClient.functions(deployment_id, context, payload): what agents call before
an operation whose inputs have get_attribute (cloudify-api.md 1.4 Misc, 2.9)."""

import pytest
from cloudify_rest_client.exceptions import CloudifyClientError, FunctionsEvaluationError

from .support import assert_error_shape, client_error, deploy, runnable_path

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def web(client):
    """The hello-web deployment's http_web_server instance id (node property
    port = 18080, host ip 127.0.0.1), with runtime properties set."""
    client.blueprints.upload(runnable_path("hello-web"), "hello-web")
    deploy(client, "hello-web", "ev")
    [inst] = client.node_instances.list(deployment_id="ev", node_id="http_web_server")
    client.node_instances.update(inst.id, runtime_properties={"pid": 42, "nested": {"k": ["a", "b"]}}, version=0)
    return inst.id


@pytest.fixture(scope="module")
def multi(client):
    client.blueprints.upload(runnable_path("multi-instance"), "multi-instance")
    deploy(client, "multi-instance", "ev-multi")
    return "ev-multi"


def test_payload_without_functions_comes_back_unchanged(client, web):
    payload = {"plain": {"x": [1, 2, None]}, "s": "text", "n": 1.5, "b": True}
    result = client.evaluate.functions("ev", {}, payload)
    assert set(result) == {"deployment_id", "payload"}
    assert result.deployment_id == "ev"
    assert result.payload == payload


def test_concat_of_literals(client, web):
    result = client.evaluate.functions("ev", {}, {"url": {"concat": ["http://", "h", ":", 80, "/"]}})
    assert result.payload == {"url": "http://h:80/"}


def test_get_attribute_self_reads_runtime_properties(client, web):
    payload = {
        "pid": {"get_attribute": ["SELF", "pid"]},
        "nested": {"deep": {"get_attribute": ["SELF", "nested", "k", 1]}},
        "missing": {"get_attribute": ["SELF", "no_such_attribute"]},
    }
    result = client.evaluate.functions("ev", {"self": web}, payload)
    assert result.payload == {"pid": 42, "nested": {"deep": "b"}, "missing": None}


def test_get_attribute_falls_back_to_node_properties(client, web):
    # http_web_server has no runtime property "port": its node property is used
    result = client.evaluate.functions("ev", {"self": web}, {"port": {"get_attribute": ["SELF", "port"]}})
    assert result.payload == {"port": 18080}


def test_get_attribute_by_node_name(client, web):
    payload = {"pid": {"get_attribute": ["http_web_server", "pid"]}, "ip": {"get_attribute": ["host", "ip"]}}
    assert client.evaluate.functions("ev", {}, payload).payload == {"pid": 42, "ip": "127.0.0.1"}


def test_concat_with_get_attribute(client, web):
    payload = {"v": {"concat": ["pid=", {"get_attribute": ["SELF", "pid"]}, ",port=", {"get_attribute": ["SELF", "port"]}]}}
    result = client.evaluate.functions("ev", {"self": web}, payload)
    assert result.payload == {"v": "pid=42,port=18080"}


def test_get_attribute_self_without_context_is_an_evaluation_error(client, web):
    with client_error(400, "functions_evaluation_error") as info:
        client.evaluate.functions("ev", {}, {"x": {"get_attribute": ["SELF", "pid"]}})
    assert isinstance(info.value, FunctionsEvaluationError)


def test_get_attribute_of_a_multi_instance_node_is_an_evaluation_error(client, multi):
    with client_error(400, "functions_evaluation_error") as info:
        client.evaluate.functions(multi, {}, {"x": {"get_attribute": ["worker", "role"]}})
    assert "worker" in info.value.args[0]


def test_get_property_in_a_payload(client, web):
    """get_property is static: prepare_deployment_plan resolves every one of them
    when the deployment is created, so agents never send one. If a payload has one
    anyway, 3.3.1's runtime evaluator (dsl_parser.functions.GetProperty.
    evaluate_runtime) raises RuntimeError, which the REST service does not catch (it
    catches FunctionEvaluationError only): a generic 500. Evaluating it to the
    node's property is the only other acceptable answer; passing it through
    unevaluated, a wrong value or another error is not."""
    payload = {
        "p": {"get_property": ["SELF", "port"]},
        "ip": {"get_property": ["host", "ip"]},
        "c": {"concat": [{"get_property": ["host", "ip"]}, ":", {"get_property": ["SELF", "port"]}]},
    }
    try:
        result = client.evaluate.functions("ev", {"self": web}, payload)
    except CloudifyClientError as err:
        assert_error_shape(err)
        assert (err.status_code, err.error_code) == (500, "internal_server_error"), err.args[0]
        assert "get_property" in err.args[0]
    else:
        assert result.payload == {"p": 18080, "ip": "127.0.0.1", "c": "127.0.0.1:18080"}


def test_missing_deployment(client):
    with client_error(404, "not_found_error") as info:
        client.evaluate.functions("no-such-dep", {}, {"a": 1})
    assert info.value.args[0] == "deployment no-such-dep not found"
