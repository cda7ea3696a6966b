"""BlueprintsClient: upload (the client tars the blueprint's directory and PUTs it
chunked), list, get, download, delete, and the upload errors
and publish_archive (an archive made here, in each accepted format)
(cloudify-api.md 1.3 Blueprint, 1.4 Blueprints, traps 1, 2, 9, 19)."""

import pathlib
import tarfile
import zipfile

import pytest

from .support import (
    BLUEPRINT_FIELDS,
    BUILTIN_WORKFLOWS,
    RUNNABLE,
    RUNNABLE_DIR,
    TIMESTAMP,
    TYPES_URL,
    client_error,
    closed_port_url,
    deploy,
    runnable_path,
    runnable_yaml,
    write_blueprint,
)

pytestmark = pytest.mark.timeout(60)

INVALID_DSL = f"""tosca_definitions_version: cloudify_dsl_1_2
imports:
  - {TYPES_URL}
node_templates:
  vm:
    type: no.such.Type
"""

MINIMAL = f"""tosca_definitions_version: cloudify_dsl_1_2
imports:
  - {TYPES_URL}
node_templates:
  vm:
    type: cloudify.nodes.Compute
    properties:
      ip: 10.0.0.1
      agent_config:
        install_method: none
"""


@pytest.fixture(scope="module")
def uploaded(client):
    """Every runnable blueprint, uploaded under its directory name."""
    return {name: client.blueprints.upload(runnable_path(name), name) for name in RUNNABLE}


def test_runnable_blueprints_are_present():
    assert len(RUNNABLE) >= 5, f"expected the runnable blueprints under {RUNNABLE_DIR}"


def check_blueprint(bp, name):
    source = runnable_yaml(name)
    assert set(bp) == BLUEPRINT_FIELDS
    assert bp.id == name
    assert bp.main_file_name == "blueprint.yaml"
    assert bp.description == source["description"]
    assert TIMESTAMP.match(bp.created_at), bp.created_at
    assert TIMESTAMP.match(bp["updated_at"]), bp["updated_at"]
    plan = bp.plan
    assert sorted(n["id"] for n in plan["nodes"]) == sorted(source["node_templates"])
    for node in plan["nodes"]:
        assert node["type"] == source["node_templates"][node["id"]]["type"]
    assert set(plan["inputs"]) == set(source.get("inputs", {}))
    for input_name, definition in source.get("inputs", {}).items():
        assert plan["inputs"][input_name].get("default") == definition.get("default")
    # blueprint-level outputs are the definitions as written (functions unevaluated)
    assert {k: v["value"] for k, v in plan["outputs"].items()} == {
        k: v["value"] for k, v in source.get("outputs", {}).items()
    }
    assert set(plan["workflows"]) == BUILTIN_WORKFLOWS
    assert plan["workflows"]["install"]["operation"] == "cloudify.plugins.workflows.install"
    assert plan["version"]["definitions_name"] == "cloudify_dsl"
    assert plan["version"]["definitions_version"] == [1, 2]


@pytest.mark.parametrize("name", RUNNABLE)
def test_upload_returns_the_stored_blueprint(uploaded, name):
    bp = uploaded[name]
    check_blueprint(bp, name)
    assert bp.created_at == bp["updated_at"]


@pytest.mark.parametrize("name", RUNNABLE)
def test_get_returns_what_upload_returned(client, uploaded, name):
    bp = client.blueprints.get(name)
    check_blueprint(bp, name)
    assert bp == uploaded[name]


def test_get_with_include_projects_the_fields(client, uploaded):
    bp = client.blueprints.get(RUNNABLE[0], _include=["id", "main_file_name"])
    assert dict(bp) == {"id": RUNNABLE[0], "main_file_name": "blueprint.yaml"}


def test_list_returns_every_blueprint_with_its_plan(client, uploaded):
    blueprints = client.blueprints.list()
    by_id = {bp.id: bp for bp in blueprints}
    assert set(RUNNABLE) <= set(by_id)
    for name in RUNNABLE:
        assert by_id[name] == uploaded[name]
        assert by_id[name].plan["nodes"]
    pagination = blueprints.metadata.pagination
    assert pagination.total == len(blueprints.items)
    assert pagination.offset == 0
    assert pagination.size == 10000  # the requested size, 10000 when not given


