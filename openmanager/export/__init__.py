"""Exporters: push stored samples to other monitoring systems on the scheduler.

Each wire format is one module implementing `base.Exporter`; `registry` finds them by kind and
`runner.ExportRunner` owns what they share (reading new samples, batching, retries, dead letters).
"""
