"""One settings object for every process, read from environment variables.

The full list, with defaults, is in docs/configuration.md; `python -m shared.settings`
prints the values in force (secrets masked).
"""

from __future__ import annotations

import os
import ssl
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CSP_", extra="ignore")

    service: str = Field("case_events", description="Which service this process belongs to.")
    environment: str = Field("local", description="local, test, or a deployment name.")
    namespace: str = Field(
        "",
        pattern=r"^[a-z0-9_]*$",
        description="Prefix of database, topic and consumer-group names (tests, tenants).",
    )

    postgres_host: str = Field("127.0.0.1", description="PostgreSQL host.")
    postgres_port: int = Field(5433, description="PostgreSQL port (the local stack's is 5433).")
    postgres_user: str = Field(
        "csp",
        description="PostgreSQL role this process connects as: the service's own "
        "runtime role (csp_<service>, made by `python -m deploy.database provision`); the "
        "administrator's for the provisioner itself.",
    )
    postgres_password: SecretStr = Field(
        SecretStr(""), description="Its password; the local stack generates one on first run."
    )
    postgres_database: str | None = Field(
        None, description="Database name; defaults to the service name (one database each)."
    )
    postgres_pool_max: int = Field(10, description="Largest connection pool per process.")

    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers.")
    topic_partitions: int = Field(
        6,
        description="Partitions of each topic the platform creates (the workers at start, and "
        "`python -m deploy.local.kafka_security provision`). A topic that has other settings "
        "than these three is reported at every worker's start (a warning and the "
        "`csp_topic_settings_mismatch` metric), never changed.",
    )
    topic_replication_factor: int = Field(
        1,
        description="Copies of each partition on distinct brokers: 3 in production "
        "(docs/operations.md); no more than there are brokers.",
    )
    topic_min_insync_replicas: int = Field(
        1,
        description="Copies that must have a record before the broker acknowledges it (the "
        "producers use acks=all): 2 in production, so an acknowledged event survives the "
        "loss of a broker; below it, writes are refused rather than kept on one copy.",
    )

    http_host: str = Field("127.0.0.1", description="Address the process's HTTP server binds.")
    http_port: int = Field(8000, description="Port of the process's HTTP server.")
    http_tls_certfile: str | None = Field(
        None,
        description="A PEM file with the server's key and certificate chain: set, the process "
        "serves HTTPS only (compose sets it; the local stack serves loopback HTTP).",
    )

    local_authority: str = Field(
        "878",
        description="The council's DfE local authority number (the CIN census header's LEA); "
        "878 is Devon, the demo county's.",
    )
    case_events_url: str = Field(
        "http://127.0.0.1:8001",
        description="The case-events API, where the projections API asks for the UPNs a "
        "statutory return names (with the caller's own token; docs/returns.md).",
    )
    quality_url: str = Field(
        "http://127.0.0.1:8006",
        description="The quality API, where the projections API reads a board pack's drafting "
        "and its commentary (unsealed there, with the caller's own token; docs/boards.md).",
    )
    escalations_url: str = Field(
        "http://127.0.0.1:8004",
        description="The escalations API, to which the live page forwards the acknowledgements "
        "of the attention queue (with the caller's own token; docs/boards.md).",
    )
    returns_check: bool = Field(
        True,
        description="Whether the projections worker keeps the returns' live data-quality board "
        "(it runs the DfE's validators: about 350 MB and a share of a core); off in the tests "
        "and benchmarks that do not look at it.",
    )
    returns_validators: str | None = Field(
        None,
        description="The Python of the DfE's return validators' environment, which the "
        "projections worker runs for the returns' live data-quality board; unset, the "
        "repository's .venv-returns (the Docker image's /app/.venv-returns).",
    )
    returns_check_interval_s: float = Field(
        3600.0,
        description="How often the returns' data-quality board sweeps every child and checks "
        "the council's whole return (also at start and when the day changes).",
    )
    returns_check_batch_size: int = Field(
        200, description="Most children touched by events the data-quality board checks at once."
    )
    http_cafile: str | None = Field(
        None,
        description="The CA that signed the other services' HTTPS certificates (PEM); unset, "
        "the system's trust store.",
    )

    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING, ERROR.")
    log_format: Literal["json", "console"] = Field("json", description="json or console.")

    relay_batch_size: int = Field(1000, description="Most events the relay reads per batch.")
    relay_poll_interval_s: float = Field(
        1.0, description="Relay polls this often when no NOTIFY arrives (the fallback)."
    )
    projection_batch_size: int = Field(1000, description="Most records per projection batch.")
    subscription_fetch_wait_ms: int = Field(
        50,
        ge=0,
        le=500,
        description="How long Kafka may gather records for a fetch of a service's "
        "subscription (its own copies and policies; not the boards, whose transactions gather "
        "by their own length) before it answers, while records come: `fetch.max.wait.ms`, "
        "with `fetch.min.bytes` of 1 MiB, which a backlog fills at once. Fewer, larger "
        "transactions at high rates; at most this much more delay at a trickle. Once a poll "
        "has found nothing for half a second, a fetch is answered as soon as a record is "
        "there (and asked twice a second while none is). 0: always answered as soon as a "
        "record is there.",
    )
    rebuild_batch_size: int = Field(
        20_000,
        description="Most records per batch while a rebuild fills a new build (nobody "
        "waits on it, so fewer, larger transactions).",
    )
    rebuild_members: int = Field(
        2,
        ge=1,
        description="Processes a rebuild fills its build with, side by side: members of one "
        "consumer group, each partition one member's. A member's Python and its PostgreSQL "
        "backend take turns, so one alone keeps about one core busy.",
    )
    partner_pseudonym_key: SecretStr | None = Field(
        None,
        description="The council's key for the pseudonyms partner agencies know children "
        "by (HMAC-SHA256); generated by `make run` into .local/run/credentials.env. Changing it "
        "gives every child new pseudonyms.",
    )
    max_request_bytes: int = Field(
        256 * 1024,
        description="Largest request body an API accepts (else 413): commands are small. "
        "Routes that take bulk input are held to `CSP_MAX_BULK_REQUEST_BYTES` instead.",
    )
    max_bulk_request_bytes: int = Field(
        4 * 1024 * 1024,
        description="Largest request body of a route that takes bulk input (the register "
        "feed; else 413): a feed of `CSP_MAX_BATCH_MARKS` marks with the longest child ids is "
        "about 2.6 MB as compact JSON.",
    )
    projection_ledger: bool = Field(
        False,
        description="Also record every applied event in `projection_applied` (one row "
        "per application; the reliability checks count duplicates and losses from it).",
    )
    relay_stalled_after_s: float = Field(
        10.0,
        description="The relay reports degraded on /health when the oldest event not yet "
        "published is older than this (a broker down or paused).",
    )
    projection_group_id: str = Field("boards", description="Kafka consumer group of the boards.")

    auth_jwks: str | None = Field(
        None,
        description="The identity provider's key set: a JWKS file, or its https URL. "
        "Required; `make run` generates a local one (docs/security.md).",
    )
    auth_issuer: str = Field("csp-local-issuer", description="The `iss` every token must have.")
    auth_audience: str = Field(
        "childrens-services-platform", description="The `aud` every token must have."
    )
    rate_limit: str = Field(
        "300/second",
        description="Requests each user may make to one API process "
        "(beyond it: 429 with Retry-After), in the `limits` library's notation.",
    )
    auth_failure_rate_limit: str = Field(
        "50/second",
        description="Failed authentications (no token, or an invalid one) one client address "
        "may make to one API process (beyond it: 429 with Retry-After), in the `limits` "
        "library's notation.",
    )
    key_encryption_key: SecretStr | None = Field(
        None,
        description="Base64 of 32 bytes wrapping every child's personal-data key "
        "(AES-GCM); generated by `make run`. Without it nothing personal can be recorded.",
    )
    key_encryption_key_id: str = Field(
        "1",
        description="The id of CSP_KEY_ENCRYPTION_KEY, stored beside every key it wraps; "
        "a new key gets a new id (docs/security.md, rotating the key-encryption key).",
    )
    retired_key_encryption_keys: SecretStr | None = Field(
        None,
        description="Earlier key-encryption keys, `id:base64,...`, held only until "
        "`python -m services.case_events rotate-keys` and `python -m services.quality "
        "rotate-keys` have re-wrapped every key with the current one; then delete them from "
        "the secret store.",
    )
    subject_access_user: str | None = Field(
        None,
        description="The case-events API only: the read-only role the subject access "
        "export reads every domain store's events and the audits with (csp_subject_access); "
        "unset, it reads them as CSP_POSTGRES_USER.",
    )
    subject_access_password: SecretStr | None = Field(None, description="Its password.")
    audit_database: str | None = Field(
        None,
        description="Database of the audit log every service writes person-level reads "
        "to; defaults to the partner feeds' database.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        description="SASL_SSL: SCRAM-SHA-512 over TLS (the compose deployment, "
        "and `make run` with CSP_KAFKA_SECURE=1).",
    )
    kafka_username: str | None = Field(None, description="This service's SCRAM user.")
    kafka_password: SecretStr | None = Field(None, description="Its SCRAM password.")
    kafka_password_file: str | None = Field(
        None,
        description="A file holding the SCRAM password instead, read again for every new "
        "connection: a password rotated by `python -m deploy.rotate password` reaches the "
        'process without a restart (docs/operations.md, "Certificates and passwords").',
    )
    kafka_ssl_cafile: str | None = Field(
        None,
        description="The CA(s) that signed the brokers' certificates (PEM), read again for "
        "every new connection once the file changes: while a certificate is renewed it holds "
        "the old CA and the new (`python -m deploy.rotate certificates`).",
    )
    kafka_public_hosts: str = Field(
        "localhost",
        pattern=r"^\s*[A-Za-z0-9.-]+\s*(,\s*[A-Za-z0-9.-]+\s*)*$",
        description="The names (or IPv4 addresses) partner agencies reach the broker's partner "
        "listener by, comma-separated: the names in its certificate (`external.pem`), the "
        "first the one the broker gives clients to connect to. Read by the broker's setup "
        "(compose's kafka-setup, `make run` in secure mode); a change makes a new certificate "
        'and CA at the next start (docs/operations.md, "Opening the broker to partners").',
    )
    kafka_external_port: int | None = Field(
        None,
        description="The port of the broker's partner listener (SASL_SSL, SCRAM-SHA-512): "
        "compose publishes it on the host (9094 unless set); `make run` in secure mode picks "
        "a free one once, keeps it in its state folder and prints it, unless set.",
    )
    kafka_external_address: str = Field(
        "127.0.0.1",
        description="The host address the partner listener is open on (compose publishes the "
        "port there; `make run` binds it): the address of the interface facing the partners' "
        "networks, 0.0.0.0 for every one. The broker's other listeners stay on loopback "
        "(`make run`) or inside the compose network, whatever this says.",
    )

    board_days_kept: int = Field(
        31,
        description="The totalled boards are kept on today and on the days this far back "
        "once asked for, and on each month end of the year before (every trend reads them); "
        "other earlier days are computed from the facts when asked.",
    )
    small_number_threshold: int = Field(
        5, description="Partnership views hide counts from 1 to this minus 1."
    )

    demo_progress_file: Path | None = Field(
        None,
        description="Where make run's demo county writes how far its load has got; the "
        "dashboard shows it while it loads (the local stack only).",
    )
    fixed_today: date | None = Field(
        None, description="Pin 'today' for rules that depend on time (tests, demos only)."
    )
    ewo_sessions_threshold: int = Field(
        10, description="Sessions missed that raise an EWO attendance escalation..."
    )
    ewo_window_weeks: int = Field(10, description="...within this many school weeks.")
    no_contact_days: int = Field(
        56, description="Days without contact with a care leaver that raise a drift alert."
    )
    drift_check_interval_s: float = Field(
        60.0, description="How often the escalations worker checks the drift rules."
    )
    max_batch_marks: int = Field(
        20_000, description="Most attendance marks accepted in one register-feed call."
    )

    @property
    def database(self) -> str:
        return self.postgres_database or f"{self.namespace}{self.service}"

    @property
    def audit_db(self) -> str:
        return self.audit_database or f"{self.namespace}partner_feeds"

    def public_hosts(self) -> list[str]:
        """CSP_KAFKA_PUBLIC_HOSTS as a list, the advertised name first."""
        return [host.strip() for host in self.kafka_public_hosts.split(",")]

    def kafka_options(self) -> dict[str, object]:
        """Connection options for every aiokafka client: bootstrap servers and, in secure
        mode, SCRAM over TLS verified against the CA. The CA file and the password file are
        read again for each new connection, so a renewal or a rotation needs no restart."""
        options: dict[str, object] = {"bootstrap_servers": self.kafka_bootstrap_servers}
        if self.kafka_security_protocol == "SASL_SSL":
            password: str = (
                PasswordFile(self.kafka_password_file)
                if self.kafka_password_file
                else self.kafka_password.get_secret_value()
                if self.kafka_password
                else ""
            )
            options.update(
                security_protocol="SASL_SSL",
                sasl_mechanism="SCRAM-SHA-512",
                sasl_plain_username=self.kafka_username or self.service,
                sasl_plain_password=password,
                ssl_context=CaFileContext.of(self.kafka_ssl_cafile),
            )
        return options

    def topic(self, name: str) -> str:
        """The Kafka name of one of the platform's topics (see contracts/topics.py)."""
        return f"{self.namespace}{name}"

    @property
    def consumer_group(self) -> str:
        return f"{self.namespace}{self.projection_group_id}"

    def subject_access_dsn(self, database: str) -> str:
        """The subject access reader's DSN of a database (this process's own role's if no
        reader is configured)."""
        if not self.subject_access_user:
            return self.dsn(database)
        return self.model_copy(
            update={
                "postgres_user": self.subject_access_user,
                "postgres_password": self.subject_access_password or SecretStr(""),
            }
        ).dsn(database)

    def dsn(self, database: str | None = None) -> str:
        password = self.postgres_password.get_secret_value()
        auth = f"{self.postgres_user}:{password}" if password else self.postgres_user
        return (
            f"postgresql://{auth}@{self.postgres_host}:{self.postgres_port}/"
            f"{database or self.database}"
        )


class PasswordFile(str):
    """A SCRAM password kept in a file, read again each time a connection authenticates.

    aiokafka encodes the password once per connection it authenticates (its
    ScramAuthenticator calls `.encode()`), so a client holding this reconnects with whatever
    the file holds then; established connections are not touched (Kafka checks SCRAM at
    connect only). tests/integration/test_rotation.py holds aiokafka to it. If the file
    cannot be read, the password read at start is used."""

    path: str

    def __new__(cls, path: str) -> PasswordFile:
        made = super().__new__(cls, _read_secret(path))
        made.path = path
        return made

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        try:
            return _read_secret(self.path).encode(encoding, errors)
        except OSError:
            return str(self).encode(encoding, errors)


def _read_secret(path: str) -> str:
    with open(path, encoding="utf-8") as file:
        return file.read().strip()


class CaFileContext(ssl.SSLContext):
    """A TLS client context that reads its CA file again when the file has changed (its
    inode, size or time): each new connection trusts what the file trusts at that moment.
    A certificate renewal gives clients the old and the new CA, then the new one alone
    (deploy/rotate.py), and a long-running worker follows it without a restart. asyncio and
    so aiokafka make every TLS connection through `wrap_bio`; the handshake runs in a context
    made from the file."""

    cafile: str | None
    _stamp: tuple[int, int, int] | None
    _current: ssl.SSLContext

    @classmethod
    def of(cls, cafile: str | None) -> CaFileContext:
        made = cls(ssl.PROTOCOL_TLS_CLIENT)
        made.cafile, made._stamp = cafile, None
        made._current = made._fresh()
        return made

    def _fresh(self) -> ssl.SSLContext:
        from aiokafka.helpers import create_ssl_context

        if self.cafile is None:  # the system's trust store: nothing to follow
            return getattr(self, "_current", None) or create_ssl_context()
        try:
            seen = os.stat(self.cafile)
            stamp = (seen.st_ino, seen.st_mtime_ns, seen.st_size)
            if stamp != self._stamp:
                self._current = create_ssl_context(cafile=self.cafile)
                self._stamp = stamp
        except (OSError, ssl.SSLError):  # mid-replacement or unreadable: keep the last good
            if not hasattr(self, "_current"):
                raise
        return self._current

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        return self._fresh().wrap_bio(incoming, outgoing, server_side, server_hostname, session)


def documented_variables() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting: the source of docs/configuration.md."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, SecretStr):
            default = "(generated)" if not default.get_secret_value() else "***"
        rows.append(
            (
                f"CSP_{name.upper()}",
                "" if default is None else str(default),
                field.description or "",
            )
        )
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
    lines += [
        f"| `{v}` | `{d}` | {text} |" if d else f"| `{v}` | | {text} |"
        for v, d, text in documented_variables()
    ]
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