def test_list_filters_sorts_and_projects(client, uploaded):
    one = client.blueprints.list(id=RUNNABLE[1])
    assert [bp.id for bp in one] == [RUNNABLE[1]]
    assert one.metadata.pagination.total == 1
    projected = client.blueprints.list(_include=["id"])
    assert all(set(bp) == {"id"} for bp in projected)
    descending = [bp.id for bp in client.blueprints.list(_sort="-id", _include=["id"])]
    assert descending == sorted(descending, reverse=True)
    assert set(RUNNABLE) <= set(descending)


def test_download_returns_the_uploaded_archive(client, uploaded, tmp_path):
    name = RUNNABLE[0]
    target = tmp_path / "downloaded.tar.gz"
    assert client.blueprints.download(name, str(target)) == str(target)
    with tarfile.open(target) as tar:
        names = tar.getnames()
        main = tar.extractfile(f"{name}/blueprint.yaml").read()
    assert main == (RUNNABLE_DIR / name / "blueprint.yaml").read_bytes()
    expected = {f"{name}/{p.relative_to(RUNNABLE_DIR / name)}" for p in (RUNNABLE_DIR / name).rglob("*") if p.is_file()}
    assert expected <= set(names)


def test_download_names_the_file_after_the_blueprint(client, uploaded, tmp_path, monkeypatch):
    # Without output_file the client uses Content-Disposition's filename=<id>.<ext>.
    monkeypatch.chdir(tmp_path)
    name = RUNNABLE[0]
    written = client.blueprints.download(name)
    assert written == f"{name}.tar.gz"
    assert tarfile.is_tarfile(tmp_path / written)


def test_upload_with_another_main_file_name(client, tmp_path):
    path = write_blueprint(tmp_path / "other-main", MINIMAL, main_file="main.yaml")
    bp = client.blueprints.upload(path, "other-main")
    assert bp.main_file_name == "main.yaml"
    assert bp.description is None
    assert [n["id"] for n in bp.plan["nodes"]] == ["vm"]
    assert client.blueprints.delete("other-main").id == "other-main"


def test_publish_archive_without_the_main_file_is_rejected(client, tmp_path):
    write_blueprint(tmp_path / "no-main", MINIMAL)
    archive = tmp_path / "no-main.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "no-main", arcname="no-main")
    with client_error(400, "bad_parameters_error"):
        client.blueprints.publish_archive(str(archive), "no-main", "missing.yaml")
    with client_error(404, "not_found_error"):
        client.blueprints.get("no-main")


def test_uploading_an_existing_id_is_a_conflict(client, uploaded):
    name = RUNNABLE[0]
    with client_error(409, "conflict_error") as info:
        client.blueprints.upload(runnable_path(RUNNABLE[1]), name)
    assert name in info.value.args[0]
    # the stored blueprint is untouched
    assert client.blueprints.get(name) == uploaded[name]


def test_get_of_a_missing_blueprint_is_not_found(client):
    with client_error(404, "not_found_error") as info:
        client.blueprints.get("no-such-blueprint")
    assert info.value.args[0] == "blueprint no-such-blueprint not found"


def test_invalid_dsl_is_an_invalid_blueprint_error(client, tmp_path):
    path = write_blueprint(tmp_path / "bad", INVALID_DSL)
    with client_error(400, "invalid_blueprint_error") as info:
        client.blueprints.upload(path, "bad")
    assert info.value.args[0].startswith("Invalid blueprint - "), info.value.args[0]
    assert "no.such.Type" in info.value.args[0]
    with client_error(404, "not_found_error"):
        client.blueprints.get("bad")
    assert "bad" not in {bp.id for bp in client.blueprints.list(_include=["id"])}


