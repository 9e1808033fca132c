"""Deployment files, checked without a container engine: hadolint, docker-compose config,
Kubernetes schemas (kubernetes-validate, offline), systemd-analyze verify; each check is also
shown to fail on a broken copy."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from openmanager.config import load_settings
from tests.helpers import require, require_binary

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"


def run(cmd: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=120)


def k8s_docs() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in k8s_docs() if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


# Dockerfile


def test_hadolint_accepts_the_dockerfile_and_refuses_a_bad_one(tmp_path: Path) -> None:
    hadolint = require_binary("hadolint")
    good = run([hadolint, "Dockerfile"])
    assert good.returncode == 0, good.stdout + good.stderr
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM python:latest\nRUN apt-get update && apt-get install curl\nCMD openmanager\n"
    )
    out = run([hadolint, str(bad)])
    assert out.returncode != 0 and "DL3007" in out.stdout  # :latest


def test_dockerfile_is_slim_non_root_with_a_health_check() -> None:
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n\s*", " ", text)
    froms = re.findall(r"^FROM (\S+)", joined, re.M)
    assert froms and all("-slim" in f for f in froms)
    users = re.findall(r"^USER (\S+)", joined, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    (health,) = re.findall(r"^HEALTHCHECK .*", joined, re.M)
    assert "/-/healthy" in health
    for src in re.findall(r"^COPY (?!--from)(.+) \S+$", joined, re.M):
        for item in src.split():
            assert (ROOT / item).exists(), f"COPY source {item} is missing"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "openmanager" not in ignored and "README.md" not in ignored  # the build needs them


def test_shipped_config_is_valid_and_serves_on_all_interfaces() -> None:
    settings = load_settings(ROOT / "deploy" / "config" / "openmanager.yaml")
    assert settings.profile == "production"
    assert settings.server.host == "0.0.0.0" and settings.server.port == 8080
    assert str(settings.storage.path) == "/var/lib/openmanager"


# compose


def compose_config(compose: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = require_binary("docker-compose")
    return run([binary, "-f", str(compose), *args, "config"], cwd=compose.parent)


def test_compose_file_is_valid_and_complete() -> None:
    out = compose_config(
        ROOT / "compose.yaml", "--profile", "grafana", "--profile", "victoriametrics"
    )
    assert out.returncode == 0, out.stderr
    cfg = yaml.safe_load(out.stdout)
    services = cfg["services"]
    assert set(services) == {"openmanager", "postgres", "redis", "victoriametrics", "grafana"}
    om = services["openmanager"]
    assert om["environment"]["OPENMANAGER_REDIS__URL"] == "redis://redis:6379/0"
    assert om["environment"]["OPENMANAGER_META__URL"].startswith("postgresql://")
    assert {d for d in om["depends_on"]} == {"postgres", "redis"}
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"]
    for service in services.values():
        for vol in service.get("volumes", []):
            # short "src:dst[:mode]" (docker-compose 1.x) or long form (Compose v2)
            source = vol.split(":")[0] if isinstance(vol, str) else vol.get("source", "")
            if source.startswith("/"):  # a bind mount: every file it names is in the repository
                assert Path(source).exists(), source
    optional = {n for n, svc in services.items() if svc.get("profiles")}
    assert optional == {"victoriametrics", "grafana"}  # opt-in with --profile


def test_compose_grafana_gets_the_example_dashboard_and_a_reachable_data_source() -> None:
    deploy_ds = yaml.safe_load((ROOT / "deploy/grafana/datasources/openmanager.yaml").read_text())
    example_ds = yaml.safe_load(
        (ROOT / "examples/grafana/provisioning/datasources/openmanager.yaml").read_text()
    )
    ours, theirs = deploy_ds["datasources"][0], example_ds["datasources"][0]
    assert ours["url"] == "http://openmanager:8080"
    assert {k: v for k, v in ours.items() if k not in ("url", "jsonData")} == {
        k: v for k, v in theirs.items() if k not in ("url", "jsonData")
    }
    provider = yaml.safe_load(
        (ROOT / "examples/grafana/provisioning/dashboards/openmanager.yaml").read_text()
    )
    path = provider["providers"][0]["options"]["path"]
    compose = (ROOT / "compose.yaml").read_text()
    assert f"./examples/grafana/dashboards:{path}:ro" in compose


def test_compose_config_refuses_a_broken_file(tmp_path: Path) -> None:
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  web:\n    image: x\n    ports: 8080\n    restart: sometimes\n")
    out = compose_config(bad)
    assert out.returncode != 0 and "invalid" in out.stderr


# Kubernetes


def validate_k8s(doc: dict[str, Any]) -> None:
    try:
        import kubernetes_validate
    except ImportError:
        require(False, "kubernetes-validate is not installed (pip install kubernetes-validate)")
        raise
    kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_manifests_match_the_kubernetes_schemas() -> None:
    docs = k8s_docs()
    assert {d["kind"] for d in docs} == {
        "ConfigMap",
        "PersistentVolumeClaim",
        "Deployment",
        "Service",
    }
    for doc in docs:
        validate_k8s(doc)
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"
    )


def test_a_broken_manifest_is_refused() -> None:
    import copy

    deployment = copy.deepcopy(by_kind("Deployment", "openmanager"))
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    with pytest.raises(Exception, match="containerPort"):
        validate_k8s(deployment)
    deployment = copy.deepcopy(by_kind("Deployment", "openmanager"))
    deployment["spec"]["replicas"] = 1
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(Exception, match="livenessprobe"):
        validate_k8s(deployment)


def test_deployment_probes_volumes_and_non_root() -> None:
    deployment = by_kind("Deployment", "openmanager")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    assert container["readinessProbe"]["httpGet"]["path"] == "/-/ready"
    assert pod["securityContext"]["runAsNonRoot"] is True
    claims = {
        v["persistentVolumeClaim"]["claimName"]
        for v in pod["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claims == {by_kind("PersistentVolumeClaim", "openmanager-data")["metadata"]["name"]}
    config_maps = {v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v}
    assert config_maps == {"openmanager-config", "openmanager-rules"}
    service = by_kind("Service", "openmanager")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_configmaps_carry_the_shipped_config_and_rules() -> None:
    config = yaml.safe_load(by_kind("ConfigMap", "openmanager-config")["data"]["openmanager.yaml"])
    assert config == yaml.safe_load((ROOT / "deploy/config/openmanager.yaml").read_text())
    rules = by_kind("ConfigMap", "openmanager-rules")["data"]["default.yml"]
    assert rules == (ROOT / "openmanager/rules/default_rules.yaml").read_text()


def test_configmap_rules_pass_promtool(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    path = tmp_path / "default.yml"
    path.write_text(by_kind("ConfigMap", "openmanager-rules")["data"]["default.yml"])
    out = run([promtool, "check", "rules", str(path)])
    assert out.returncode == 0, out.stdout + out.stderr


# systemd


def verify_unit(unit: Path, tmp_path: Path) -> str:
    """systemd-analyze verify on a copy whose ExecStart is this environment's `openmanager`
    (verify requires the binary to exist); its complaints, empty when the unit is clean."""
    analyze = require_binary("systemd-analyze")
    openmanager = require_binary("openmanager")
    copy = tmp_path / unit.name
    copy.write_text(unit.read_text().replace("/opt/openmanager/bin/openmanager", openmanager))
    out = run([analyze, "verify", str(copy)])
    return (out.stdout + out.stderr).strip() + (
        "" if out.returncode == 0 else f" (rc {out.returncode})"
    )


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    unit = ROOT / "deploy/systemd/openmanager.service"
    assert verify_unit(unit, tmp_path) == ""
    text = unit.read_text()
    assert "ExecStart=/opt/openmanager/bin/openmanager serve" in text
    assert "User=openmanager" in text and "StateDirectory=openmanager" in text


def test_systemd_verify_reports_a_broken_unit(tmp_path: Path) -> None:
    bad = tmp_path / "src" / "openmanager.service"
    bad.parent.mkdir()
    text = (ROOT / "deploy/systemd/openmanager.service").read_text()
    bad.write_text(text.replace("Restart=on-failure", "Restart=sometimes"))
    assert "restart specifier" in verify_unit(bad, tmp_path)
