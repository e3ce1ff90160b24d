"""Kafka in secure mode: TLS on the broker's listener, SCRAM-SHA-512 users, and ACLs that let
each service and each partner agency do exactly what the table below says.

- `certificates(folder, hosts)`: a local CA and the broker's certificate (PEM), made once, and
  the controller listener's own pair. The client-facing pair is renewed live by
  deploy/rotate.py; the controller's is kept apart so that a live renewal never changes what
  the broker's own connection to its controller presents or trusts.
- `grants(namespace)`: who may do what to which topic and consumer group: the table in
  docs/security.md (`python -m deploy.local.kafka_security docs` writes it) and the one the
  permission test holds the broker to.
- `provision(...)`: as the broker's admin, create the topics, every user (one per service
  worker, one per partner agency) and exactly these ACLs. Idempotent: run at every start.

The broker's own listener for its controller is on the loopback address only and takes only
the node's own certificate (KRaft does not take SCRAM there): nothing off the broker's host
can reach it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from contracts.topics import TOPICS
from deploy.local import tls
from shared.kafka import DEAD_LETTER_TOPIC, creation
from shared.settings import Settings

ADMIN = "admin"
MECHANISM = "SCRAM-SHA-512"
# Which topics each service's worker reads (its subscriptions) and writes (its own topic, the
# dead letters, and for partner feeds the partner topics), and its consumer-group prefix.
SERVICE_READS = {
    "case_events": [],
    "accommodation": ["case-events"],
    "education": ["case-events"],
    "escalations": ["case-events", "education-events"],
    "projections": ["case-events", "accommodation-events", "education-events", "escalation-events"],
    "partner_feeds": [
        "case-events",
        "accommodation-events",
        "education-events",
        "escalation-events",
    ],
}
GROUP_PREFIX = {"projections": "boards"}  # the boards' consumer groups; others: the service
# What every service may do to every platform topic: see it, and read its settings.
SEE_ONLY = {"DESCRIBE", "DESCRIBE_CONFIGS"}
PARTNERS = [t.name.removeprefix("partner-") for t in TOPICS if t.name.startswith("partner-")]


@dataclass(frozen=True)
class KafkaGrant:
    principal: str  # the SCRAM user
    resource: str  # "topic" or "group"
    name: str
    prefixed: bool  # a group prefix, e.g. every consumer group starting "boards"
    operations: tuple[str, ...]  # READ, WRITE, DESCRIBE, CREATE


def users() -> list[str]:
    return [*SERVICE_READS, *(f"partner-{p}" for p in PARTNERS)]


def grants(namespace: str = "") -> list[KafkaGrant]:
    ns = namespace
    out: list[KafkaGrant] = []
    every_topic = [t.name for t in TOPICS]
    for service, reads in SERVICE_READS.items():
        writes = [t.name for t in TOPICS if t.owner == service]
        for topic in every_topic:  # creating topics that are missing needs to see them all
            # and the start-up check reads each topic's settings (shared/kafka.py)
            ops = {"DESCRIBE", "DESCRIBE_CONFIGS"}
            if topic in writes or topic == DEAD_LETTER_TOPIC:
                ops |= {"WRITE", "CREATE"}
            if topic in reads:
                ops |= {"READ", "CREATE"}  # a subscriber creates its topic if it is missing
            out.append(KafkaGrant(service, "topic", f"{ns}{topic}", False, tuple(sorted(ops))))
        if reads:
            out.append(
                KafkaGrant(
                    service, "group", f"{ns}{GROUP_PREFIX.get(service, service)}", True, ("READ",)
                )
            )
    for partner in PARTNERS:
        user = f"partner-{partner}"
        out.append(KafkaGrant(user, "topic", f"{ns}partner-{partner}", False, ("READ", "DESCRIBE")))
        out.append(KafkaGrant(user, "group", f"{ns}partner-{partner}", True, ("READ",)))
    return out


def may(principal: str, operation: str, resource: str, name: str, namespace: str = "") -> bool:
    """What the ACLs allow (the test's expectation; nothing else is allowed)."""
    for g in grants(namespace):
        if (
            g.principal == principal
            and g.resource == resource
            and operation in g.operations
            and (name.startswith(g.name) if g.prefixed else name == g.name)
        ):
            return True
    return False


def grants_markdown() -> str:
    lines = ["| Kafka user | topic or consumer group | may |", "|---|---|---|"]
    for g in grants():
        # What every service may do to every platform topic is the table's last line.
        ops = [o for o in g.operations if not (g.principal in SERVICE_READS and o in SEE_ONLY)]
        if not ops:
            continue
        where = f"group `{g.name}*`" if g.prefixed else f"topic `{g.name}`"
        lines.append(f"| `{g.principal}` | {where} | {', '.join(o.lower() for o in ops)} |")
    lines.append(
        "| every service user | every platform topic | describe (see it exists), "
        "describe_configs (the start-up check of its settings) |"
    )
    return "\n".join(lines) + "\n"


def certificates(folder: Path, hosts: list[str]) -> Path:
    """The client-facing listener's CA and certificate (ca.pem, broker.pem), and the
    controller listener's (controller-ca.pem, controller.pem), each made once. Returns the CA
    file clients verify the broker against.

    Two pairs, because Kafka reloads a keystore live only on the server side of a listener:
    the broker's own client connection to its controller keeps what it read at start. Were
    the controller listener to share broker.pem, a live renewal would have it present and
    trust the new CA while that connection still presents and trusts the old one, and the
    broker would be refused by its own controller at that connection's next reconnect. The
    controller's pair is renewed at a restart (docs/operations.md, "Certificates and
    passwords")."""
    tls.certificates(folder, hosts, "controller", ca_file="controller-ca.pem")
    return tls.certificates(folder, hosts, "broker")


def listener_properties(
    port: int,
    controller: int,
    tls_dir: Path,
    admin_password: str,
    host: str = "127.0.0.1",
    advertised: str | None = None,
) -> list[str]:
    """The listener lines of a broker whose client listener is SASL_SSL, with ACLs.

    The controller listener takes only the broker's own certificate (mutual TLS): open to
    anyone as ANONYMOUS, a super user, it let any local process change the cluster's
    configuration (KIP-919 admin calls go to controllers). SCRAM cannot serve there: the
    controller must be up before the SCRAM credentials it stores can be read.

    Each listener names its own key and trust stores: deploy/rotate.py renews the client
    listener's in place (same paths, reloaded by a dynamic config update) and never touches
    the controller's."""
    client, controller_listener = "listener.name.sasl_ssl.", "listener.name.controller."
    return [
        f"listeners=SASL_SSL://{host}:{port},CONTROLLER://127.0.0.1:{controller}",
        f"advertised.listeners=SASL_SSL://{advertised or host}:{port}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=SASL_SSL",
        "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL",
        "listener.name.controller.ssl.client.auth=required",
        f"sasl.enabled.mechanisms={MECHANISM}",
        f"sasl.mechanism.inter.broker.protocol={MECHANISM}",
        f"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
        f"org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{ADMIN}" password="{admin_password}";',
        "ssl.keystore.type=PEM",
        "ssl.truststore.type=PEM",
        f"{client}ssl.keystore.location={tls_dir / 'broker.pem'}",
        f"{client}ssl.truststore.location={tls_dir / 'ca.pem'}",
        f"{controller_listener}ssl.keystore.location={tls_dir / 'controller.pem'}",
        f"{controller_listener}ssl.truststore.location={tls_dir / 'controller-ca.pem'}",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        # The admin, and the broker itself (its certificate) on the controller listener.
        f"super.users=User:{ADMIN};User:{broker_principal(tls_dir)}",
        "allow.everyone.if.no.acl.found=false",
    ]


def broker_principal(tls_dir: Path) -> str:
    """The name Kafka gives the broker on its mutual-TLS controller listener: its controller
    certificate's subject (read from the certificate, which may predate this code)."""
    cert = x509.load_pem_x509_certificates((tls_dir / "controller.pem").read_bytes())[0]
    return cert.subject.rfc4514_string()


# -- provisioning -------------------------------------------------------------------------------


def client_config(
    bootstrap: str, user: str, password: str, ca: Path
) -> dict[str, str | int | float | bool]:
    """librdkafka settings for `user` (the admin here; a partner's client is configured alike)."""
    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": MECHANISM,
        "sasl.username": user,
        "sasl.password": password,
        "ssl.ca.location": str(ca),
    }


