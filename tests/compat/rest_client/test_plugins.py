"""PluginsClient: upload (a Wagon archive built here), list, get, download, delete
(cloudify-api.md 1.3 Plugin, 1.4 Plugins, traps 1, 2)."""

import io
import json
import tarfile

import pytest
from cloudify_rest_client.plugins import Plugin

from .support import PLUGIN_FIELDS, TIMESTAMP, client_error, closed_port_url, is_uuid4

pytestmark = pytest.mark.timeout(60)

SCRIPT_PLUGIN = {
    "package_name": "cloudify-script-plugin",
    "package_version": "1.3",
    "archive_name": "cloudify_script_plugin-1.3-py27-none-linux_x86_64-Ubuntu-trusty.wgn",
    "package_source": "cloudify-script-plugin==1.3",
    "supported_platform": "linux_x86_64",
    "build_server_os_properties": {
        "distribution": "ubuntu",
        "distribution_version": "14.04",
        "distribution_release": "trusty",
    },
    "wheels": ["cloudify_script_plugin-1.3-py27-none-any.whl", "bottle-0.12.7-py27-none-any.whl"],
    "excluded_wheels": ["pyzmq-14.7.0.tar.gz"],
    "supported_python_versions": ["py27"],
}


def build_wagon(directory, metadata, top="cloudify_script_plugin"):
    """A Wagon as `wagon create` lays it out: one top directory holding package.json
    and wheels/<each wheel>; returns the archive's path."""
    path = directory / metadata["archive_name"]
    with tarfile.open(path, "w:gz") as tar:
        def add(name, data=None):
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))

        add(top)
        add(f"{top}/package.json", json.dumps(metadata, indent=4).encode())
        add(f"{top}/wheels")
        for wheel in metadata["wheels"]:
            add(f"{top}/wheels/{wheel}", f"not really a wheel: {wheel}\n".encode())
    return str(path)


def expected_plugin(metadata):
    build = metadata["build_server_os_properties"]
    return {
        "package_name": metadata["package_name"],
        "package_version": metadata["package_version"],
        "archive_name": metadata["archive_name"],
        "package_source": metadata["package_source"],
        "supported_platform": metadata["supported_platform"],
        "distribution": build["distribution"],
        "distribution_version": build["distribution_version"],
        "distribution_release": build["distribution_release"],
        "wheels": metadata["wheels"],
        "excluded_wheels": metadata["excluded_wheels"],
        "supported_py_versions": metadata["supported_python_versions"],
    }


def check_plugin(plugin, metadata):
    assert isinstance(plugin, Plugin)
    assert set(plugin) == PLUGIN_FIELDS
    assert is_uuid4(plugin.id), plugin.id
    assert TIMESTAMP.match(plugin.uploaded_at), plugin.uploaded_at
    assert {k: plugin[k] for k in PLUGIN_FIELDS - {"id", "uploaded_at"}} == expected_plugin(metadata)
    # the client's properties read the same fields
    assert (plugin.package_name, plugin.distribution_release, plugin.supported_py_versions) == (
        metadata["package_name"],
        metadata["build_server_os_properties"]["distribution_release"],
        metadata["supported_python_versions"],
    )


@pytest.fixture(scope="module")
def wagon(tmp_path_factory):
    return build_wagon(tmp_path_factory.mktemp("wagon"), SCRIPT_PLUGIN)


@pytest.fixture(scope="module")
def uploaded(client, wagon):
    return client.plugins.upload(wagon)


def test_upload_returns_the_plugin_from_package_json(uploaded):
    check_plugin(uploaded, SCRIPT_PLUGIN)


def test_get_and_list_return_the_uploaded_plugin(client, uploaded):
    got = client.plugins.get(uploaded.id)
    check_plugin(got, SCRIPT_PLUGIN)
    assert got == uploaded
    projected = client.plugins.get(uploaded.id, _include=["id", "package_name"])
    assert dict(projected) == {"id": uploaded.id, "package_name": SCRIPT_PLUGIN["package_name"]}
    plugins = client.plugins.list()
    assert [p.id for p in plugins] == [uploaded.id]
    assert plugins[0] == uploaded
    assert plugins.metadata.pagination.total == 1
    assert plugins.metadata.pagination.size == 10000
    assert [p.id for p in client.plugins.list(package_name=SCRIPT_PLUGIN["package_name"])] == [uploaded.id]
    assert len(client.plugins.list(package_name="no-such-package")) == 0
    assert all(set(p) == {"id", "archive_name"} for p in client.plugins.list(_include=["id", "archive_name"]))


