"""The alerts an operations team gets (deploy/prometheus/rules.yml): checked and unit-tested by
Prometheus's own promtool (rules_test.yml shows each alert firing, and silent where it should
be), reading only metrics the platform exposes, every one of them named `csp_...`; the lags
they read grow while a relay or a runner is stuck (a value set after each batch would stay
at its last, healthy one); both Prometheus configurations (the local stack's, compose's)
scrape every process with a token /metrics accepts; the Grafana dashboard reads what exists.

promtool comes with Debian's prometheus package, which deploy/local/bootstrap.sh installs
(`make test`, `make run`): without it these tests fail, they do not skip."""

from __future__ import annotations

import ast
import asyncio
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest
import yaml
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from deploy.local.stack import ALERT_RULES, ROOT, LocalStack, service_processes
from shared.eventstore import ConcurrencyConflict, Cursor, Outgoing
from shared.http import WorkerParts, instrument, worker_app
from shared.projection import ProjectionRunner
from shared.projection import failure_cause as runner_failure_cause
from shared.relay import Relay
from shared.relay import failure_cause as relay_failure_cause
from shared.settings import Settings
from tests.infrastructure import eventually

PROMETHEUS = ROOT / "deploy" / "prometheus"
RULE_TESTS = PROMETHEUS / "rules_test.yml"
COMPOSE_PROMETHEUS = PROMETHEUS / "prometheus.yml"
GRAFANA = ROOT / "deploy" / "grafana"
OPERATIONS_DOC = ROOT / "docs" / "operations.md"
METRIC = re.compile(r"\b(csp_[a-z0-9_]+)")
# Series Prometheus makes itself: a target's health, the alerts' own state.
PROMETHEUS_OWN = {"up", "ALERTS"}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    found = shutil.which("promtool")
    assert found, (
        "promtool is not installed: deploy/local/bootstrap.sh installs it with Debian's "
        "prometheus package (`make test` and `make run` run bootstrap.sh first)"
    )
    return subprocess.run(
        [found, *args], capture_output=True, text=True, timeout=120, cwd=PROMETHEUS
    )


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERT_RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


# -- promtool -----------------------------------------------------------------------------------


def test_promtool_finds_the_rules_valid() -> None:
    result = promtool("check", "rules", str(ALERT_RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_every_alert_fires_and_stays_silent_as_its_unit_tests_say() -> None:
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_unit_tested_firing_and_silent() -> None:
    """Firing on the series that should raise it (promtool wants the exact list, so its
    healthy neighbours are shown silent too), and silent while only pending or once over."""
    cases = [
        case
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
    ]
    for rule in alert_rules():
        mine = [c for c in cases if c["alertname"] == rule["alert"]]
        assert any(c["exp_alerts"] for c in mine), f"{rule['alert']} is never shown firing"
        assert any(not c["exp_alerts"] for c in mine), f"{rule['alert']} is never shown silent"


def test_every_alert_waits_has_a_severity_and_names_its_runbook() -> None:
    doc = OPERATIONS_DOC.read_text()
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names))
    for rule in alert_rules():
        name = rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "")), f"{name}: no `for:`"
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        annotations = rule["annotations"]
        assert annotations["summary"], name
        assert f"Runbook: docs/operations.md, Alerts, {name}." in annotations["description"]
        assert annotations["runbook_url"] == "docs/operations.md#alerts", name
        # The runbook: a row of the alerts table says what it means and what to do.
        assert re.search(rf"^\| `{name}` \| (critical|warning) \|", doc, re.M), (
            f"docs/operations.md's alerts table has no row for {name}"
        )
    assert "\n## Alerts\n" in doc or "\n### Alerts\n" in doc


# -- the metrics the rules read ----------------------------------------------------------------


def exposed_metrics() -> set[str]:
    """Every series name the platform's processes can expose: the metrics of the relay, the
    projection runner, the returns' checker, and the HTTP instrumentation of an API."""
    import deploy.backup  # noqa: F401  (the archiver's metrics)
    import services.escalations.policies  # the drift checks' metrics
    import services.projections.returns.quality  # noqa: F401  (registers its metrics)

    app = FastAPI()
    instrument(app)
    app.build_middleware_stack()  # the instrumentation's metrics are made with its middleware
    names: set[str] = set()
    for family in REGISTRY.collect():
        if family.type == "counter":
            names |= {f"{family.name}_total", f"{family.name}_created"}
        elif family.type == "histogram":
            names |= {f"{family.name}{s}" for s in ("_bucket", "_count", "_sum", "_created")}
        elif family.type == "summary":
            names |= {f"{family.name}{s}" for s in ("", "_count", "_sum", "_created")}
        else:
            names.add(family.name)
    return names


