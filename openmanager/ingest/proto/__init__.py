"""Prometheus remote-write protobuf types (generated from remote.proto) and wire helpers."""
