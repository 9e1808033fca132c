"""Remote-write ingest throughput of OpenManager beside Prometheus and VictoriaMetrics.

The same as `openmanager bench ingest` (see `openmanager/cli/bench_ingest_cmd.py`): each
receiver starts fresh on loopback, the peer harness's sender pushes the same 20.16 M-sample
workload to each in turn, and the rows each stored are counted. Options pass through:

    python benchmarks/remote_write_ingest.py --days 7 --out /tmp/rw.json
"""

from __future__ import annotations

import sys

from openmanager.cli.main import app

if __name__ == "__main__":
    app(["bench", "ingest", *sys.argv[1:]])
