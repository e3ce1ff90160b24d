"""docker-compose.yml cannot run here (no Docker engine); it is validated and checked instead."""

from __future__ import annotations

import os
import shutil
import subprocess

import yaml

from deploy.local.stack import ROOT, service_processes


def compose_config() -> dict:  # type: ignore[type-arg]
    docker_compose = shutil.which("docker-compose")
    assert docker_compose, "docker-compose is installed by `make test` (deploy/local/bootstrap.sh)"
    result = subprocess.run(
        [docker_compose, "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True, text=True,
        env={**os.environ, "CSP_POSTGRES_PASSWORD": "check",  # pragma: allowlist secret
             "CSP_PARTNER_PSEUDONYM_KEY": "check"},  # pragma: allowlist secret
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)  # type: ignore[no-any-return]


def test_compose_file_is_valid_and_runs_every_process_of_the_local_stack() -> None:
    services = compose_config()["services"]
    for process in service_processes(8000):
        container = services[process.name]
        assert container["command"] == ["python", "-m", process.module, process.role]
        assert container["healthcheck"]["test"]
        assert container["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                           "kafka": {"condition": "service_healthy"}}
        assert container["build"]["dockerfile"].endswith("deploy/docker/Dockerfile")
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["postgres"]["image"].startswith("postgres:15")
    assert all("healthcheck" in services[name] for name in ("kafka", "postgres"))


def test_compose_refuses_to_start_without_a_database_password() -> None:
    env = {**{k: v for k, v in os.environ.items() if k != "CSP_POSTGRES_PASSWORD"},
           "CSP_PARTNER_PSEUDONYM_KEY": "check"}  # pragma: allowlist secret
    result = subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"),
                             "config", "-q"], capture_output=True, text=True, env=env)
    assert result.returncode != 0
    assert "CSP_POSTGRES_PASSWORD" in result.stderr
