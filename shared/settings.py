"""One settings object for every process, read from environment variables.

The full list, with defaults, is in docs/configuration.md; `python -m shared.settings`
prints the values in force (secrets masked).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CSP_", extra="ignore")

    service: str = Field("case_events", description="Which service this process belongs to.")
    environment: str = Field("local", description="local, test, or a deployment name.")
    namespace: str = Field(
        "", pattern=r"^[a-z0-9_]*$",
        description="Prefix of database, topic and consumer-group names (tests, tenants).",
    )

    postgres_host: str = Field("127.0.0.1", description="PostgreSQL host.")
    postgres_port: int = Field(5433, description="PostgreSQL port (the local stack's is 5433).")
    postgres_user: str = Field("csp", description="PostgreSQL role the services use.")
    postgres_password: SecretStr = Field(
        SecretStr(""), description="Its password; the local stack generates one on first run."
    )
    postgres_database: str | None = Field(
        None, description="Database name; defaults to the service name (one database each)."
    )
    postgres_pool_max: int = Field(10, description="Largest connection pool per process.")

    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers.")
    topic_partitions: int = Field(6, description="Partitions for topics this platform creates.")
    topic_replication_factor: int = Field(1, description="3 in production (docs/operations.md).")
    topic_min_insync_replicas: int = Field(1, description="2 in production.")

    http_host: str = Field("127.0.0.1", description="Address the process's HTTP server binds.")
    http_port: int = Field(8000, description="Port of the process's HTTP server.")

    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING, ERROR.")
    log_format: Literal["json", "console"] = Field("json", description="json or console.")

    relay_batch_size: int = Field(1000, description="Most events the relay reads per batch.")
    relay_poll_interval_s: float = Field(
        1.0, description="Relay polls this often when no NOTIFY arrives (the fallback)."
    )
    projection_batch_size: int = Field(1000, description="Most records per projection batch.")
    max_request_bytes: int = Field(
        16 * 1024 * 1024, description="Largest request body an API accepts (else 413); a "
        "register feed of 10,000 marks is about 1 MB.")
    projection_ledger: bool = Field(
        False, description="Also record every applied event in `projection_applied` (one row "
        "per application; the reliability checks count duplicates and losses from it).")
    relay_stalled_after_s: float = Field(
        10.0, description="The relay reports degraded on /health when the oldest event not yet "
        "published is older than this (a broker down or paused).")
    projection_group_id: str = Field("boards", description="Kafka consumer group of the boards.")

    small_number_threshold: int = Field(
        5, description="Partnership views hide counts from 1 to this minus 1.")

    fixed_today: date | None = Field(
        None, description="Pin 'today' for rules that depend on time (tests, demos only).")
    ewo_sessions_threshold: int = Field(
        10, description="Sessions missed that raise an EWO attendance escalation...")
    ewo_window_weeks: int = Field(10, description="...within this many school weeks.")
    no_contact_days: int = Field(
        56, description="Days without contact with a care leaver that raise a drift alert.")
    drift_check_interval_s: float = Field(
        60.0, description="How often the escalations worker checks the drift rules.")
    max_batch_marks: int = Field(
        20_000, description="Most attendance marks accepted in one register-feed call.")

    @property
    def database(self) -> str:
        return self.postgres_database or f"{self.namespace}{self.service}"

    def topic(self, name: str) -> str:
        """The Kafka name of one of the platform's topics (see deploy/kafka/topics.yaml)."""
        return f"{self.namespace}{name}"

    @property
    def consumer_group(self) -> str:
        return f"{self.namespace}{self.projection_group_id}"

    def dsn(self, database: str | None = None) -> str:
        password = self.postgres_password.get_secret_value()
        auth = f"{self.postgres_user}:{password}" if password else self.postgres_user
        return (
            f"postgresql://{auth}@{self.postgres_host}:{self.postgres_port}/"
            f"{database or self.database}"
        )


def documented_variables() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting: the source of docs/configuration.md."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, SecretStr):
            default = "(generated)" if not default.get_secret_value() else "***"
        rows.append((f"CSP_{name.upper()}", "" if default is None else str(default),
                     field.description or ""))
    return rows


def configuration_markdown() -> str:
    """docs/configuration.md, generated from this module (a test keeps the two in step)."""
    lines = [
        "# Configuration",
        "",
        "Every process reads the same settings from environment variables",
        "(`shared/settings.py`). Generated by `python -m shared.settings --markdown`.",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
    ]
    lines += [f"| `{v}` | `{d}` | {text} |" if d else f"| `{v}` | | {text} |"
              for v, d, text in documented_variables()]
    lines += [
        "",
        "The local stack (`make run`) also reads `CSP_STATE_DIR` (data folder, default",
        "`.local/run`), `CSP_POSTGRES_PORT`, `CSP_KAFKA_PORT` (the controller uses the next",
        "port), `CSP_HTTP_BASE_PORT` (default 8000) and `CSP_KAFKA_HEAP` (default 768m).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    if "--markdown" in sys.argv:
        print(configuration_markdown(), end="")
    else:
        for variable, default, description in documented_variables():
            print(f"{variable:34} {default:22} {description}")
