"""The deploy files agree with the code: every variable they set is one Settings reads, the
values they ship parse, probes hit the real routes, the image runs unprivileged."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bots import cli
from bots.server import SHUTDOWN_SECONDS, create_app
from bots.settings import (
    ENV_VARS,
    LINE_SECRETS,
    SECRET_ENV_VARS,
    SLACK_SECRETS,
    LineApi,
    LineSettings,
    Settings,
    SlackSettings,
)

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PORT = 8080


def k8s_docs() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def k8s(kind: str, name: str = "iijmio-bot") -> dict[str, Any]:
    [doc] = [d for d in k8s_docs() if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


WORKER = "iijmio-bot-worker"  # worker.yaml: `iijmio-bot worker` apart from the webhook pods


def env_example() -> list[tuple[str, str, list[str]]]:
    """(name, value, comment lines just above it) for each assignment in .env.example."""
    out: list[tuple[str, str, list[str]]] = []
    comments: list[str] = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.startswith("#"):
            comments.append(line)
        elif "=" in line:
            name, _, value = line.partition("=")
            out.append((name.strip(), value.strip(), comments))
            comments = []
        else:
            comments = []
    return out


def app_paths() -> set[str]:
    everything = Settings(
        line=LineSettings(channel_secret="s", api=LineApi(access_token="t")),
        slack=SlackSettings(signing_secret="s", bot_token="t"),
        metrics_token="m" * 16,
    )
    return {route.path for route in create_app(everything).routes}  # type: ignore[attr-defined]


def test_env_example_documents_every_variable_exactly_once_with_a_comment() -> None:
    entries = env_example()
    names = [name for name, _, _ in entries]
    assert sorted(names) == sorted(ENV_VARS)
    for name, _, comments in entries:
        assert comments, f"{name} has no comment above it"


def test_env_example_ships_no_platform_secrets_and_parses() -> None:
    values = {name: value for name, value, _ in env_example()}
    for name in (*LINE_SECRETS, *SLACK_SECRETS):
        assert values[name] == "", f"{name} must be left empty in .env.example"
    settings = Settings.from_env(values)
    assert settings.line is None and settings.slack is None


def test_compose_runs_the_bot_against_its_own_healthy_redis() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    bot, redis = compose["services"]["bot"], compose["services"]["redis"]
    assert redis["image"] == "redis:7-alpine"
    assert "healthcheck" in redis and "healthcheck" in bot
    assert bot["depends_on"]["redis"]["condition"] == "service_healthy"
    env = bot["environment"]
    assert set(env) <= set(ENV_VARS)
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert Settings.from_env(env).redis_url == "redis://redis:6379/0"
    env_files = [e["path"] if isinstance(e, dict) else e for e in bot["env_file"]]
    assert env_files == ["../.env"]
    assert (DEPLOY / bot["build"]["context"] / bot["build"]["dockerfile"]).is_file()
    assert f"{PORT}:{PORT}" in bot["ports"]
    probe = " ".join(bot["healthcheck"]["test"])
    assert any(path in probe for path in app_paths() if path.endswith("z"))


def test_k8s_configmap_and_secret_cover_every_variable_and_secrets_stay_secret() -> None:
    config = k8s("ConfigMap")["data"]
    secret = k8s("Secret")["stringData"]
    assert set(config) | set(secret) == set(ENV_VARS)
    assert not set(config) & set(secret)
    assert set(SECRET_ENV_VARS) <= set(secret), "credentials must not sit in the ConfigMap"
    assert all(isinstance(v, str) for v in config.values())  # ConfigMap values are strings
    Settings.from_env(config)  # the shipped values are valid
    Settings.from_env(secret)


def test_k8s_deployment_probes_hit_the_real_routes_and_reads_config_and_secret() -> None:
    deployment = k8s("Deployment")
    pod = deployment["spec"]["template"]
    [container] = pod["spec"]["containers"]
    paths = app_paths()
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"/readyz", "/healthz", "/metrics"} <= paths
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": PORT}
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] in ports
    refs = {next(iter(ref)): ref[next(iter(ref))]["name"] for ref in container["envFrom"]}
    assert refs == {
        "configMapRef": k8s("ConfigMap")["metadata"]["name"],
        "secretRef": k8s("Secret")["metadata"]["name"],
    }
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_k8s_service_selects_the_pods_and_targets_the_named_port() -> None:
    service = k8s("Service")
    labels = k8s("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    [port] = service["spec"]["ports"]
    assert port["targetPort"] == "http"


def test_dockerfile_runs_serve_on_8080_unprivileged_with_a_healthcheck() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    assert froms and all(f == "python:3.11-slim" for f in froms)
    assert 'CMD ["iijmio-bot", "serve", "--host", "0.0.0.0", "--port", "8080"]' in text
    [user] = re.findall(r"^USER (\S+)", text, re.M)
    assert user.split(":")[0] not in ("0", "root")
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.M)
    assert f"EXPOSE {PORT}" in text


@pytest.mark.parametrize("pattern", [".env", ".git", ".venv"])
def test_dockerignore_keeps_local_secrets_and_clutter_out_of_the_image(pattern: str) -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert pattern in lines


def test_everything_the_image_build_copies_is_in_the_build_context() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    sources = [
        src
        for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.M)
        for src in line.split()[:-1]
    ]
    ignored = set((ROOT / ".dockerignore").read_text().splitlines())
    assert "pyproject.toml" in sources
    for src in sources:
        assert (ROOT / src).exists(), f"the image build needs {src}"
        assert src not in ignored, f".dockerignore drops {src}, which the build copies"


def _seconds(value: str | int) -> int:
    """A compose duration (\"40s\", \"1m30s\") or a plain number of seconds."""
    if isinstance(value, int):
        return value
    total = 0
    for amount, unit in re.findall(r"(\d+)([hms])", value):
        total += int(amount) * {"h": 3600, "m": 60, "s": 1}[unit]
    return total


def test_container_grace_periods_cover_the_servers_whole_shutdown() -> None:
    # SIGTERM → webhooks in flight finish → committed replies are delivered → exit. A grace
    # period shorter than that kills the process with answers still on their way.
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert _seconds(compose["services"]["bot"]["stop_grace_period"]) >= SHUTDOWN_SECONDS
    pod = k8s("Deployment")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pause = int(pre_stop[1]) if pre_stop[:1] == ["sleep"] else 0
    assert pod["terminationGracePeriodSeconds"] >= pause + SHUTDOWN_SECONDS


def _runs_the_worker(argv: list[str]) -> Any:
    # The console script (pyproject's [project.scripts]) and a subcommand the CLI maps to
    # the worker, parsed by the CLI's own parser.
    assert argv[0] == "iijmio-bot"
    args = cli._parser().parse_args(argv[1:])
    assert args.func is cli._worker
    return args


def test_k8s_worker_runs_iijmio_bot_worker_from_the_same_image_and_settings() -> None:
    serve, worker = k8s("Deployment"), k8s("Deployment", WORKER)
    [serve_box] = serve["spec"]["template"]["spec"]["containers"]
    [box] = worker["spec"]["template"]["spec"]["containers"]
    args = _runs_the_worker(box["args"])
    assert box["image"] == serve_box["image"]
    assert box["envFrom"] == serve_box["envFrom"]
    # Its one port is its /metrics, where the scrape annotations point.
    assert {p["name"]: p["containerPort"] for p in box["ports"]} == {"metrics": args.metrics_port}
    assert args.metrics_host == "0.0.0.0"
    notes = worker["spec"]["template"]["metadata"]["annotations"]
    assert notes["prometheus.io/port"] == str(args.metrics_port)
    assert notes["prometheus.io/path"] == "/metrics"
    # No probe: no Service routes here, and the sending loop waits out outages by design.
    assert not {"readinessProbe", "livenessProbe", "startupProbe"} & set(box)
    assert box["resources"]["requests"] and box["resources"]["limits"]
    assert worker["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert box["securityContext"]["readOnlyRootFilesystem"] is True
    # With the worker deployed, the serve pods leave sending to it (the worker reads the
    # same ConfigMap and ignores the switch).
    assert Settings.from_env(k8s("ConfigMap")["data"]).reminder_worker is False


def test_k8s_worker_pods_are_never_taken_for_webhook_pods() -> None:
    worker = k8s("Deployment", WORKER)
    labels = worker["spec"]["template"]["metadata"]["labels"]
    assert worker["spec"]["selector"]["matchLabels"].items() <= labels.items()
    serve_labels = k8s("Deployment")["spec"]["template"]["metadata"]["labels"]
    selectors = [
        k8s("Service")["spec"]["selector"],
        k8s("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
        k8s("Deployment")["spec"]["selector"]["matchLabels"],
    ]
    for selector in selectors:
        assert not selector.items() <= labels.items(), f"{selector} selects the worker pods"
    assert not worker["spec"]["selector"]["matchLabels"].items() <= serve_labels.items()
    assert k8s("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"] != WORKER


def test_compose_worker_profile_runs_iijmio_bot_worker_on_the_bots_redis() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    bot, worker = services["bot"], services["worker"]
    _runs_the_worker(worker["command"])
    assert worker["profiles"] == ["worker"]  # off unless asked for
    assert worker["image"] == bot["image"]
    assert worker["env_file"] == bot["env_file"]
    assert worker["environment"]["REDIS_URL"] == bot["environment"]["REDIS_URL"]
    assert set(worker["environment"]) <= set(ENV_VARS)
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    # The image's HEALTHCHECK asks serve's HTTP port, which the worker does not open.
    assert worker["healthcheck"] == {"disable": True}