def test_download_returns_the_uploaded_archive(client, uploaded, wagon, tmp_path, monkeypatch):
    target = tmp_path / "downloaded.wgn"
    assert client.plugins.download(uploaded.id, str(target)) == str(target)
    with open(wagon, "rb") as f:
        assert target.read_bytes() == f.read()
    # without a file name the client takes Content-Disposition's: <id>.tar.gz
    monkeypatch.chdir(tmp_path)
    written = client.plugins.download(uploaded.id, None)
    assert written == f"{uploaded.id}.tar.gz"
    assert (tmp_path / written).read_bytes() == target.read_bytes()


def test_uploading_the_same_archive_of_a_package_again_is_a_conflict(client, uploaded, wagon, tmp_path):
    with client_error(409, "conflict_error"):
        client.plugins.upload(wagon)
    assert [p.id for p in client.plugins.list(package_name=SCRIPT_PLUGIN["package_name"])] == [uploaded.id]
    # another archive of the same package is another plugin
    other = dict(SCRIPT_PLUGIN, archive_name="cloudify_script_plugin-1.3-py27-none-any.wgn",
                 supported_platform="any", build_server_os_properties={
                     "distribution": None, "distribution_version": None, "distribution_release": None})
    second = client.plugins.upload(build_wagon(tmp_path, other))
    check_plugin(second, other)
    assert second.id != uploaded.id
    try:
        assert {p.id for p in client.plugins.list(package_name=SCRIPT_PLUGIN["package_name"])} == {
            uploaded.id, second.id}
    finally:
        client.plugins.delete(second.id)


def test_delete_returns_the_plugin_and_removes_it(client, tmp_path):
    metadata = dict(SCRIPT_PLUGIN, package_name="cloudify-fabric-plugin", package_version="1.3.1",
                    archive_name="cloudify_fabric_plugin-1.3.1-py27-none-linux_x86_64.wgn",
                    package_source="cloudify-fabric-plugin==1.3.1", wheels=["fabric-1.8.3-py27-none-any.whl"])
    plugin = client.plugins.upload(build_wagon(tmp_path, metadata, top="cloudify_fabric_plugin"))
    deleted = client.plugins.delete(plugin.id)
    check_plugin(deleted, metadata)
    assert deleted == plugin
    with client_error(404, "not_found_error"):
        client.plugins.get(plugin.id)
    with client_error(404, "not_found_error"):
        client.plugins.delete(plugin.id)
    with client_error(404, "not_found_error"):
        client.plugins.download(plugin.id, str(tmp_path / "gone.wgn"))
    assert plugin.id not in {p.id for p in client.plugins.list()}
    # the same archive can be uploaded again, as a new plugin
    (tmp_path / "again").mkdir()
    again = client.plugins.upload(build_wagon(tmp_path / "again", metadata, top="cloudify_fabric_plugin"))
    assert again.id != plugin.id
    client.plugins.delete(again.id)


def test_get_of_a_missing_plugin(client):
    missing = "00000000-0000-4000-8000-000000000000"
    with client_error(404, "not_found_error") as info:
        client.plugins.get(missing)
    assert missing in info.value.args[0]


def test_an_archive_without_package_json_is_an_invalid_plugin(client, uploaded, tmp_path):
    path = tmp_path / "no-metadata.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("plugin/README")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    with client_error(400, "invalid_plugin_error"):
        client.plugins.upload(str(path))
    not_tar = tmp_path / "not-a-tar.wgn"
    not_tar.write_bytes(b"this is not a tar.gz archive")
    with client_error(400, "invalid_plugin_error"):
        client.plugins.upload(str(not_tar))
    assert [p.id for p in client.plugins.list()] == [uploaded.id]


def test_an_unreachable_plugin_url(client, uploaded):
    # the client sends plugin_archive_url when the path is a URL; 3.3 answered an
    # unreachable one with param_url_not_found_error (UploadedDataManager)
    with client_error(400, "param_url_not_found_error"):
        client.plugins.upload(closed_port_url("plugin.wgn"))
    assert [p.id for p in client.plugins.list()] == [uploaded.id]
