"""The remote-write receiver `POST /api/v1/write` over the real app and embedded store."""

from __future__ import annotations

import os
import time

import cramjam
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openmanager.ingest.remote_write import HEADERS, encode_write_request
from openmanager.samples import SampleBatch, make_labels
from openmanager.tsdb.matchers import eq
from tests.api import conftest as api_conftest
from tests.api.conftest import MakeClient

FUZZ_EXAMPLES = int(os.environ.get("OPENMANAGER_FUZZ_EXAMPLES", "100"))
NO_SIM = {"simulator": {"enabled": False}}
make_client = api_conftest.make_client  # the app factory fixture, shared with tests/api


def _batch(name: str, stamps: list[int], values: list[float]) -> SampleBatch:
    return SampleBatch.from_series([(make_labels(name, {"job": "rw"}), stamps, values)])


def _stored(client: object, name: str) -> tuple[list[int], list[float]]:
    storage = client.app.state.platform.storage  # type: ignore[attr-defined]
    found = storage.select([eq("__name__", name)], 0, 2**62)
    if not found:
        return [], []
    return found[0].timestamps.tolist(), found[0].values.tolist()


def _metric(client: object, outcome: str) -> float:
    text = client.get("/metrics").text  # type: ignore[attr-defined]
    for line in text.splitlines():
        if line.startswith(f'openmanager_remote_write_samples_total{{outcome="{outcome}"}}'):
            return float(line.split()[-1])
    return 0.0


def test_write_stores_and_answers_204(make_client: MakeClient) -> None:
    client = make_client(**NO_SIM)
    now = int(time.time() * 1000)
    before = _metric(client, "accepted")
    resp = client.post(
        "/api/v1/write",
        content=encode_write_request(_batch("rw_a", [now - 2000, now - 1000], [1.0, 2.5])),
        headers=HEADERS,
    )
    assert resp.status_code == 204, resp.text
    assert _stored(client, "rw_a") == ([now - 2000, now - 1000], [1.0, 2.5])
    assert _metric(client, "accepted") - before == 2


def test_malformed_payloads_are_400_with_a_reason(make_client: MakeClient) -> None:
    client = make_client(**NO_SIM)
    not_snappy = client.post("/api/v1/write", content=b"\xff\x00garbage", headers=HEADERS)
    assert not_snappy.status_code == 400
    assert not_snappy.text.strip()
    bad_proto = bytes(cramjam.snappy.compress_raw(b"\x0a\x10\x0a\x03abc"))  # truncated
    resp = client.post("/api/v1/write", content=bad_proto, headers=HEADERS)
    assert resp.status_code == 400
    assert resp.text.strip()


def test_out_of_order_samples_are_400_and_counted(make_client: MakeClient) -> None:
    client = make_client(**NO_SIM)
    now = int(time.time() * 1000)
    ok = client.post(
        "/api/v1/write", content=encode_write_request(_batch("rw_o", [now], [1.0])), headers=HEADERS
    )
    assert ok.status_code == 204
    before = _metric(client, "out_of_order") + _metric(client, "too_old")
    # Same timestamp, different value: Prometheus's "duplicate sample" conflict; and one too old.
    late = _batch("rw_o", [now - 3_600_000, now], [5.0, 9.0])
    resp = client.post("/api/v1/write", content=encode_write_request(late), headers=HEADERS)
    assert resp.status_code == 400
    assert resp.text.startswith(("out of order sample", "out of bounds"))
    assert _metric(client, "out_of_order") + _metric(client, "too_old") - before == 2
    assert _stored(client, "rw_o") == ([now], [1.0])


def test_targets_endpoint_is_empty_without_scrape_configs(make_client: MakeClient) -> None:
    body = make_client(**NO_SIM).get("/api/v1/targets").json()
    assert body == {"status": "success", "data": {"activeTargets": [], "droppedTargets": []}}


def test_arbitrary_bodies_never_500_and_never_lose_data(make_client: MakeClient) -> None:
    client = make_client(**NO_SIM)
    keep_ts = int(time.time() * 1000)
    seed = encode_write_request(_batch("rw_keep", [keep_ts], [42.0]))
    assert client.post("/api/v1/write", content=seed, headers=HEADERS).status_code == 204

    @settings(
        max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(body=st.binary(max_size=512), compress=st.booleans())
    def post(body: bytes, compress: bool) -> None:
        payload = bytes(cramjam.snappy.compress_raw(body)) if compress else body
        resp = client.post("/api/v1/write", content=payload, headers=HEADERS)
        assert resp.status_code in (204, 400), resp.text
        assert _stored(client, "rw_keep") == ([keep_ts], [42.0])

    post()


def test_batch_values_round_trip_bit_exactly(make_client: MakeClient) -> None:
    client = make_client(**NO_SIM)
    now = int(time.time() * 1000)
    values = [float("inf"), -0.0, 1e-300, float(np.nextafter(1.0, 2.0))]
    stamps = [now - 4000 + i * 1000 for i in range(4)]
    resp = client.post(
        "/api/v1/write",
        content=encode_write_request(_batch("rw_x", stamps, values)),
        headers=HEADERS,
    )
    assert resp.status_code == 204
    got_t, got_v = _stored(client, "rw_x")
    assert got_t == stamps
    assert np.array_equal(np.asarray(got_v).view(np.uint64), np.asarray(values).view(np.uint64))