def test_delete_returns_the_id_only_and_removes_it(client, tmp_path):
    path = write_blueprint(tmp_path / "to-delete", MINIMAL)
    client.blueprints.upload(path, "to-delete")
    deleted = client.blueprints.delete("to-delete")
    assert deleted.id == "to-delete"
    assert all(deleted.get(k) is None for k in BLUEPRINT_FIELDS - {"id"}), dict(deleted)
    with client_error(404, "not_found_error"):
        client.blueprints.get("to-delete")
    with client_error(404, "not_found_error"):
        client.blueprints.delete("to-delete")
    with client_error(404, "not_found_error"):
        client.blueprints.download("to-delete", str(tmp_path / "gone.tar.gz"))
    assert "to-delete" not in {bp.id for bp in client.blueprints.list(_include=["id"])}
    # the id can be used again
    assert client.blueprints.upload(path, "to-delete").id == "to-delete"
    client.blueprints.delete("to-delete")


def test_a_blueprint_with_deployments_cannot_be_deleted(client, tmp_path):
    path = write_blueprint(tmp_path / "in-use", MINIMAL)
    client.blueprints.upload(path, "in-use")
    deploy(client, "in-use", "in-use-dep")
    with client_error(400, "dependent_exists_error") as info:
        client.blueprints.delete("in-use")
    assert "in-use-dep" in info.value.args[0]
    assert client.blueprints.get("in-use").id == "in-use"
    client.deployments.delete("in-use-dep")
    assert client.blueprints.delete("in-use").id == "in-use"


def archive_blueprint(directory, fmt):
    """An archive of `directory` (one top-level dir) in one of the formats 3.3
    accepts (zip, tar, tar.gz, tar.bz2); returns (path, extension)."""
    directory = pathlib.Path(directory)
    ext = {"zip": "zip", "tar": "tar", "gztar": "tar.gz", "bztar": "tar.bz2"}[fmt]
    # the archive's name says nothing of its format: the server looks at the content
    path = directory.parent / f"{directory.name}-archive.bin"
    if fmt == "zip":
        with zipfile.ZipFile(path, "w") as z:
            for p in sorted(directory.rglob("*")):
                z.write(p, f"{directory.name}/{p.relative_to(directory)}")
    else:
        mode = {"tar": "w", "gztar": "w:gz", "bztar": "w:bz2"}[fmt]
        with tarfile.open(path, mode) as tar:
            tar.add(directory, arcname=directory.name)
    return str(path), ext


@pytest.mark.parametrize("fmt", ["zip", "tar", "gztar", "bztar"])
def test_publish_archive_in_every_format(client, tmp_path, monkeypatch, fmt):
    name = f"published-{fmt}"
    write_blueprint(tmp_path / name, MINIMAL)
    path, ext = archive_blueprint(tmp_path / name, fmt)
    # no blueprint_filename: the client sends no application_file_name and the
    # server uses blueprint.yaml
    bp = client.blueprints.publish_archive(path, name)
    try:
        assert set(bp) == BLUEPRINT_FIELDS
        assert (bp.id, bp.main_file_name) == (name, "blueprint.yaml")
        assert [n["id"] for n in bp.plan["nodes"]] == ["vm"]
        assert client.blueprints.get(name) == bp
        # the original archive is kept and served back as <id>.<ext>
        monkeypatch.chdir(tmp_path)
        written = client.blueprints.download(name)
        assert written == f"{name}.{ext}"
        assert (tmp_path / written).read_bytes() == pathlib.Path(path).read_bytes()
    finally:
        client.blueprints.delete(name)


def test_publish_archive_with_a_main_file_name(client, tmp_path):
    write_blueprint(tmp_path / "pub-main", MINIMAL, main_file="my main.yaml")
    path, _ = archive_blueprint(tmp_path / "pub-main", "gztar")
    # the client URL-quotes application_file_name ("my%20main.yaml")
    bp = client.blueprints.publish_archive(path, "pub-main", "my main.yaml")
    assert bp.main_file_name == "my main.yaml"
    assert [n["id"] for n in bp.plan["nodes"]] == ["vm"]
    assert client.blueprints.delete("pub-main").id == "pub-main"


def test_publish_archive_from_an_unreachable_url(client):
    with client_error(400, "param_url_not_found_error"):
        client.blueprints.publish_archive(closed_port_url("bp.tar.gz"), "from-url")
    with client_error(404, "not_found_error"):
        client.blueprints.get("from-url")
