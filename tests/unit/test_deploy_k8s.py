"""Every Kubernetes overlay (deploy/k8s/*) builds with kustomize (the Go binary scripts/setup
installs from the Go module proxy), and what it builds is valid: the core kinds against the
Kubernetes OpenAPI schemas that the kubernetes-validate wheel ships (strict: an unknown field
fails), the custom resources (KEDA, Prometheus Operator) by their references -- a ScaledObject
scales a Deployment that exists, authenticates with a TriggerAuthentication that exists, whose
secret keys the Secret has; a Service selects pods that expose its target port."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
OVERLAYS = sorted(p.parent.name for p in K8S.glob("*/kustomization.yaml"))
KUBERNETES_VERSION = "1.31"  # the oldest release the manifests promise to fit
CUSTOM_KINDS = {("keda.sh/v1alpha1", "ScaledObject"), ("keda.sh/v1alpha1", "TriggerAuthentication"),
                ("monitoring.coreos.com/v1", "PodMonitor"),
                ("monitoring.coreos.com/v1", "PrometheusRule")}
IMAGE = "ghcr.io/example/helpline:0.1.0"


def kustomize() -> str:
    local = REPO / ".cache" / "go-bin" / "kustomize"
    found = str(local) if os.access(local, os.X_OK) else shutil.which("kustomize")
    assert found, "kustomize not found: scripts/setup builds it into .cache/go-bin"
    return found


@cache
def build(overlay: str) -> tuple[dict[str, Any], ...]:
    done = subprocess.run([kustomize(), "build", str(K8S / overlay)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return tuple(d for d in yaml.safe_load_all(done.stdout) if d)


def of(kind: str, docs: tuple[dict[str, Any], ...] | None = None) -> dict[str, dict[str, Any]]:
    found = docs if docs is not None else tuple(d for o in OVERLAYS for d in build(o))
    return {d["metadata"]["name"]: d for d in found if d["kind"] == kind}


def test_the_overlays_are_there() -> None:
    assert set(OVERLAYS) >= {"base", "keda", "monitoring"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_builds_and_validates(overlay: str) -> None:
    docs = build(overlay)
    assert docs
    for d in docs:
        name = f'{d["kind"]}/{d["metadata"]["name"]}'
        if d["kind"] != "Namespace":
            assert d["metadata"].get("namespace") == "helpline", name
        if (d["apiVersion"], d["kind"]) in CUSTOM_KINDS:
            continue  # checked by their references below
        try:
            kubernetes_validate.validate(d, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name}: {exc.message} at {list(exc.path)}")


def test_a_bad_manifest_is_refused() -> None:
    deployment = next(iter(of("Deployment", build("base")).values()))
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_container_runs_the_image_the_kustomization_names() -> None:
    for kind in ("Deployment", "Job"):
        for name, d in of(kind, build("base")).items():
            for c in d["spec"]["template"]["spec"]["containers"]:
                assert c["image"] == IMAGE, name


def test_the_ticket_api_has_a_deployment_and_a_service() -> None:
    base = build("base")
    api = of("Deployment", base)["helpline-api"]
    container = api["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][-4:] == ["tickets", "api", "--host", "0.0.0.0"]
    assert of("Service", base)["helpline-api"]["spec"]["ports"][0]["targetPort"] == "api"


def test_every_service_selects_pods_that_expose_its_port() -> None:
    base = build("base")
    deployments = of("Deployment", base).values()
    for name, svc in of("Service", base).items():
        selector = svc["spec"]["selector"].items()
        pods = [d["spec"]["template"] for d in deployments
                if selector <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert pods, name
        for port in svc["spec"]["ports"]:
            for pod in pods:
                names = {p["name"] for c in pod["spec"]["containers"] for p in c["ports"]}
                assert port["targetPort"] in names, (name, port)


def test_keda_scales_deployments_that_exist_with_the_workers_sasl_secret() -> None:
    base, keda = build("base"), build("keda")
    deployments = of("Deployment", base)
    secret = of("Secret", base)["helpline-secrets"]
    auths = of("TriggerAuthentication", keda)
    assert auths
    for name, auth in auths.items():
        refs = {r["parameter"]: r for r in auth["spec"]["secretTargetRef"]}
        assert set(refs) >= {"username", "password"}, name
        for ref in refs.values():
            assert ref["name"] == "helpline-secrets" and ref["key"] in secret["stringData"]
    config = of("ConfigMap", base)["helpline-config"]["data"]["helpline.toml"]
    assert 'security_protocol = "SASL_SSL"' in config
    assert 'sasl_mechanism = "SCRAM-SHA-512"' in config
    scaled = of("ScaledObject", keda)
    assert scaled
    for name, so in scaled.items():
        assert so["spec"]["scaleTargetRef"]["name"] in deployments, name
        for trigger in so["spec"]["triggers"]:
            assert trigger["authenticationRef"]["name"] in auths, name
            assert trigger["metadata"]["sasl"] == "scram_sha512", name
            assert trigger["metadata"]["tls"] == "enable", name


def test_the_configmaps_toml_is_a_valid_helpline_config(tmp_path: Path) -> None:
    from runtime.settings import load_settings

    path = tmp_path / "helpline.toml"
    path.write_text(of("ConfigMap", build("base"))["helpline-config"]["data"]["helpline.toml"])
    settings = load_settings(path, env={})
    assert settings.tickets.api_host == "0.0.0.0"
    api = of("Deployment", build("base"))["helpline-api"]["spec"]["template"]["spec"]
    probe_host = api["containers"][0]["livenessProbe"]["httpGet"]["httpHeaders"][0]["value"]
    assert probe_host in settings.tickets.api_allowed_hosts
