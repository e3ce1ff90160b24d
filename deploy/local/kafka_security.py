"""Kafka in secure mode: TLS on the broker's listener, SCRAM-SHA-512 users, and ACLs that let
each service and each partner agency do exactly what the table below says.

- `certificates(folder, hosts)`: a local CA and the broker's certificate (PEM), made once.
- `grants(namespace)`: who may do what to which topic and consumer group: the table in
  docs/security.md (`python -m deploy.local.kafka_security docs` writes it) and the one the
  permission test holds the broker to.
- `provision(...)`: as the broker's admin, create the topics, every user (one per service
  worker, one per partner agency) and exactly these ACLs. Idempotent: run at every start.

The broker's own listener for its controller stays PLAINTEXT on the loopback address only
(KRaft does not take SCRAM there): nothing off the broker's host can reach it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from contracts.topics import TOPICS
from deploy.local.tls import certificates
from shared.kafka import DEAD_LETTER_TOPIC

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
            ops = {"DESCRIBE"}
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
        if g.operations == ("DESCRIBE",):
            continue  # every service may see every platform topic exists
        where = f"group `{g.name}*`" if g.prefixed else f"topic `{g.name}`"
        may_do = ", ".join(o.lower() for o in g.operations)
        lines.append(f"| `{g.principal}` | {where} | {may_do} |")
    lines.append("| every service user | every platform topic | describe |")
    return "\n".join(lines) + "\n"


def listener_properties(
    port: int,
    controller: int,
    tls: Path,
    admin_password: str,
    host: str = "127.0.0.1",
    advertised: str | None = None,
) -> list[str]:
    """The listener lines of a broker whose client listener is SASL_SSL, with ACLs.

    The controller listener takes only the broker's own certificate (mutual TLS): open to
    anyone as ANONYMOUS, a super user, it let any local process change the cluster's
    configuration (KIP-919 admin calls go to controllers). SCRAM cannot serve there: the
    controller must be up before the SCRAM credentials it stores can be read."""
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
        f"ssl.keystore.location={tls / 'broker.pem'}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={tls / 'ca.pem'}",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        # The admin, and the broker itself (its certificate) on the controller listener.
        f"super.users=User:{ADMIN};User:{broker_principal(tls)}",
        "allow.everyone.if.no.acl.found=false",
    ]


def broker_principal(tls: Path) -> str:
    """The name Kafka gives the broker on its mutual-TLS controller listener: its
    certificate's subject (read from the certificate, which may predate this code)."""
    cert = x509.load_pem_x509_certificates((tls / "broker.pem").read_bytes())[0]
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


def provision(
    bootstrap: str,
    admin_password: str,
    ca: Path,
    passwords: dict[str, str],
    namespace: str = "",
    partitions: int = 6,
    timeout_s: float = 120,
) -> None:
    """Topics, SCRAM users and ACLs, as the admin; waits for the broker first."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        AdminClient,
        NewTopic,
        ResourcePatternType,
        ResourceType,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialAlteration,
        UserScramCredentialUpsertion,
    )

    admin = AdminClient(client_config(bootstrap, ADMIN, admin_password, ca))
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin.list_topics(timeout=5)
            break
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    existing = set(admin.list_topics(timeout=10).topics)
    new = [
        NewTopic(f"{namespace}{t.name}", partitions, 1, config=t.config)
        for t in TOPICS
        if f"{namespace}{t.name}" not in existing
    ]
    for future in admin.create_topics(new).values() if new else []:
        try:
            future.result()
        except KafkaException as error:
            if "TOPIC_ALREADY_EXISTS" not in str(error):
                raise
    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(
            user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), passwords[user].encode()
        )
        for user in users()
    ]
    for future in admin.alter_user_scram_credentials(upserts).values():
        future.result()
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
    # A new SCRAM credential takes a moment to reach the listener: wait until one works.
    last = users()[-1]
    probe = AdminClient({**client_config(bootstrap, last, passwords[last], ca), "log_level": 0})
    while True:
        try:
            probe.list_topics(timeout=2)
            return
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


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