def admin_client(
    bootstrap: str, user: str, password: str, ca: Path, **extra: str | int | float | bool
) -> Any:
    """A confluent-kafka AdminClient as `user` (a partner's client is configured alike)."""
    from confluent_kafka.admin import AdminClient

    return AdminClient({**client_config(bootstrap, user, password, ca), **extra})


def wait_for_broker(admin: Any, deadline: float) -> None:
    from confluent_kafka import KafkaException

    while True:
        try:
            admin.list_topics(timeout=5)
            return
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def set_passwords(admin: Any, passwords: dict[str, str]) -> None:
    """Each user's SCRAM credential, made or replaced. The broker checks a password when a
    connection authenticates only: connections already made carry on (docs/operations.md,
    "Passwords")."""
    from confluent_kafka.admin import (
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialAlteration,
        UserScramCredentialUpsertion,
    )

    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(
            user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), password.encode()
        )
        for user, password in passwords.items()
    ]
    for future in admin.alter_user_scram_credentials(upserts).values():
        future.result()


def wait_for_password(bootstrap: str, user: str, password: str, ca: Path, deadline: float) -> None:
    """Until the listener takes this password: a changed SCRAM credential takes a moment to
    reach it from the controller."""
    from confluent_kafka import KafkaException

    probe = admin_client(bootstrap, user, password, ca, log_level=0)
    while True:
        try:
            probe.list_topics(timeout=2)
            return
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def create_topics(admin: Any, namespace: str, settings: Settings) -> None:
    """The topics of the topic map that are missing, with the configured partitions,
    replication factor and min.insync.replicas (as the workers create them: shared/kafka.py)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import NewTopic

    existing = set(admin.list_topics(timeout=10).topics)
    new = [
        NewTopic(f"{namespace}{t.name}", c.partitions, c.replication_factor, config=c.config)
        for t in TOPICS
        if f"{namespace}{t.name}" not in existing
        for c in [creation(settings, t)]
    ]
    for future in admin.create_topics(new).values() if new else []:
        try:
            future.result()
        except KafkaException as error:
            if "TOPIC_ALREADY_EXISTS" not in str(error):
                raise


def provision(
    bootstrap: str,
    admin_password: str,
    ca: Path,
    passwords: dict[str, str],
    namespace: str = "",
    settings: Settings | None = None,
    timeout_s: float = 120,
) -> None:
    """Topics, SCRAM users and ACLs, as the admin; waits for the broker first. The topics'
    partitions, replication factor and min.insync.replicas come from `settings` (by default
    the environment's CSP_TOPIC_*)."""
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    admin = admin_client(bootstrap, ADMIN, admin_password, ca)
    deadline = time.monotonic() + timeout_s
    wait_for_broker(admin, deadline)
    create_topics(admin, namespace, settings or Settings())
    set_passwords(admin, {user: passwords[user] for user in users()})
    bindings = [
        AclBinding(
            ResourceType.TOPIC if g.resource == "topic" else ResourceType.GROUP,
            g.name,
            ResourcePatternType.PREFIXED if g.prefixed else ResourcePatternType.LITERAL,
            f"User:{g.principal}",
            "*",
            getattr(AclOperation, op),
            AclPermissionType.ALLOW,
        )
        for g in grants(namespace)
        for op in g.operations
    ]
    for future in admin.create_acls(bindings).values():
        future.result()
    last = users()[-1]
    wait_for_password(bootstrap, last, passwords[last], ca, deadline)


def password_file(kafka_dir: Path, user: str) -> Path:
    """Where a local worker's SCRAM password is kept for it (CSP_KAFKA_PASSWORD_FILE): read at
    every new connection, so `python -m deploy.rotate password` needs no restart."""
    return kafka_dir / "passwords" / user


def write_password_file(kafka_dir: Path, user: str, password: str) -> Path:
    path = password_file(kafka_dir, user)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tls.write_atomically(path, password.encode(), private=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.local.kafka_security")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("docs", help="write the Kafka ACL table into docs/security.md")
    certs = commands.add_parser("certificates", help="make the CA and broker certificate")
    certs.add_argument("--dir", type=Path, required=True)
    certs.add_argument("--host", action="append", required=True)
    prov = commands.add_parser("provision", help="topics, users and ACLs (compose)")
    prov.add_argument("--bootstrap", required=True)
    prov.add_argument("--ca", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "docs":
        from shared.access import SECURITY_DOC, write_into

        write_into(SECURITY_DOC, "kafka-acls", grants_markdown())
    elif args.command == "certificates":
        print(certificates(args.dir, args.host))
    else:  # passwords from the environment: CSP_KAFKA_ADMIN_PASSWORD, CSP_KAFKA_PASSWORD_<USER>
        passwords = {u: os.environ[f"CSP_KAFKA_PASSWORD_{password_variable(u)}"] for u in users()}
        provision(
            args.bootstrap,
            os.environ["CSP_KAFKA_ADMIN_PASSWORD"],
            args.ca,
            passwords,
            os.environ.get("CSP_NAMESPACE", ""),
        )
        print("topics, users and ACLs provisioned", file=sys.stderr)


def password_variable(user: str) -> str:
    """CSP_KAFKA_PASSWORD_<this>: the environment variable holding a Kafka user's password."""
    return user.upper().replace("-", "_")


if __name__ == "__main__":
    main()
