"""Bytes per sample of the chunk codec on the peers' fleet workload, per value kind, beside
Prometheus and VictoriaMetrics (figures from the peers' results json), plus codec speed.

usage: python benchmarks/codec_breakdown.py [--data /tmp/peers/data] [--chunks 480,5760,0]
       [--levels 3] [--series-limit N]
Chunk length 0 means one chunk per series (the whole week). Data bytes only: the block index
and label bytes are not included. Every chunk is decoded and checked bit for bit. Speeds are
per CPU-second of this process (time.process_time), so busy shared cores do not skew them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fleet_load import SeriesData, load_fleet  # noqa: E402

from openmanager.tsdb.codec import decode_chunk, encode_chunk  # noqa: E402
from openmanager.tsdb.codec.entropy import DEFAULT_LEVEL  # noqa: E402

PEERS = Path("/work/shared/peers/tsdb")
GROUPS = {
    "gauge_2dec": [
        "node_cpu_usage_percent",
        "node_memory_usage_percent",
        "node_disk_usage_percent",
        "node_load1",
        "node_load5",
        "node_load15",
    ],
    "gauge_1dec": ["node_hwmon_temp_celsius", "app_response_time_ms"],
    "gauge_int": ["node_procs_running"],
    "counter_net_bytes": ["node_network_receive_bytes_total", "node_network_transmit_bytes_total"],
    "counter_http_requests": ["http_requests_total"],
    "histogram_6le_sum_count": [
        "http_request_duration_seconds_bucket",
        "http_request_duration_seconds_sum",
        "http_request_duration_seconds_count",
    ],
}
NAME_TO_GROUP = {name: g for g, names in GROUPS.items() for name in names}


@dataclass
class Tally:
    """Bytes, samples and timings of one (chunk length, level) run."""

    bytes_by_kind: dict[str, int] = field(default_factory=dict)
    samples_by_kind: dict[str, int] = field(default_factory=dict)
    chunks: int = 0
    encode_s: float = 0.0
    decode_s: float = 0.0
    mismatches: int = 0
    duplicate_bytes: int = 0
    seen: set[bytes] = field(default_factory=set)

    @property
    def samples(self) -> int:
        return sum(self.samples_by_kind.values())

    @property
    def bytes(self) -> int:
        return sum(self.bytes_by_kind.values())


def run(data: SeriesData, chunk: int, level: int) -> Tally:
    """Encode every series in chunks of `chunk` samples (0 = whole series), decode, verify."""
    tally = Tally()
    for key, (ts, vs) in data.items():
        kind = NAME_TO_GROUP.get(key[: key.index("{")] if "{" in key else key, "other")
        step = chunk or len(ts)
        for a in range(0, len(ts), step):
            t, v = ts[a : a + step], vs[a : a + step]
            t0 = time.process_time()
            blob = encode_chunk(t, v, level=level)
            t1 = time.process_time()
            t2, v2 = decode_chunk(blob)
            t3 = time.process_time()
            tally.encode_s += t1 - t0
            tally.decode_s += t3 - t1
            tally.chunks += 1
            if not (
                np.array_equal(t2, t) and np.array_equal(v2.view(np.uint64), v.view(np.uint64))
            ):
                tally.mismatches += 1
            if blob in tally.seen:  # e.g. a histogram's +Inf bucket and its _count
                tally.duplicate_bytes += len(blob)
            tally.seen.add(blob)
            tally.bytes_by_kind[kind] = tally.bytes_by_kind.get(kind, 0) + len(blob)
            tally.samples_by_kind[kind] = tally.samples_by_kind.get(kind, 0) + len(t)
    return tally


def peer_figures() -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Per-kind and overall bytes/sample of VictoriaMetrics and Prometheus from the results."""
    files = sorted(PEERS.glob("results-*.json"))
    if not files:
        return {}, {}
    res = json.loads(files[-1].read_text())
    kinds = {
        k: {"vm": v["vm_bytes_per_sample"], "prom": v["prometheus_bytes_per_sample"]}
        for k, v in res.get("bytes_per_sample_by_kind", {}).items()
    }
    overall = {
        "vm": res["victoriametrics"]["bytes_per_sample_data"],
        "prom": res["prometheus"]["bytes_per_sample_chunks"],
    }
    return kinds, overall


def report(chunk: int, level: int, tally: Tally) -> None:
    """Print one table: ours, VM, Prometheus and the ratios, per kind and overall."""
    kinds, overall = peer_figures()
    label = f"{chunk}-sample chunks" if chunk else "whole-series chunks"
    print(f"\n## {label}, zstd level {level}: {tally.chunks} chunks, {tally.samples:,} samples")
    print(f"{'kind':26} {'ours B/s':>9} {'VM':>7} {'Prom':>7} {'ours/VM':>8} {'ours/Prom':>9}")
    rows = [
        (k, tally.bytes_by_kind[k], tally.samples_by_kind[k], kinds.get(k, {}))
        for k in sorted(tally.bytes_by_kind)
    ]
    rows.append(("ALL (data only)", tally.bytes, tally.samples, overall))
    for kind, nbytes, nsamples, peer in rows:
        ours = nbytes / nsamples
        vm, prom = peer.get("vm", float("nan")), peer.get("prom", float("nan"))
        print(f"{kind:26} {ours:9.3f} {vm:7.3f} {prom:7.3f} {ours / vm:8.3f} {ours / prom:9.3f}")
    dedup = (tally.bytes - tally.duplicate_bytes) / tally.samples
    print(f"{'ALL, identical chunks once':26} {dedup:9.3f}")
    print(
        f"encode {tally.samples / tally.encode_s / 1e6:.2f} M samples/s, "
        f"decode {tally.samples / tally.decode_s / 1e6:.2f} M samples/s (per CPU-second), "
        f"round-trip mismatches: {tally.mismatches}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("/tmp/peers/data"))
    ap.add_argument("--chunks", default="480,5760,0", help="chunk lengths; 0 = whole series")
    ap.add_argument("--levels", default=str(DEFAULT_LEVEL), help="zstd levels to compare")
    ap.add_argument("--series-limit", type=int, default=0, help="use every k-th series only")
    args = ap.parse_args()
    data = load_fleet(args.data / "fleet.prom")
    if args.series_limit:
        keys = list(data)[:: args.series_limit]
        data = {k: data[k] for k in keys}
    for level in (int(x) for x in args.levels.split(",")):
        for chunk in (int(x) for x in args.chunks.split(",")):
            report(chunk, level, run(data, chunk, level))


if __name__ == "__main__":
    main()
