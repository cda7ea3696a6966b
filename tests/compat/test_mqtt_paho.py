"""The unmodified paho-mqtt 2.1 client publishes edge metrics to cfyd's MQTT
broker; they answer through the InfluxDB API (the `influxdb` client)."""

import time

import paho.mqtt.client as mqtt
import pytest
from influxdb import InfluxDBClient

pytestmark = pytest.mark.timeout(60)


def test_paho_metrics_land_in_the_metrics_store(cfyd):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-edge")
    c.connect("127.0.0.1", cfyd.ports["mqtt"])
    c.loop_start()
    for i in range(5):
        info = c.publish("cloudify/metrics/paho/gw_0c0c0/load/one", str(1.0 + i), qos=1)
        info.wait_for_publish(5)
    c.loop_stop()
    c.disconnect()
    influx = InfluxDBClient("127.0.0.1", cfyd.ports["influxdb"], database="cloudify")
    deadline = time.time() + 10
    while True:
        rows = list(influx.query(
            "SELECT count(value), max(value) FROM load_one WHERE deployment_id = 'paho'").get_points())
        if rows and rows[0]["count"] == 5:
            assert rows[0]["max"] == 5.0
            break
        assert time.time() < deadline, rows
        time.sleep(0.1)