def test_the_rules_read_only_metrics_the_platform_exposes() -> None:
    exposed = exposed_metrics()
    for rule in alert_rules():
        read = set(METRIC.findall(rule["expr"]))
        assert read <= exposed, f"{rule['alert']} reads {sorted(read - exposed)}: no such metric"


def test_the_http_metrics_have_the_platform_prefix() -> None:
    """The command APIs' and the boards' request counts and latency histograms (by route
    template: never a child's id) are `csp_http_...`, with every status code kept (a 503 is
    the database unavailable, not any 5xx)."""
    exposed = exposed_metrics()
    assert {"csp_http_requests_total", "csp_http_request_duration_seconds_bucket"} <= exposed
    assert not {n for n in exposed if n.startswith("http_")}, "HTTP metrics without csp_"
    call = _instrumentator_call()
    keywords = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
    assert keywords.get("metric_namespace") == "csp"


def _instrumentator_call() -> ast.Call:
    """`Instrumentator(...).instrument(app, ...)` in shared/http.py."""
    for node in ast.walk(ast.parse((ROOT / "shared" / "http.py").read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "instrument"
            and isinstance(node.func.value, ast.Call)
            and getattr(node.func.value.func, "id", None) == "Instrumentator"
        ):
            instrumentator = node.func.value
            kept = {k.arg: ast.literal_eval(k.value) for k in instrumentator.keywords if k.arg}
            assert kept.get("should_group_status_codes") is False, "status codes grouped (5xx)"
            return node
    raise AssertionError("shared/http.py no longer instruments the APIs with Instrumentator")


def test_every_metric_the_platform_defines_is_named_csp() -> None:
    defined = dict(_metric_definitions())
    assert len(defined) >= 15  # the relay's, the runner's, the returns' checker's
    wrong = {name: where for name, where in defined.items() if not name.startswith("csp_")}
    assert not wrong, f"metrics without the platform's prefix csp_: {wrong}"


def _metric_definitions() -> list[tuple[str, str]]:
    """(name, file) of every prometheus_client metric made in shared/ and services/."""
    kinds = {"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"}
    found = []
    for path in [*(ROOT / "shared").rglob("*.py"), *(ROOT / "services").rglob("*.py")]:
        if "node_modules" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        imported = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "prometheus_client"
            for alias in node.names
            if alias.name in kinds
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in imported:
                name = node.args[0] if node.args else None
                name = name or next((k.value for k in node.keywords if k.arg == "name"), None)
                assert isinstance(name, ast.Constant), f"{path}: a metric named at run time"
                found.append((str(name.value), str(path.relative_to(ROOT))))
    return found


# -- the lags grow while a relay or a runner is stuck -------------------------------------------


async def _at_least(measure: Callable[[], float], floor: float) -> float | None:
    """The measure once it has reached `floor` (for `eventually`), else None."""
    value = measure()
    return value if value >= floor else None


class _Producer:
    """A broker that acknowledges only when told to (a paused broker never does)."""

    def __init__(self) -> None:
        self.acknowledged: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def send(self, topic: str, **_: Any) -> asyncio.Future[None]:
        return self.acknowledged


class _Pool:
    async def execute(self, *_: Any) -> None:
        return None


def _event(age_s: float) -> Outgoing:
    return Outgoing(
        cursor=Cursor(1, 1),
        event_id=uuid4(),
        event_type="ChildRegistered",
        schema_version=1,
        stream_id="child-1",
        correlation_id=uuid4(),
        recorded_at=datetime.now(UTC) - timedelta(seconds=age_s),
        value=b"{}",
        trace_context=None,
    )


def _sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_a_relay_waiting_for_acknowledgements_shows_its_lag_growing() -> None:
    producer = _Producer()
    relay = Relay(_Pool(), producer, "alerting-relay")
    batches = [[_event(age_s=42)], []]

    async def read_committed(after: Cursor, limit: int) -> list[Outgoing]:
        return batches.pop(0) if batches else []

    relay._store = SimpleNamespace(read_committed=read_committed)  # type: ignore[assignment]
    topic = {"topic": "alerting-relay"}
    assert _sample("csp_relay_events_published_total", **topic) == 0  # there before any event
    assert _sample("csp_relay_time_lag_seconds", **topic) == 0

    publishing = asyncio.create_task(relay.publish_once(Cursor()))

    def lag_of() -> float:
        return _sample("csp_relay_time_lag_seconds", **topic) or 0.0

    # The broker does not acknowledge: the event is sent and waits.
    lag = await eventually(lambda: _at_least(lag_of, 42), 5, 0.01, "the event to be sent")
    later = await eventually(  # measured when asked: it grows while nothing is acknowledged
        lambda: _at_least(lag_of, lag + 0.2), 5, 0.01, "the lag to grow"
    )
    assert later >= lag + 0.2

    producer.acknowledged.set_result(None)
    assert await publishing == Cursor(1, 1)
    assert _sample("csp_relay_time_lag_seconds", **topic) == 0
    assert _sample("csp_relay_events_published_total", **topic) == 1


def _runner(topic: str, name: str) -> ProjectionRunner:
    """A runner of one topic with nothing behind it: its metrics and lag alone."""
    return ProjectionRunner(
        None,
        None,  # type: ignore[arg-type]
        [],
        [topic],
        kafka_options={},
        consumer_name=name,
        dead_letters=None,
    )


def test_a_runner_applying_a_batch_shows_its_oldest_messages_age() -> None:
    runner = _runner("alerting-topic", "alerting-runner")
    labels = {"consumer": "alerting-runner", "topic": "alerting-topic"}
    for counter in ("dead_lettered", "out_of_order", "rewinds", "events_applied"):
        assert _sample(f"csp_projection_{counter}_total", **labels) == 0  # there from the start
    assert _sample("csp_projection_time_lag_seconds", **labels) == 0
    runner._applying_since["alerting-topic"] = datetime.now(UTC).timestamp() - 90
    lag = _sample("csp_projection_time_lag_seconds", **labels)
    assert lag is not None and 90 <= lag < 100
    assert runner.lag()["alerting-topic"]["time_lag_seconds"] >= 90

    stopped = asyncio.Event()
    stopped.set()
    asyncio.run(runner.run(stopped))  # a runner that stops leaves no lag to alert on
    assert _sample("csp_projection_time_lag_seconds", **labels) is None
    assert _sample("csp_projection_offset_lag", **labels) is None


def test_a_lag_of_zero_counts_as_measured_only_once_every_assigned_partition_is_known() -> None:
    """A consumer with no partition yet, or whose topic's end is not yet fetched, reports an
    offset lag of 0 that says nothing: `measured` is false until both are known for every
    partition of the topic it holds (tests/infrastructure.py read_everything waits for it)."""
    runner = _runner("measured-topic", "measuring-runner")
    ends: dict[TopicPartition, int | None] = {}
    consumer = SimpleNamespace(assignment=lambda: set(ends), highwater=ends.get)

    def report() -> dict[str, float]:
        runner._report_lag(consumer)
        return runner.lag()["measured-topic"]

    assert runner.lag()["measured-topic"]["measured"] is False  # never reported
    assert report() == {"offset_lag": 0, "time_lag_seconds": 0.0, "measured": False}
    first, second = TopicPartition("measured-topic", 0), TopicPartition("measured-topic", 1)
    runner.progress["measured-topic"].positions.update({0: 5, 1: 0})
    ends.update({first: 7, second: None})  # the second partition's end not yet fetched
    assert report()["measured"] is False
    ends[second] = 3
    assert report() == {"offset_lag": 5, "time_lag_seconds": 0.0, "measured": True}
    runner.progress["measured-topic"].positions.update({0: 7, 1: 3})
    assert report() == {"offset_lag": 0, "time_lag_seconds": 0.0, "measured": True}
    ends.clear()  # revoked
    assert report()["measured"] is False


def test_retries_say_what_failed() -> None:
    assert relay_failure_cause(KafkaConnectionError()) == "broker"
    assert relay_failure_cause(ConnectionRefusedError()) == "database"
    assert runner_failure_cause(KafkaConnectionError()) == "broker"
    assert runner_failure_cause(OSError()) == "database"
    assert runner_failure_cause(ConcurrencyConflict("s", 1, 2)) == "conflict"


# -- Prometheus's configurations and Grafana's dashboard ----------------------------------------


def _platform_job(config: dict[str, Any]) -> dict[str, Any]:
    return next(j for j in config["scrape_configs"] if j["job_name"] == "platform")


def test_the_local_prometheus_scrapes_every_process_with_a_token_metrics_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CSP_PROMETHEUS_PORT", raising=False)
    stack = LocalStack(state_dir=tmp_path, http_base=18000)
    stack.prometheus_dir.mkdir(parents=True)
    stack.write_metrics_token()
    argv = stack.prometheus_argv("prometheus")
    assert "--web.listen-address=127.0.0.1:18009" in argv  # between the APIs and the workers
    assert stack.prometheus_port not in {p.port for p in stack.processes()}
    config_file = stack.prometheus_dir / "prometheus.yml"
    checked = promtool("check", "config", str(config_file))
    assert checked.returncode == 0, checked.stdout + checked.stderr

    config = json.loads(config_file.read_text())
    assert config["rule_files"] == [str(ALERT_RULES)]
    job = _platform_job(config)
    assert job["authorization"]["credentials_file"] == str(stack.metrics_token_file)
    scraped = {c["labels"]["process"]: c["targets"] for c in job["static_configs"]}
    assert scraped == {p.name: [f"127.0.0.1:{p.port}"] for p in stack.processes()}
    assert stack.metrics_token_file.stat().st_mode & 0o077 == 0  # the token is private

    # The token Prometheus sends is one /metrics accepts (the operations role).
    async def start(stop: asyncio.Event) -> WorkerParts:
        async def loop(stop: asyncio.Event) -> None:
            await stop.wait()

        async def close() -> None:
            return None

        return loop, {}, close

    settings = Settings(service="test", auth_jwks=str(stack.issuer.jwks_file))
    token = stack.metrics_token_file.read_text().strip()
    with TestClient(worker_app("test worker", settings, start)) as client:
        assert client.get("/metrics").status_code == 401
        answer = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
        assert "csp_relay_time_lag_seconds" in answer.text


def test_compose_prometheus_scrapes_every_process_over_https_with_the_rules(
    tmp_path: Path,
) -> None:
    config = yaml.safe_load(COMPOSE_PROMETHEUS.read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules.yml"]
    job = _platform_job(config)
    assert job["scheme"] == "https"
    assert job["tls_config"]["ca_file"] == "/etc/platform/tls/ca.pem"
    assert job["authorization"]["credentials_file"] == "/run/secrets/metrics_token"
    scraped = {c["labels"]["process"]: c for c in job["static_configs"]}
    processes = service_processes(8000)
    assert set(scraped) == {p.name for p in processes}
    for p in processes:
        assert scraped[p.name]["targets"] == [f"{p.name}:8000"]
        assert scraped[p.name]["labels"] == {
            "process": p.name,
            "service": p.service,
            "role": p.role,
        }

    # Valid for Prometheus itself, with the container's paths made real here.
    text = COMPOSE_PROMETHEUS.read_text()
    for container, here in {
        "/etc/prometheus/rules.yml": ALERT_RULES,
        "/etc/platform/tls/ca.pem": tmp_path / "ca.pem",
        "/run/secrets/metrics_token": tmp_path / "token",
    }.items():
        text = text.replace(container, str(here))
    (tmp_path / "ca.pem").write_text("")
    (tmp_path / "token").write_text("token\n")
    (tmp_path / "prometheus.yml").write_text(text)
    checked = promtool("check", "config", "--syntax-only", str(tmp_path / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_compose_runs_prometheus_and_grafana_with_the_same_rules_and_the_dashboard() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    prometheus, grafana = compose["services"]["prometheus"], compose["services"]["grafana"]
    assert re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", prometheus["image"])
    assert re.fullmatch(r"grafana/grafana:\d+\.\d+\.\d+", grafana["image"])
    assert "./deploy/prometheus/rules.yml:/etc/prometheus/rules.yml:ro" in prometheus["volumes"]
    assert (
        "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"
        in prometheus["volumes"]
    )
    assert "metrics_token" in prometheus["secrets"]
    assert all(str(p).startswith("127.0.0.1:") for p in prometheus["ports"])  # no sign-in
    assert "./deploy/grafana/dashboards:/etc/grafana/dashboards:ro" in grafana["volumes"]
    assert "CSP_GRAFANA_ADMIN_PASSWORD:?" in grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    # Every worker's name is on the certificate Prometheus checks.
    hosts = compose["services"]["tls-setup"]["command"]
    assert {p.name for p in service_processes(8000)} <= set(hosts)


def test_the_dashboard_shows_the_lags_dead_letters_and_latency_from_what_exists() -> None:
    datasource = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"][0]
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "platform.yml").read_text()
    )["providers"][0]
    assert provider["options"]["path"] == "/etc/grafana/dashboards"
    dashboard = json.loads((GRAFANA / "dashboards" / "platform.json").read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    assert all(p["datasource"]["uid"] == datasource["uid"] for p in panels)
    exposed = exposed_metrics() | PROMETHEUS_OWN
    for expr in exprs:
        read = set(METRIC.findall(expr)) | ({"up"} if re.search(r"\bup\{", expr) else set())
        assert read <= exposed, f"the dashboard reads {sorted(read - exposed)}: no such metric"
    shown = " ".join(exprs)
    for wanted in (
        "csp_projection_time_lag_seconds",
        "csp_projection_offset_lag",
        "csp_relay_time_lag_seconds",
        "csp_projection_dead_lettered_total",
        "csp_http_request_duration_seconds_bucket",
    ):
        assert wanted in shown, wanted
