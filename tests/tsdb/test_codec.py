"""Chunk codec round trips (bit-identical), size sanity and damaged-chunk handling."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openmanager.errors import InvalidInput
from openmanager.samples import STALE_NAN_BITS
from openmanager.tsdb.codec import decode_chunk, encode_chunk
from openmanager.tsdb.codec.chunk import MAX_SAMPLES, VERSION

T0 = 1_704_067_200_000
SPECIAL_BITS = [
    STALE_NAN_BITS,
    0x7FF8000000000000,  # the usual quiet NaN
    0xFFF8000000000001,  # negative NaN with a payload
    0x7FF0000000000001,  # signalling NaN
    0x7FF0000000000000,  # +Inf
    0xFFF0000000000000,  # -Inf
    0x8000000000000000,  # -0.0
    0x0000000000000001,  # smallest subnormal
]


def bits_of(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)


def from_bits(bits: list[int]) -> np.ndarray:
    return np.array(bits, dtype=np.uint64).view(np.float64)


def assert_round_trip(ts: np.ndarray, vs: np.ndarray) -> bytes:
    blob = encode_chunk(ts, vs)
    ts2, vs2 = decode_chunk(blob)
    assert ts2.dtype == np.int64 and vs2.dtype == np.float64
    np.testing.assert_array_equal(ts2, ts)
    np.testing.assert_array_equal(bits_of(vs2), bits_of(vs))
    return blob


def regular_ts(n: int, step: int = 15_000) -> np.ndarray:
    return T0 + np.arange(n, dtype=np.int64) * step


int64s = st.integers(-(2**63), 2**63 - 1)
any_bits = st.integers(0, 2**64 - 1)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(int64s, any_bits), max_size=300))
def test_any_timestamps_any_float_bits(samples: list[tuple[int, int]]) -> None:
    ts = np.array([t for t, _ in samples], dtype=np.int64)
    vs = from_bits([b for _, b in samples])
    assert_round_trip(ts, vs)


def float_bits(x: float) -> int:
    return int(np.array([x], dtype=np.float64).view(np.uint64)[0])


decimal_bits = st.one_of(
    st.builds(
        lambda m, k: float_bits(m / 10**k), st.integers(-(10**12), 10**12), st.integers(0, 4)
    ),
    st.integers(-(2**53), 2**53).map(lambda i: float_bits(float(i))),
    st.sampled_from(SPECIAL_BITS),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(decimal_bits, min_size=1, max_size=400), st.integers(0, 5_000))
def test_decimal_values_with_specials(bits: list[int], jitter: int) -> None:
    rng = np.random.default_rng(len(bits))
    ts = regular_ts(len(bits)) + rng.integers(-jitter, jitter + 1, len(bits))
    assert_round_trip(np.sort(ts), from_bits(bits))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 63, 64, 65, 129])
def test_small_chunks(n: int) -> None:
    rng = np.random.default_rng(n)
    assert_round_trip(regular_ts(n), np.round(rng.normal(50, 10, n), 2))
    assert_round_trip(regular_ts(n), rng.normal(0, 1, n))


def test_specials_only_and_mixed_into_decimals() -> None:
    specials = from_bits(SPECIAL_BITS)
    assert_round_trip(regular_ts(len(specials)), specials)
    vs = np.round(np.linspace(0, 100, 1000), 2)
    vs[::97] = np.resize(specials, len(vs[::97]))
    vs[-1] = from_bits([STALE_NAN_BITS])[0]
    blob = assert_round_trip(regular_ts(len(vs)), vs)
    assert len(blob) < 1000  # the decimal path stayed on despite the exceptions


def test_unsorted_and_duplicate_timestamps_are_kept_as_given() -> None:
    ts = np.array([5, 3, 3, -(2**63), 2**63 - 1, 0, 7, 7], dtype=np.int64)
    assert_round_trip(ts, np.arange(len(ts), dtype=np.float64))


def test_extreme_values() -> None:
    vs = np.array(
        [
            np.finfo(np.float64).max,
            -np.finfo(np.float64).max,
            2.0**62,
            2.0**63,
            1e300,
            1e-300,
            0.1 + 0.2,
        ]
    )
    assert_round_trip(regular_ts(len(vs)), vs)
    ints = np.array([2**53 + 2, 2**62 - 2, -(2**62) + 2, 0], dtype=np.float64)
    assert_round_trip(regular_ts(len(ints)), ints)


def test_large_chunk_compresses() -> None:
    n = 100_000
    rng = np.random.default_rng(7)
    gauge = np.round(50 + np.cumsum(rng.normal(0, 0.2, n)), 2)
    blob = assert_round_trip(regular_ts(n), gauge)
    assert len(blob) / n < 2.0  # raw is 16 bytes/sample
    counter = np.cumsum(rng.poisson(1500, n)).astype(np.float64)
    blob = assert_round_trip(regular_ts(n), counter)
    assert len(blob) / n < 1.5


def poisson_entropy_bits(lam: np.ndarray) -> np.ndarray:
    """Entropy of Poisson(lam) in bits, per lam, by summing the pmf (lam up to a few thousand)."""
    k = np.arange(0, int(lam.max() * 2 + 50))
    logk = np.concatenate([[0.0], np.cumsum(np.log(k[1:]))])  # log k!
    logp = k[None, :] * np.log(lam[:, None]) - lam[:, None] - logk[None, :]
    p = np.exp(logp)
    return -(p * logp).sum(axis=1) / np.log(2)


def test_size_is_close_to_the_source_entropy() -> None:
    """A day at 15 s (5760 samples): coded size within a few percent of what the noise carries."""
    rng = np.random.default_rng(42)
    n = 5760
    ts = regular_ts(n)
    day = 0.5 * (1 - np.cos(2 * np.pi * np.arange(n) / n))
    sigma = 1.5  # white noise of a 2-decimal gauge: sigma * 100 units
    gauge = np.round(20 + 30 * day + rng.normal(0, sigma, n), 2)
    gauge_bits = np.log2(sigma * 100 * np.sqrt(2 * np.pi * np.e))
    lam = 2000 * (0.15 + day)
    counter = np.cumsum(rng.poisson(lam)).astype(np.float64)
    counter_bits = poisson_entropy_bits(lam).mean()
    small = rng.poisson(3.0, n).astype(np.float64)
    small_bits = poisson_entropy_bits(np.array([3.0]))[0]
    for values, bits in ((gauge, gauge_bits), (counter, counter_bits), (small, small_bits)):
        ratio = len(assert_round_trip(ts, values)) * 8 / n / bits
        assert 0.9 < ratio < 1.08, ratio


def test_regular_timestamps_and_constant_values_are_nearly_free() -> None:
    assert len(assert_round_trip(regular_ts(5760), np.full(5760, 42.17))) < 32
    assert len(assert_round_trip(regular_ts(5760), np.full(5760, np.nan))) < 32


def test_trailing_zero_integers() -> None:
    vs = np.array([1500, 2300, 0, -4_000_000, 10**18], dtype=np.float64)
    assert_round_trip(regular_ts(len(vs)), vs)


def test_accepts_memoryview_and_bytearray() -> None:
    blob = encode_chunk(regular_ts(10), np.arange(10.0))
    for form in (bytearray(blob), memoryview(blob), memoryview(b"xx" + blob)[2:]):
        np.testing.assert_array_equal(decode_chunk(form)[1], np.arange(10.0))


def test_rejects_bad_input() -> None:
    with pytest.raises(InvalidInput, match="differ in length"):
        encode_chunk(regular_ts(3), np.zeros(2))
    with pytest.raises(InvalidInput, match="one-dimensional"):
        encode_chunk(np.zeros((2, 2), dtype=np.int64), np.zeros((2, 2)))


def test_every_truncation_is_invalid_input() -> None:
    blob = encode_chunk(regular_ts(200), np.round(np.linspace(0, 9, 200), 2))
    for size in range(len(blob)):
        with pytest.raises(InvalidInput):
            decode_chunk(blob[:size])


def test_every_bit_flip_is_invalid_input() -> None:
    blob = bytearray(encode_chunk(regular_ts(50), np.round(np.linspace(0, 9, 50), 1)))
    for i in range(len(blob) * 8):
        damaged = bytearray(blob)
        damaged[i // 8] ^= 1 << (i % 8)
        with pytest.raises(InvalidInput):
            decode_chunk(bytes(damaged))


def with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def test_version_and_size_header_checked() -> None:
    with pytest.raises(InvalidInput, match="version 9"):
        decode_chunk(with_crc(bytes([9, 0])))
    forged = bytearray([VERSION])
    n = MAX_SAMPLES + 1
    while n >= 0x80:
        forged.append((n & 0x7F) | 0x80)
        n >>= 7
    forged.append(n)
    with pytest.raises(InvalidInput, match="exceeds"):
        decode_chunk(with_crc(bytes(forged)))


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_with_valid_crc_only_raises_invalid_input(body: bytes) -> None:
    try:
        ts, vs = decode_chunk(with_crc(bytes([VERSION]) + body))
    except InvalidInput:
        return
    assert len(ts) == len(vs)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=60), st.integers(0, 500))
def test_garbage_inside_a_real_chunk_only_raises_invalid_input(junk: bytes, at: int) -> None:
    blob = encode_chunk(regular_ts(300), np.round(np.sin(np.arange(300)) * 100, 2))
    body = blob[:-4]
    at = min(at, len(body))
    forged = body[:at] + junk + body[at + len(junk) :]
    try:
        ts, vs = decode_chunk(with_crc(forged))
    except InvalidInput:
        return
    assert len(ts) == len(vs)
