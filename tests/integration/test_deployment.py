"""docker-compose.yml cannot run here (no Docker engine); it is validated and checked instead."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import yaml

from deploy import database
from deploy.local.kafka_security import password_variable, users
from deploy.local.stack import KEYS_HELD, ROOT, SUBJECT_ACCESS_READER, service_processes

# Every secret compose needs, with a placeholder of its own (a real deployment has its secret
# store), so the test can tell which one each container gets.
SECRETS = {
    name: f"check-{name.lower()}"
    for name in [
        "CSP_POSTGRES_PASSWORD",
        "CSP_PARTNER_PSEUDONYM_KEY",
        "CSP_KEY_ENCRYPTION_KEY",
        "CSP_AUTH_JWKS",
        "CSP_AUTH_ISSUER",
        "CSP_KAFKA_ADMIN_PASSWORD",
        "CSP_METRICS_TOKEN_FILE",
        "CSP_GRAFANA_ADMIN_PASSWORD",
        *(f"CSP_KAFKA_PASSWORD_{password_variable(u)}" for u in users()),
        *(database.password_variable(n) for n in [*database.SERVICES, database.SUBJECT_ACCESS]),
    ]
}
KEYS = ("CSP_KEY_ENCRYPTION_KEY", "CSP_PARTNER_PSEUDONYM_KEY")


def compose_config(**settings: str) -> dict:
    docker_compose = shutil.which("docker-compose")
    assert docker_compose, "docker-compose is installed by `make test` (deploy/local/bootstrap.sh)"
    unset = ("CSP_KAFKA_PUBLIC_HOSTS", "CSP_KAFKA_EXTERNAL_PORT", "CSP_KAFKA_EXTERNAL_ADDRESS")
    result = subprocess.run(
        [docker_compose, "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env={**{k: v for k, v in os.environ.items() if k not in unset}, **SECRETS, **settings},
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_file_is_valid_and_runs_every_process_of_the_local_stack() -> None:
    services = compose_config()["services"]
    for process in service_processes(8000):
        container = services[process.name]
        assert container["command"] == ["python", "-m", process.module, process.role]
        assert container["healthcheck"]["test"]
        assert container["depends_on"] == {
            "tls-setup": {"condition": "service_completed_successfully"},
            "postgres": {"condition": "service_healthy"},
            "db-provision": {"condition": "service_completed_successfully"},
            "kafka-provision": {"condition": "service_completed_successfully"},
        }
        environment = container["environment"]
        # HTTPS only, checked by its health check against the deployment's own CA.
        assert environment["CSP_HTTP_TLS_CERTFILE"] == "/etc/platform/tls/server.pem"
        assert "https://localhost:8000/health" in container["healthcheck"]["test"][-1]
        assert "cafile='/etc/platform/tls/ca.pem'" in container["healthcheck"]["test"][-1]
        for published in container.get("ports", []):  # loopback unless the operator says
            host_ip = published.get("host_ip") if isinstance(published, dict) else published
            assert str(host_ip).startswith("127.0.0.1"), published
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
    assert services["kafka-provision"]["command"][2:4] == [
        "deploy.local.kafka_security",
        "provision",
    ]
    assert services["tls-setup"]["command"][:3] == ["python", "-m", "deploy.local.tls"]
    assert "projections_api" in services["tls-setup"]["command"]
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["db-provision"]["command"] == ["python", "-m", "deploy.database", "provision"]
    assert all("healthcheck" in services[name] for name in ("kafka", "postgres"))


def test_compose_refuses_to_start_without_a_database_password() -> None:
    env = {**os.environ, **SECRETS}
    del env["CSP_POSTGRES_PASSWORD"]
    result = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode != 0
    assert "CSP_POSTGRES_PASSWORD" in result.stderr


def test_each_process_gets_its_own_database_role_and_only_the_keys_it_uses() -> None:
    services = compose_config()["services"]
    for process in service_processes(8000):
        environment = services[process.name]["environment"]
        assert environment["CSP_POSTGRES_USER"] == f"csp_{process.service}", process.name
        assert (
            environment["CSP_POSTGRES_PASSWORD"]
            == SECRETS[database.password_variable(process.service)]
        ), process.name
        for key in KEYS:  # each key only where it is used
            assert (key in environment) == (key in process.keys), (process.name, key)
            if key in environment:
                assert environment[key] == SECRETS[key]
        reader = environment.get("CSP_SUBJECT_ACCESS_PASSWORD")
        assert (reader is not None) == (process.name == SUBJECT_ACCESS_READER), process.name
        # Nobody else's password: not the superuser's, no other role's.
        others = {v for k, v in SECRETS.items() if k.startswith("CSP_POSTGRES_PASSWORD")} - {
            SECRETS[database.password_variable(process.service)],
            SECRETS[database.password_variable(database.SUBJECT_ACCESS)],
        }
        assert not others & set(environment.values()), process.name
    assert set(KEYS_HELD) <= {p.name for p in service_processes(8000)}
    provisioner = services["db-provision"]
    assert provisioner["environment"]["CSP_POSTGRES_USER"] == "postgres"
    assert services["postgres"]["environment"]["POSTGRES_USER"] == "postgres"
    assert provisioner["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in [*database.SERVICES, database.SUBJECT_ACCESS]:
        variable = database.password_variable(name)
        assert provisioner["environment"][variable] == SECRETS[variable]
    assert not set(KEYS) & set(provisioner["environment"])


def published(container: dict[str, Any]) -> list[tuple[str, str, str]]:
    """A container's published ports as (host address, host port, container port), in either
    of the forms docker-compose prints them."""
    out = []
    for port in container.get("ports", []):
        if isinstance(port, dict):
            out.append((port.get("host_ip", ""), str(port["published"]), str(port["target"])))
        else:
            *host, target = str(port).split("/")[0].split(":")
            out.append((host[0] if len(host) == 2 else "", host[-1], target))
    return out


def test_only_the_partner_listener_of_the_broker_is_published() -> None:
    """Partners reach the broker's partner listener (9094 in the container) on the host, on
    the port and address configured, under the public names its certificate is made for;
    the internal listener (9092) and the controller's (9093) are published by no container,
    and nothing shares the host's network."""
    for settings, (address, port, hosts) in {
        (): ("127.0.0.1", "9094", "localhost"),  # the defaults: loopback only
        (
            ("CSP_KAFKA_EXTERNAL_ADDRESS", "192.0.2.10"),
            ("CSP_KAFKA_EXTERNAL_PORT", "19094"),
            ("CSP_KAFKA_PUBLIC_HOSTS", "kafka.example-council.gov.uk,192.0.2.10"),
        ): ("192.0.2.10", "19094", "kafka.example-council.gov.uk,192.0.2.10"),
    }.items():
        services = compose_config(**dict(settings))["services"]
        assert published(services["kafka"]) == [(address, port, "9094")]
        for name, container in services.items():
            assert "network_mode" not in container, name
            if name != "kafka":
                assert not {"9092", "9093", "9094"} & {p[1] for p in published(container)}, name
        command = services["kafka-setup"]["command"]
        assert command[command.index("--public-hosts") + 1] == hosts
        assert command[command.index("--external-port") + 1] == port  # what it advertises
        assert services["kafka-provision"]["command"][-3] == "kafka:9092"  # internal, unpublished
