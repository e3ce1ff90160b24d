"""Kafka in secure mode: TLS on the broker's listeners, SCRAM-SHA-512 users, and ACLs that let
each service and each partner agency do exactly what the table below says.

- `certificates(folder, hosts, public)`: a local CA and the broker's certificate (PEM), made
  once, the partner listener's own pair (its names: CSP_KAFKA_PUBLIC_HOSTS) and the controller
  listener's. The two client-facing pairs are renewed live by deploy/rotate.py, each on its
  own; the controller's is kept apart so that a live renewal never changes what the broker's
  own connection to its controller presents or trusts.
- `grants(namespace)`: who may do what to which topic and consumer group: the table in
  docs/security.md (`python -m deploy.local.kafka_security docs` writes it) and the one the
  permission test holds the broker to.
- `provision(...)`: as the broker's admin, create the topics, every user (one per service
  worker, one per partner agency) and exactly these ACLs. Idempotent: run at every start.

Three listeners (`listener_properties`):

- SASL_SSL, the internal one: the platform's workers and the broker's own inter-broker
  traffic, on loopback (`make run`) or inside the compose network; never published.
- EXTERNAL, the partners': SASL_SSL with SCRAM-SHA-512 on a port of its own, advertised under
  the first public name, serving `external.pem` (the public names, a CA of its own that is
  all a partner is given). The same users, ACLs and authorizer as the internal one: Kafka
  authorizes a principal, whatever listener it came by. Its own certificate, because the
  public names are not the internal ones, and so that renewing either certificate never
  involves the other's clients: partners need notice before a swap, the workers none.
- CONTROLLER, on the loopback address only, taking only the node's own certificate (KRaft
  does not take SCRAM there): nothing off the broker's host can reach it.
"""

from __future__ import annotations

