#!/usr/bin/env python3
"""Memory per idle AMQP connection: RSS of the broker process before and
after opening N connections (each with one channel), as py-amqp opens them.

    benches/amqp-idle-connections.py --port 5672 --pid <broker pid> [-n 1000]

Run it against cfyd and against RabbitMQ (the beam.smp pid) one after the
other; it prints one JSON line. Needs the `amqp` package (tests/compat venv).
"""

import argparse
import json
import time

import amqp


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("-n", type=int, default=1000)
    p.add_argument("--settle", type=float, default=3.0)
    a = p.parse_args()
    time.sleep(a.settle)
    before = rss_kib(a.pid)
    conns = []
    for _ in range(a.n):
        c = amqp.Connection(host=f"127.0.0.1:{a.port}", userid="guest", password="guest", heartbeat=0)
        c.connect()
        c.channel()
        conns.append(c)
    time.sleep(a.settle)
    after = rss_kib(a.pid)
    print(json.dumps({"connections": a.n, "rss_before_kib": before, "rss_after_kib": after,
                      "kib_per_connection": round((after - before) / a.n, 2)}))
    for c in conns:
        c.close()


if __name__ == "__main__":
    main()
