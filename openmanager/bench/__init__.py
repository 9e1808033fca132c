"""Benchmarks of OpenManager beside its peers (Prometheus, VictoriaMetrics) on the same data.

`storage` orchestrates: workload, load into the embedded store, per-kind loads, peers, head memory.
"""