import argparse
import os
import shutil
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
    "quality": ["case-events"],
    "projections": [
        "case-events",
        "accommodation-events",
        "education-events",
        "escalation-events",
        "quality-events",
    ],
    "partner_feeds": [
        "case-events",
        "accommodation-events",
        "education-events",
        "escalation-events",
        "quality-events",
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


@dataclass(frozen=True)
class ListenerFiles:
    """A client-facing listener's certificate files in the broker's tls folder: its PEM
    keystore, the CA file its clients verify it with (also its trust store), and where a
    renewal stages the next pair (deploy/rotate.py)."""

    name: str  # Kafka's listener name in lower case: its `listener.name.<name>.` prefix
    keystore: str
    ca: str
    staging: str


INTERNAL = ListenerFiles("sasl_ssl", "broker.pem", "ca.pem", "next")
EXTERNAL = ListenerFiles("external", "external.pem", "external-ca.pem", "next-external")


@dataclass(frozen=True)
class External:
    """The partners' listener as one broker runs it."""

    port: int  # the port the broker binds
    hosts: tuple[str, ...]  # the public names; the first is advertised
    bind: str = "127.0.0.1"  # the host address it is open on (0.0.0.0 in a container)
    advertised_port: int | None = None  # where partners reach it, if not `port` (compose maps)


def certificates(folder: Path, hosts: list[str], public: list[str] | None = None) -> Path:
    """The client-facing listener's CA and certificate (ca.pem, broker.pem), the partner
    listener's for the `public` names (external-ca.pem, external.pem) and the controller
    listener's (controller-ca.pem, controller.pem), each made once. Returns the CA file
    clients verify the broker against.

    Separate pairs, because Kafka reloads a keystore live only on the server side of a
    listener: the broker's own client connection to its controller keeps what it read at
    start. Were the controller listener to share broker.pem, a live renewal would have it
    present and trust the new CA while that connection still presents and trusts the old one,
    and the broker would be refused by its own controller at that connection's next
    reconnect. The controller's pair is renewed at a restart (docs/operations.md,
    "Certificates and passwords")."""
    tls.certificates(folder, hosts, "controller", ca_file="controller-ca.pem")
    if public is not None:
        external_certificate(folder, public)
    return tls.certificates(folder, hosts, "broker")


# Set to the new names (as CSP_KAFKA_PUBLIC_HOSTS spells them) to confirm a change of them.
CONFIRM_NEW_NAMES = "CSP_KAFKA_NEW_PUBLIC_HOSTS"


def external_certificate(folder: Path, public: list[str]) -> Path:
    """The partner listener's CA and certificate for these names, made once.

    New names need a new certificate, and so a new CA (a CA's key is never kept): every
    partner agency must then be given the new CA file, and cannot connect until it has it.
    So a change of names is made only when confirmed (CONFIRM_NEW_NAMES set to the new
    names), never because a deployment started without its CSP_KAFKA_PUBLIC_HOSTS; the old
    pair is moved aside, not deleted, and a renewal staged for the old names is dropped."""
    keystore = folder / EXTERNAL.keystore
    if keystore.exists():
        names = tls.names_in(keystore.read_bytes())
        if set(names) != set(public):
            if os.environ.get(CONFIRM_NEW_NAMES, "") != ",".join(public):
                raise SystemExit(
                    f"the partner listener's certificate names {', '.join(names)}, but "
                    f"CSP_KAFKA_PUBLIC_HOSTS is {','.join(public)}. New names mean a new CA "
                    "that every partner agency must be given before it can connect again. "
                    f"To make them, set {CONFIRM_NEW_NAMES}={','.join(public)} as well; "
                    f"otherwise set CSP_KAFKA_PUBLIC_HOSTS={','.join(names)}."
                )
            aside = folder / f"replaced-{tls.now():%Y%m%dT%H%M%S}"
            aside.mkdir()
            for name in (EXTERNAL.keystore, EXTERNAL.ca):
                if (folder / name).exists():
                    (folder / name).rename(aside / name)
            shutil.rmtree(folder / EXTERNAL.staging, ignore_errors=True)
            print(
                f"the partner listener's names are now {', '.join(public)}: a new certificate "
                f"and CA in {folder / EXTERNAL.ca} (the old ones in {aside}); give it to "
                "every partner agency",
                file=sys.stderr,
            )
    return tls.certificates(folder, public, "external", ca_file=EXTERNAL.ca)


def listener_properties(
    port: int,
    controller: int,
    tls_dir: Path,
    admin_password: str,
    host: str = "127.0.0.1",
    advertised: str | None = None,
    external: External | None = None,
) -> list[str]:
    """The listener lines of a broker whose client listeners are SASL_SSL, with ACLs.

    The controller listener takes only the broker's own certificate (mutual TLS): open to
    anyone as ANONYMOUS, a super user, it let any local process change the cluster's
    configuration (KIP-919 admin calls go to controllers). SCRAM cannot serve there: the
    controller must be up before the SCRAM credentials it stores can be read.

    The partner listener (`external`) takes SCRAM-SHA-512 alone, and its JAAS entry has no
    credential: the broker never connects out through it, so the admin's password is only on
    the internal listener's.

    Each listener names its own key and trust stores: deploy/rotate.py renews each client
    listener's in place (same paths, reloaded by a dynamic config update) and never touches
    the controller's."""
    bound = {"SASL_SSL": f"{host}:{port}"}
    advertise = {"SASL_SSL": f"{advertised or host}:{port}"}
    extra: list[str] = []
    if external is not None:
        bound["EXTERNAL"] = f"{external.bind}:{external.port}"
        advertise["EXTERNAL"] = f"{external.hosts[0]}:{external.advertised_port or external.port}"
        prefix = f"listener.name.{EXTERNAL.name}."
        extra = [
            f"{prefix}sasl.enabled.mechanisms={MECHANISM}",
            f"{prefix}{MECHANISM.lower()}.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            f"{prefix}ssl.client.auth=none",
            f"{prefix}ssl.keystore.location={tls_dir / EXTERNAL.keystore}",
            f"{prefix}ssl.truststore.location={tls_dir / EXTERNAL.ca}",
        ]
    client, controller_listener = f"listener.name.{INTERNAL.name}.", "listener.name.controller."
    return [
        "listeners="
        + ",".join(
            [*(f"{n}://{a}" for n, a in bound.items()), f"CONTROLLER://127.0.0.1:{controller}"]
        ),
        "advertised.listeners=" + ",".join(f"{n}://{a}" for n, a in advertise.items()),
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=SASL_SSL",
        "listener.security.protocol.map="
        + ",".join([*(f"{n}:SASL_SSL" for n in bound), "CONTROLLER:SSL"]),
        "listener.name.controller.ssl.client.auth=required",
        f"sasl.enabled.mechanisms={MECHANISM}",
        f"sasl.mechanism.inter.broker.protocol={MECHANISM}",
        f"{client}{MECHANISM.lower()}.sasl.jaas.config="
        f"org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{ADMIN}" password="{admin_password}";',
        "ssl.keystore.type=PEM",
        "ssl.truststore.type=PEM",
        f"{client}ssl.keystore.location={tls_dir / INTERNAL.keystore}",
        f"{client}ssl.truststore.location={tls_dir / INTERNAL.ca}",
        *extra,
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
    """Topics, ACLs and SCRAM users, as the admin; waits for the broker first, and returns
    once the broker takes the last user's password. The controller records each call's
    changes after the last's and the broker applies them in that order, so the ACLs, made
    before the passwords, are then in force too (made after them, a worker started at once
    could be refused a topic its ACL had not yet reached). The topics' partitions,
    replication factor and min.insync.replicas come from `settings` (by default the
    environment's CSP_TOPIC_*)."""
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
    set_passwords(admin, {user: passwords[user] for user in users()})
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
    certs.add_argument("--public-host", action="append", help="a name partners use (repeat)")
    prov = commands.add_parser("provision", help="topics, users and ACLs (compose)")
    prov.add_argument("--bootstrap", required=True)
    prov.add_argument("--ca", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "docs":
        from shared.access import SECURITY_DOC, write_into

        write_into(SECURITY_DOC, "kafka-acls", grants_markdown())
    elif args.command == "certificates":
        print(certificates(args.dir, args.host, args.public_host))
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
