"""Unit tests of the codec's parts: integer streams, bit packing, decimal form, zstd stage."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openmanager.errors import InvalidInput
from openmanager.samples import STALE_NAN_BITS
from openmanager.tsdb.codec import rice
from openmanager.tsdb.codec._io import ByteReader, unzigzag, write_varint, zigzag
from openmanager.tsdb.codec.bitpack import MAX_WIDTH, pack_bits, packed_size, unpack_bits
from openmanager.tsdb.codec.decimal import from_decimal, to_decimal
from openmanager.tsdb.codec.entropy import read_stream, write_stream
from openmanager.tsdb.codec.intcodec import decode_ints, encode_ints
from openmanager.tsdb.codec.rice import plan_rice, write_rice
from openmanager.tsdb.codec.split import read_residuals, write_residuals
from openmanager.tsdb.codec.values import DECIMAL, decode_values, encode_values


def ints_round_trip(x: np.ndarray) -> bytes:
    out = bytearray()
    encode_ints(x, out)
    reader = ByteReader(bytes(out))
    np.testing.assert_array_equal(decode_ints(reader, len(x)), x)
    assert reader.remaining() == 0
    return bytes(out)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=500))
def test_int_stream_any_int64(values: list[int]) -> None:
    ints_round_trip(np.array(values, dtype=np.int64))


@pytest.mark.parametrize(
    "x",
    [
        np.arange(1000, dtype=np.int64) * 15_000,
        np.cumsum(np.random.default_rng(1).poisson(3e6, 2000)).astype(np.int64),
        np.random.default_rng(2).integers(0, 4, 777).astype(np.int64),
        np.full(300, -(2**63), dtype=np.int64),
        np.array([2**63 - 1, -(2**63)] * 100, dtype=np.int64),
    ],
)
def test_int_stream_shapes(x: np.ndarray) -> None:
    ints_round_trip(x)


def test_int_stream_regular_sequence_is_a_few_bytes() -> None:
    assert len(ints_round_trip(1_704_067_200_000 + np.arange(40_320, dtype=np.int64) * 15_000)) < 12


def test_int_stream_counter_is_near_its_entropy() -> None:
    rng = np.random.default_rng(3)
    inc = rng.poisson(2000, 5760)  # Poisson(2000): entropy ~ 7.6 bits per increment
    size = len(ints_round_trip(np.cumsum(inc).astype(np.int64)))
    assert size * 8 / 5760 < 8.2


def residuals_round_trip(u: np.ndarray) -> bytes:
    out = bytearray()
    write_residuals(u, out, 1)
    reader = ByteReader(bytes(out))
    np.testing.assert_array_equal(read_residuals(reader, len(u)), u)
    assert reader.remaining() == 0
    return bytes(out)


def test_short_streams_use_rice_codes() -> None:
    u = np.random.default_rng(6).geometric(0.01, 200).astype(np.uint64)
    assert residuals_round_trip(u)[0] == 0xFF  # no zstd table to pay for
    assert plan_rice(u) is not None


@pytest.mark.parametrize("outlier", [0, 2**20, 2**40])
def test_rice_size_plan_is_exact(outlier: int) -> None:
    u = np.random.default_rng(7).geometric(0.3, 300).astype(np.uint64)
    u[17] = outlier
    planned = plan_rice(u)
    assert planned is not None
    out = bytearray()
    write_rice(u, planned[0], out)
    assert len(out) == planned[1]
    residuals_round_trip(u)


def test_huge_quotients_keep_streams_off_rice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rice, "MAX_QUOTIENT", 0)
    u = np.random.default_rng(9).geometric(0.3, 300).astype(np.uint64)
    assert rice.plan_rice(u) is None
    assert residuals_round_trip(u)[0] != 0xFF


def test_long_skewed_streams_use_grouped_symbols() -> None:
    u = (np.random.default_rng(8).random(20_000) < 0.05).astype(np.uint64)
    coded = residuals_round_trip(u)
    assert 1 <= coded[0] <= 16  # radix-grouped symbols through zstd
    assert len(coded) < 20_000 * 0.5 / 8  # entropy 0.29 bits/code; one symbol a byte costs >= 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=400), st.integers(0, 63))
def test_residual_coder_any_codes(codes: list[int], shift: int) -> None:
    residuals_round_trip(np.array(codes, dtype=np.uint64) >> np.uint64(shift))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**64 - 1), st.integers(0, MAX_WIDTH)), max_size=300))
def test_bitpack_round_trip(pairs: list[tuple[int, int]]) -> None:
    widths = np.array([w for _, w in pairs], dtype=np.uint8)
    values = np.array([v for v, _ in pairs], dtype=np.uint64)
    low = values & ((np.uint64(1) << widths.astype(np.uint64)) - np.uint64(1))
    packed = pack_bits(values, widths)
    assert len(packed) == packed_size(widths)
    np.testing.assert_array_equal(unpack_bits(packed, widths), low)


def test_bitpack_long_input_in_slices() -> None:
    rng = np.random.default_rng(10)
    n = 200_000
    widths = rng.integers(0, MAX_WIDTH + 1, n).astype(np.uint8)
    widths[::7] = 3  # byte boundaries fall at irregular places
    values = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64)
    packed = pack_bits(values, widths)
    assert len(packed) == packed_size(widths)
    low = values & ((np.uint64(1) << widths.astype(np.uint64)) - np.uint64(1))
    np.testing.assert_array_equal(unpack_bits(packed, widths), low)


def test_bitpack_rejects_wrong_sizes() -> None:
    with pytest.raises(InvalidInput):
        pack_bits(np.array([1], dtype=np.uint64), np.array([MAX_WIDTH + 1], dtype=np.uint8))
    with pytest.raises(InvalidInput):
        unpack_bits(b"\x00", np.array([9], dtype=np.uint8))


def test_zigzag() -> None:
    x = np.array([0, -1, 1, -2, 2, 2**63 - 1, -(2**63)], dtype=np.int64)
    np.testing.assert_array_equal(zigzag(x)[:5], [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(unzigzag(zigzag(x)), x)


def test_varint_reader_limits() -> None:
    out = bytearray()
    write_varint(out, 2**64 - 1)
    assert ByteReader(bytes(out)).varint() == 2**64 - 1
    with pytest.raises(InvalidInput, match="varint"):
        ByteReader(b"\xff" * 10 + b"\x01").varint()
    with pytest.raises(InvalidInput, match="truncated"):
        ByteReader(b"\x80").varint()


def test_decimal_form_finds_smallest_exponent() -> None:
    form = to_decimal(np.array([42.17, 0.5, 100.0, 3.1]))
    assert form is not None
    assert form.exponent == -2
    np.testing.assert_array_equal(form.mantissas, [4217, 50, 10000, 310])
    assert not form.exceptions.any()


def test_decimal_form_rare_extra_digits_become_exceptions() -> None:
    values = np.arange(1000, dtype=np.float64)
    values[500] = 17.25
    form = to_decimal(values)
    assert form is not None and form.exponent == 0
    assert np.flatnonzero(form.exceptions).tolist() == [500]


def test_decimal_form_integers_with_trailing_zeros() -> None:
    form = to_decimal(np.array([1500.0, 2300.0, 0.0, -7000.0]))
    assert form is not None and form.exponent == 2
    np.testing.assert_array_equal(
        from_decimal(form.mantissas, form.exponent), [1500, 2300, 0, -7000]
    )


def test_decimal_form_specials_are_exceptions() -> None:
    stale = np.array([STALE_NAN_BITS], dtype=np.uint64).view(np.float64)[0]
    values = np.array([1.25, -0.0, np.inf, stale, 2.5, np.nan, 3.75, 1.0, 2.0, 3.0])
    form = to_decimal(values)
    assert form is not None and form.exponent == -2
    np.testing.assert_array_equal(form.exceptions, [0, 1, 1, 1, 0, 1, 0, 0, 0, 0])
    # exceptions repeat the previous good mantissa, so they cost nothing in the delta code
    np.testing.assert_array_equal(
        form.mantissas, [125, 125, 125, 125, 250, 250, 375, 100, 200, 300]
    )


def test_decimal_form_gives_up_on_arbitrary_floats() -> None:
    assert to_decimal(np.random.default_rng(4).normal(size=500)) is None


def test_value_section_uses_decimal_mode_for_decimals() -> None:
    out = bytearray()
    values = np.round(np.random.default_rng(5).normal(50, 5, 500), 2)
    values[7] = np.nan
    encode_values(values, out)
    assert out[0] == DECIMAL
    np.testing.assert_array_equal(decode_values(ByteReader(bytes(out)), 500), values)


def test_zstd_stage_raw_and_compressed() -> None:
    for payload in (b"abc", b"\x00" * 1000, bytes(range(256))):
        out = bytearray()
        write_stream(out, payload)
        assert read_stream(ByteReader(bytes(out)), len(payload)) == payload
    out = bytearray()
    write_stream(out, b"\x00" * 1000)
    assert len(out) < 50
    with pytest.raises(InvalidInput):
        read_stream(ByteReader(bytes(out)), 999)
    damaged = bytes(out[:-1]) + bytes([out[-1] ^ 0xFF])
    with pytest.raises(InvalidInput):
        read_stream(ByteReader(damaged), 1000)
