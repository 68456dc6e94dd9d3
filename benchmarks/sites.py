"""Two WebinOne simulator sites in their own process, so a benchmark's client runs alone.

Started by ``run.py``: prints one JSON line (URLs, credentials, mapping tables),
then serves until its standard input closes.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from orderbridge.sandbox import Faults, SimServer, available_simulators

TOKEN_PATH = "/api/v1/oauth/token"


def main() -> None:
    count, latency = int(sys.argv[1]), float(sys.argv[2])
    rate_limit = float(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] != "none" else None
    sim = available_simulators()["webinone"]
    old = sim(client_id="old", client_secret="old-secret", id_start=28000)
    new = sim(client_id="new", client_secret="new-secret", id_start=1000)
    old.seed(count, seed=2)
    faults = Faults(latency=latency, exempt_paths=frozenset({TOKEN_PATH}))
    limited = Faults(latency=latency, rate_limit=rate_limit, exempt_paths=frozenset({TOKEN_PATH}))
    with SimServer(old, faults=faults) as old_server, SimServer(new, faults=limited) as new_server:
        info = {
            "old": {"url": old_server.url, **old.credentials()},
            "new": {"url": new_server.url, **new.credentials()},
            "tables": {k: {str(a): str(b) for a, b in t.items()} for k, t in new.catalog_tables().items()},
        }
        print(json.dumps(info), flush=True)
        started = time.perf_counter()
        sys.stdin.read()  # serve until the parent closes our stdin
        usage = resource.getrusage(resource.RUSAGE_SELF)
        seen = {
            "new_requests": new.requests_log.total,
            "new_orders": new.order_count(),
            "cpu_share": (usage.ru_utime + usage.ru_stime) / (time.perf_counter() - started),
        }
        print(json.dumps(seen), flush=True)


if __name__ == "__main__":
    main()
