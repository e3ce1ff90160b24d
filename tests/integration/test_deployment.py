"""docker-compose.yml cannot run here (no Docker engine); it is validated and checked instead."""

from __future__ import annotations

import os
import shutil
import subprocess

import yaml

from deploy.local.kafka_security import password_variable, users
from deploy.local.stack import ROOT, service_processes

# Every secret compose needs, with a placeholder (a real deployment has its secret store).
SECRETS = {name: "check" for name in [
    "CSP_POSTGRES_PASSWORD", "CSP_PARTNER_PSEUDONYM_KEY", "CSP_KEY_ENCRYPTION_KEY",
    "CSP_AUTH_JWKS", "CSP_AUTH_ISSUER", "CSP_KAFKA_ADMIN_PASSWORD",
    *(f"CSP_KAFKA_PASSWORD_{password_variable(u)}" for u in users())]}


def compose_config() -> dict:  # type: ignore[type-arg]
    docker_compose = shutil.which("docker-compose")
    assert docker_compose, "docker-compose is installed by `make test` (deploy/local/bootstrap.sh)"
    result = subprocess.run(
        [docker_compose, "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True, text=True,
        env={**os.environ, **SECRETS},
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)  # type: ignore[no-any-return]


def test_compose_file_is_valid_and_runs_every_process_of_the_local_stack() -> None:
    services = compose_config()["services"]
    for process in service_processes(8000):
        container = services[process.name]
        assert container["command"] == ["python", "-m", process.module, process.role]
        assert container["healthcheck"]["test"]
        assert container["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "kafka-provision": {"condition": "service_completed_successfully"}}
        environment = container["environment"]
        assert environment["CSP_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        if process.role == "worker":  # each worker is its service's own Kafka user
            assert environment["CSP_KAFKA_USERNAME"] == process.service
        else:  # the APIs never talk to Kafka: no Kafka user at all
            assert "CSP_KAFKA_PASSWORD" not in environment
        assert container["build"]["dockerfile"].endswith("deploy/docker/Dockerfile")
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "--add-scram" in " ".join(services["kafka"]["command"])
    assert services["kafka-provision"]["command"][2:4] == ["deploy.local.kafka_security",
                                                           "provision"]
    assert services["postgres"]["image"].startswith("postgres:15")
    assert all("healthcheck" in services[name] for name in ("kafka", "postgres"))


def test_compose_refuses_to_start_without_a_database_password() -> None:
    env = {**os.environ, **SECRETS}
    del env["CSP_POSTGRES_PASSWORD"]
    result = subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"),
                             "config", "-q"], capture_output=True, text=True, env=env)
    assert result.returncode != 0
    assert "CSP_POSTGRES_PASSWORD" in result.stderr
