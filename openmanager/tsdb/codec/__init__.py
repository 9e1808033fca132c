"""Lossless chunk compression: timestamps and float64 values in, bytes out, bit-identical back.

Pipeline (one module per stage): `chunk` (container: version, count, CRC-32) -> `intcodec`
(timestamps and integers: order 0/1/2 differences, optional piecewise-linear trend) and
`values` (`decimal` mantissas when exact, else float64 bits) -> `split` (low bits raw, high
symbols through zstd via `entropy`) or `rice` (short streams) -> `bitpack`.
`benchmarks/codec_breakdown.py` measures it on the peers' fleet workload.
"""

from openmanager.tsdb.codec.chunk import MAX_SAMPLES, VERSION, decode_chunk, encode_chunk

__all__ = ["MAX_SAMPLES", "VERSION", "decode_chunk", "encode_chunk"]
