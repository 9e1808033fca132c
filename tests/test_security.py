"""Security through the real app: keys and roles on every route, 401/403/413/422/429, CORS, secrets."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from typer.testing import CliRunner

from openmanager.api.app import create_app
from openmanager.cli.main import app as cli
from openmanager.config import load_settings
from openmanager.errors import ConfigError
from openmanager.notify.config import load_config
from openmanager.security import secrets
from openmanager.security.ratelimit import RateLimits
from openmanager.security.roles import required_role
from openmanager.services.platform import Platform
from tests.helpers import require
from tests.metadb import MetaBackend

Make = Callable[..., tuple[TestClient, Platform]]


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Make]:
    clients: list[TestClient] = []

    def build(meta: MetaBackend | None = None, **security: Any) -> tuple[TestClient, Platform]:
        overrides: dict[str, Any] = {
            "profile": "test",
            "storage": {"path": str(tmp_path / f"data{len(clients)}")},
            "security": security,
        }
        if meta is not None:
            overrides["meta"] = meta.settings()
        platform = Platform(load_settings(None, overrides))
        client = TestClient(create_app(platform))
        client.__enter__()
        clients.append(client)
        return client, platform

    yield build
    for c in clients:
        c.__exit__(None, None, None)


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


SILENCE = {
    "matchers": [{"name": "alertname", "value": "X", "isRegex": False, "isEqual": True}],
    "startsAt": "2030-01-01T00:00:00Z",
    "endsAt": "2030-01-02T00:00:00Z",
    "createdBy": "t",
    "comment": "",
}


def test_auth_is_off_by_default(make: Make) -> None:
    client, _ = make()
    assert client.get("/api/v1/fleet").status_code == 200
    assert client.post("/api/v1/silences", json=SILENCE).status_code == 200


def test_roles_on_both_backends(make: Make, meta_backend: MetaBackend) -> None:
    client, platform = make(meta_backend, auth=True, key_cache_ttl="0s")
    keys = {role: platform.keys.create(role, role)[0] for role in ("viewer", "operator", "admin")}
    assert client.get("/api/v1/fleet").status_code == 401
    assert client.get("/api/v1/fleet", headers=_auth("om_not-a-key")).status_code == 401
    assert client.get("/-/healthy").status_code == 200  # probes stay public
    for role, key in keys.items():
        h = _auth(key)
        assert client.get("/api/v1/fleet", headers=h).status_code == 200, role
        assert client.post("/api/v1/query", data={"query": "1"}, headers=h).status_code == 200
        silence = client.post("/api/v1/silences", json=SILENCE, headers=h)
        assert silence.status_code == (403 if role == "viewer" else 200), role
        assert client.get("/api/v1/admin/keys", headers=h).status_code == (
            200 if role == "admin" else 403
        )
    denied = client.post("/api/v1/silences", json=SILENCE, headers={"X-API-Key": keys["viewer"]})
    assert denied.json()["error"] == "this needs the operator role; the key has viewer"
    # Admin creates a key over HTTP; it works at once; revoking it stops it.
    made = client.post("/api/v1/admin/keys", json={"name": "ci", "role": "operator"},
                       headers=_auth(keys["admin"])).json()["data"]  # fmt: skip
    assert (
        client.post("/api/v1/silences", json=SILENCE, headers=_auth(made["key"])).status_code == 200
    )
    listed = client.get("/api/v1/admin/keys", headers=_auth(keys["admin"])).json()["data"]
    assert "key" not in listed[-1] and listed[-1]["prefix"] == made["key"][:12]
    client.delete(f"/api/v1/admin/keys/{made['id']}", headers=_auth(keys["admin"]))
    assert client.get("/api/v1/fleet", headers=_auth(made["key"])).status_code == 401


def test_revocation_takes_effect_at_once_despite_the_key_cache(make: Make) -> None:
    client, platform = make(auth=True, key_cache_ttl="1h")
    key, info = platform.keys.create("dash", "viewer")
    assert client.get("/api/v1/fleet", headers=_auth(key)).status_code == 200
    assert client.get("/api/v1/fleet", headers=_auth(key)).status_code == 200  # from the cache
    platform.keys.revoke(str(info.id))
    assert client.get("/api/v1/fleet", headers=_auth(key)).status_code == 401


def test_every_route_needs_a_key_when_auth_is_on(make: Make) -> None:
    client, platform = make(auth=True)
    public = {"/-/healthy", "/-/ready", "/"}
    checked = 0
    for path, ops in client.get("/openapi.json").json()["paths"].items():
        if path in public:
            continue
        concrete = path.replace("{", "").replace("}", "")
        for method in ops:
            resp = client.request(method.upper(), concrete)
            assert resp.status_code == 401, (method, path, resp.status_code)
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            checked += 1
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/api/v1/stream") as ws:
        ws.receive_json()
    assert checked > 40
    assert required_role("POST", "/-/reload") == "admin"
    assert required_role("POST", "/api/v1/models/x/promote") == "admin"
    assert required_role("GET", "/api/v1/models") == "viewer"
    assert required_role("DELETE", "/api/v2/silence/x") == "operator"
    assert required_role("POST", "/api/v1/write") == "operator"


def test_websocket_takes_the_key_as_a_query_parameter(make: Make) -> None:
    client, platform = make(auth=True)
    key, _ = platform.keys.create("dash", "viewer")
    with client.websocket_connect(f"/api/v1/stream?api_key={key}") as ws:
        ws.send_json({"action": "subscribe", "channel": "system-status"})


def test_rate_limits_answer_429_with_retry_after(make: Make) -> None:
    client, platform = make(auth=True, rate_limit_per_key="3/minute", rate_limit_per_ip="5/minute")
    a, _ = platform.keys.create("a", "viewer")
    b, _ = platform.keys.create("b", "viewer")
    codes = [client.get("/api/v1/fleet", headers=_auth(a)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    resp = client.get("/api/v1/fleet", headers=_auth(a))
    assert resp.status_code == 429 and 1 <= int(resp.headers["Retry-After"]) <= 60
    assert resp.json()["errorType"] == "too_many_requests"
    # b has its own key budget, but the address (testclient) has used 5 requests by now.
    assert client.get("/api/v1/fleet", headers=_auth(b)).status_code == 429
    assert "this address" in client.get("/api/v1/fleet", headers=_auth(b)).json()["error"]
    assert client.get("/-/healthy").status_code == 200  # probes are not counted


def test_request_size_limit_413(make: Make) -> None:
    client, _ = make(max_body_bytes=2048)
    big = b"x" * 4096
    resp = client.post("/api/v1/write", content=big)
    assert resp.status_code == 413 and "2048" in resp.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        for _ in range(4):
            yield b"y" * 1024

    assert client.post("/api/v1/write", content=chunks()).status_code == 413
    assert client.post("/api/v1/silences", json=SILENCE).status_code == 200


def test_validation_names_field_and_reason(make: Make) -> None:
    client, _ = make()
    resp = client.post("/api/v1/admin/keys", json={"name": "x", "role": "root"})
    assert resp.status_code == 400  # Prometheus-style envelope under /api/v1
    assert resp.json()["error"].startswith("role: Input should be 'viewer', 'operator' or 'admin'")
    resp = client.post("/api/v1/admin/keys", json={"name": "x", "role": "viewer", "extra": 1})
    assert "extra: Extra inputs are not permitted" in resp.json()["error"]


def test_cors_off_by_default_and_configurable(make: Make) -> None:
    client, _ = make()
    pre = {"Origin": "https://grafana.example", "Access-Control-Request-Method": "GET"}
    assert "access-control-allow-origin" not in client.options("/api/v1/fleet", headers=pre).headers
    client2, _ = make(auth=True, cors_origins=["https://grafana.example"])
    resp = client2.options("/api/v1/fleet", headers=pre)
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == "https://grafana.example"
    assert (
        client2.get("/api/v1/fleet", headers={"Origin": "https://evil.example"}).status_code == 401
    )


def test_secret_round_trip_and_tampering() -> None:
    key = secrets.generate_key()
    token = secrets.encrypt("hunter2", key)
    assert token.startswith("enc:v1:") and "hunter2" not in token
    assert secrets.encrypt("hunter2", key) != token  # random nonce
    assert secrets.decrypt(token, key) == "hunter2"
    assert secrets.reveal(token, {secrets.KEY_ENV: key}) == "hunter2"
    assert secrets.reveal("plain", {}) == "plain"
    with pytest.raises(ConfigError, match="wrong key or altered"):
        secrets.decrypt(token, secrets.generate_key())
    raw = bytearray(base64.b64decode(token[7:]))
    raw[-1] ^= 1
    with pytest.raises(ConfigError, match="wrong key or altered"):
        secrets.decrypt("enc:v1:" + base64.b64encode(bytes(raw)).decode(), key)
    with pytest.raises(ConfigError, match="is not set"):
        secrets.reveal(token, {})
    with pytest.raises(ConfigError, match="32 bytes"):
        secrets.encrypt("x", base64.b64encode(b"short").decode())


def test_encrypted_receiver_secrets_are_used_but_never_shown(
    make: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = secrets.generate_key()
    monkeypatch.setenv(secrets.KEY_ENV, key)
    slack = "https://hooks.slack.example/services/T000/B000/XXXX"
    am = tmp_path / "am.yml"
    am.write_text(
        "global:\n  smtp_smarthost: mail:25\n  smtp_from: a@b.c\n"
        f"  smtp_auth_password: {secrets.encrypt('s3cret', key)}\n"
        "route:\n  receiver: team\n"
        "receivers:\n  - name: team\n"
        f"    slack_configs:\n      - api_url: {secrets.encrypt(slack, key)}\n"
        "    email_configs:\n      - to: x@y.z\n        auth_password: plain-pw\n"
    )
    cfg = load_config(am)
    assert cfg.receivers["team"].slacks[0].api_url == slack
    assert cfg.receivers["team"].emails[0].auth_password == "plain-pw"
    client, platform = make()
    platform.notify.settings.config_file = am
    original = client.get("/api/v2/status").json()["config"]["original"]
    for leaked in ("s3cret", "plain-pw", "enc:v1:", slack):
        assert leaked not in original
    assert original.count("<secret>") == 3
    monkeypatch.setenv(secrets.KEY_ENV, secrets.generate_key())
    with pytest.raises(ConfigError, match="api_url: encrypted secret does not decrypt"):
        load_config(am)


def test_config_show_redacts_the_database_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENMANAGER_META__URL", "postgresql://om:topsecret@db.example/om")
    monkeypatch.setenv("OPENMANAGER_ASSISTANT__LLM__API_KEY", "sk-live-123")
    out = CliRunner().invoke(cli, ["config", "show"]).output
    assert "topsecret" not in out and "postgresql://om:***@db.example/om" in out
    assert "sk-live-123" not in out and "api_key: <secret>" in out


def test_keys_and_users_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = CliRunner().invoke
    assert run(cli, ["users", "add", "alice", "--role", "operator"]).exit_code == 0
    res = run(cli, ["keys", "create", "--role", "admin", "--user", "alice"])
    assert res.exit_code == 1 and "a key cannot be admin" in res.output
    res = run(cli, ["keys", "create", "--role", "viewer", "--user", "alice", "-n", "grafana"])
    assert res.exit_code == 0
    secret = res.stdout.strip().splitlines()[-1]
    assert secret.startswith("om_")
    listed = run(cli, ["keys", "list", "--json"]).stdout
    assert '"grafana"' in listed and secret not in listed and '"active"' in listed
    assert run(cli, ["users", "disable", "alice"]).exit_code == 0
    settings = load_settings(None, {"storage": {"path": str(tmp_path / "data")}})
    platform = Platform(settings)
    try:
        assert platform.keys.verify(secret) is None  # disabled user
        platform.keys.set_user_disabled("alice", False)
        assert platform.keys.verify(secret) is not None
        assert run(cli, ["keys", "revoke", "1"]).exit_code == 0
        assert platform.keys.verify(secret) is None
    finally:
        platform.notify.close()
        platform.storage.close()
        platform.meta.close()
    assert run(cli, ["keys", "revoke", "99"]).exit_code == 1


def test_rate_limit_counters_shared_through_redis() -> None:
    """Two instances pointing security.rate_limit_storage at one Redis share one budget."""
    url = "redis://127.0.0.1:6379/0"
    try:
        answers = bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except (redis.RedisError, OSError):
        answers = False
    require(answers, f"Redis does not answer at {url} (apt-get install redis-server)")
    first = RateLimits("2/minute", "", url)
    second = RateLimits("2/minute", "", url)
    address = f"test-{uuid.uuid4().hex}"

    async def run() -> list[float | None]:
        out = []
        for limiter in (first, second, first, second):
            out.append(await limiter.retry_after_ip(address))
        return out

    waits = asyncio.run(run())
    assert waits[:2] == [None, None]
    assert all(w is not None and 1 <= w <= 60 for w in waits[2:])
