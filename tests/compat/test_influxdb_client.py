"""The unmodified Python `influxdb` 5.3.2 client against cfyd's 8086:
ping, databases, writes with tags and precisions, GROUP BY time queries,
SHOW queries, retention policies and errors."""

import pytest
from influxdb import InfluxDBClient
from influxdb.exceptions import InfluxDBClientError

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def client(cfyd):
    c = InfluxDBClient("127.0.0.1", cfyd.ports["influxdb"], "root", "root", "pydb")
    c.create_database("pydb")
    return c


def test_ping_reports_a_version(client):
    assert client.ping().startswith("1.")


def test_databases_are_listed_and_dropped(client):
    client.create_database("scratch")
    names = [d["name"] for d in client.get_list_database()]
    assert "pydb" in names and "scratch" in names
    client.drop_database("scratch")
    assert "scratch" not in [d["name"] for d in client.get_list_database()]


def test_write_points_then_group_by_time(client):
    points = [
        {"measurement": "cpu_total_user", "tags": {"deployment_id": "d1", "node_id": node},
         "time": 1451606400 + i * 10, "fields": {"value": float(i + (100 if node == "vm_2" else 0))}}
        for node in ("vm_1", "vm_2") for i in range(60)
    ]
    assert client.write_points(points, time_precision="s")
    rs = client.query(
        "SELECT mean(value) FROM cpu_total_user WHERE node_id = 'vm_1' "
        "AND time >= '2016-01-01T00:00:00Z' AND time < '2016-01-01T00:10:00Z' GROUP BY time(1m)")
    rows = list(rs.get_points())
    assert len(rows) == 10
    assert rows[0] == {"time": "2016-01-01T00:00:00Z", "mean": 2.5}
    rs = client.query("SELECT max(value) FROM cpu_total_user GROUP BY node_id", epoch="ms")
    by_node = {tags["node_id"]: list(points)[0] for (_, tags), points in rs.items()}
    assert by_node["vm_2"]["max"] == 159.0
    assert by_node["vm_2"]["time"] == (1451606400 + 590) * 1000


def test_precisions_and_line_protocol_types(client):
    client.write(["mixed,host=h f=1.5,i=2i,b=true,s=\"x y\" 1451606400000"],
                 {"db": "pydb", "precision": "ms"}, protocol="line")
    rows = list(client.query("SELECT * FROM mixed").get_points())
    assert rows == [{"time": "2016-01-01T00:00:00Z", "b": True, "f": 1.5, "host": "h", "i": 2, "s": "x y"}]


def test_show_queries(client):
    assert {"name": "cpu_total_user"} in list(client.query("SHOW MEASUREMENTS").get_points())
    tag_values = list(client.query('SHOW TAG VALUES FROM cpu_total_user WITH KEY = "node_id"').get_points())
    assert [v["value"] for v in tag_values] == ["vm_1", "vm_2"]
    fields = list(client.query("SHOW FIELD KEYS FROM cpu_total_user").get_points())
    assert fields == [{"fieldKey": "value", "fieldType": "float"}]
    assert len(client.get_list_series()) >= 2
    rps = client.get_list_retention_policies("pydb")
    assert rps[0]["name"] == "autogen" and rps[0]["default"] is True


def test_retention_policy_lifecycle(client):
    client.create_retention_policy("week", "7d", 1, database="pydb")
    assert "week" in [r["name"] for r in client.get_list_retention_policies("pydb")]
    client.drop_retention_policy("week", database="pydb")


def test_errors_are_influxdb_errors(client, cfyd):
    with pytest.raises(InfluxDBClientError) as e:
        client.write_points([{"measurement": "m", "fields": {"v": 1.0}}], database="nope")
    assert e.value.code == 404
    with pytest.raises(InfluxDBClientError) as e:
        client.query("SELEC 1")
    assert "error parsing query" in str(e.value)
    client.write_points([{"measurement": "typed", "fields": {"v": 1.0}}])
    with pytest.raises(InfluxDBClientError) as e:
        client.write_points([{"measurement": "typed", "fields": {"v": "text"}}])
    assert e.value.code == 400 and "field type conflict" in str(e.value)
