"""`openmanager bench ...`: benchmarks that measure OpenManager beside its peers in the same run.

Each benchmark lives in its own module and registers its command on `app` here.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Benchmarks: measure OpenManager beside Prometheus and VictoriaMetrics on the same data.",
    no_args_is_help=True,
)
import openmanager.cli.bench_storage_cmd  # noqa: E402,F401,I001  (registers `bench storage`)
from openmanager.cli import bench_ingest_cmd  # noqa: E402,F401  (registers `bench ingest`)
from openmanager.cli import bench_query_cmd  # noqa: E402,F401  (registers `bench query`)
from openmanager.cli import bench_nab_cmd  # noqa: E402,F401  (registers `bench nab`)
from openmanager.cli import bench_api_cmd  # noqa: E402,F401  (registers `bench api`)
from openmanager.cli import bench_rca_cmd  # noqa: E402,F401  (registers `bench rca`)
