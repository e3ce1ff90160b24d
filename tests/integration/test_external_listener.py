"""The broker's partner listener (deploy/local/kafka_security.py), on a secure broker of its own
made as `CSP_KAFKA_SECURE=1 make run` makes it, with two public names and the listener open on
every interface: a partner agency's user connects to it with the partner CA alone, verifying
the broker's certificate for a public name, and reads its own topic; every partner user against
every topic and another agency's consumer group through it is allowed exactly what the ACLs
say (kafka_security.may), nothing else; a name not in its certificate fails verification;
the internal and controller listeners listen on loopback only."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from contracts.topics import TOPICS
from deploy import rotate
from deploy.local import kafka_security, tls
from deploy.local.stack import LocalStack
from tests.infrastructure import (
    join_answer,
    new_namespace,
    poll_until,
    read_answer,
    secure_kafka,
    write_answer,
)

pytestmark = pytest.mark.integration

# The advertised name first: it must resolve here. The second is a name partners might use
# that resolves nowhere: its certificate is checked with TLS alone.
PUBLIC = ["localhost", "partners.csp.test"]
PARTNER_USERS = [f"partner-{p}" for p in kafka_security.PARTNERS]


@pytest.fixture(scope="module")
def broker() -> Iterator[tuple[str, LocalStack]]:
    namespace = new_namespace()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CSP_KAFKA_PUBLIC_HOSTS", ",".join(PUBLIC))
        # Open to every interface, as for partners on other networks: the other two
        # listeners must stay on loopback regardless.
        env.setenv("CSP_KAFKA_EXTERNAL_ADDRESS", "0.0.0.0")
        env.delenv("CSP_KAFKA_EXTERNAL_PORT", raising=False)
        with secure_kafka(namespace) as stack:
            yield namespace, stack


def partner_config(stack: LocalStack, user: str, host: str = "localhost") -> dict[str, Any]:
    """What a partner's librdkafka client is given: the partner listener under a public
    name, the partner CA, its own SCRAM user; the certificate verified for the name."""
    return {
        **kafka_security.client_config(
            f"{host}:{stack.kafka_external_port}",
            user,
            stack.kafka_passwords()[user],
            stack.tls_dir / kafka_security.EXTERNAL.ca,
        ),
        "ssl.endpoint.identification.algorithm": "https",  # librdkafka's default, made plain
        "broker.address.family": "v4",  # localhost's ::1 is not listened on
        "log_level": 0,
    }


def own_group(namespace: str, user: str) -> str:
    return f"{namespace}{user}.external-{uuid.uuid4().hex[:6]}"


def can_read(stack: LocalStack, namespace: str, user: str, topic: str) -> bool | str:
    """Fetch from partition 0 through the partner listener: True, False (refused), or what
    else happened."""
    return read_answer(
        {**partner_config(stack, user), "group.id": own_group(namespace, user)}, topic
    )


def can_write(stack: LocalStack, user: str, topic: str) -> bool | str:
    return write_answer(partner_config(stack, user), topic)


def can_join(stack: LocalStack, user: str, topic: str, group: str) -> bool | str:
    return join_answer({**partner_config(stack, user), "group.id": group}, topic)


def test_a_partner_reads_its_own_topic_through_the_partner_listener(
    broker: tuple[str, LocalStack],
) -> None:
    namespace, stack = broker
    topic, body = f"{namespace}partner-police", f'{{"probe": "{uuid.uuid4()}"}}'.encode()
    admin = kafka_security.client_config(  # the council's side: the internal listener
        f"127.0.0.1:{stack.kafka_port}",
        kafka_security.ADMIN,
        stack.credential("CSP_KAFKA_ADMIN_PASSWORD"),
        stack.tls_dir / "ca.pem",
    )
    producer = Producer(admin)
    producer.produce(topic, body, key=b"probe")
    assert producer.flush(30) == 0

    consumer = Consumer(
        {
            **partner_config(stack, "partner-police"),
            "group.id": own_group(namespace, "partner-police"),
        }
        | {"auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    seen: list[bytes] = []

    def received() -> bool:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            seen.append(message.value() or b"")
        return body in seen

    try:
        poll_until(received, 60, 0, "the police to read their topic through the partner listener")
    finally:
        consumer.close()
    # It was the partner listener's certificate, for a public name, that the client verified.
    external = stack.tls_dir / kafka_security.EXTERNAL.ca
    address = f"127.0.0.1:{stack.kafka_external_port}"
    leaf = rotate.leaf(stack.tls_dir / kafka_security.EXTERNAL.keystore)
    for name in PUBLIC:
        assert rotate.served(address, external, server_name=name) == leaf
    assert rotate.served(address, stack.tls_dir / "ca.pem", server_name="localhost") is None


def test_every_partner_user_against_every_topic_through_the_partner_listener(
    broker: tuple[str, LocalStack],
) -> None:
    namespace, stack = broker
    topics = [f"{namespace}{t.name}" for t in TOPICS]
    cases = [(user, topic) for user in PARTNER_USERS for topic in topics]
    # A partner may write nothing: every write is probed, each must be refused.
    assert not any(kafka_security.may(u, "WRITE", "topic", t, namespace) for u, t in cases)
    groups = [
        (user, f"{namespace}{user}", f"{namespace}{group}.x")
        for user in PARTNER_USERS
        for group in (user, "boards", PARTNER_USERS[PARTNER_USERS.index(user) - 1])
    ]
    with ThreadPoolExecutor(8) as pool:
        reads = list(pool.map(lambda c: can_read(stack, namespace, *c), cases))
        writes = list(pool.map(lambda c: can_write(stack, *c), cases))
        joins = list(pool.map(lambda g: can_join(stack, *g), groups))
    wrong = [
        f"{u} read {t}: {got}"
        for (u, t), got in zip(cases, reads, strict=True)
        if got is not kafka_security.may(u, "READ", "topic", t, namespace)
    ]
    wrong += [f"{u} wrote {t}: {got}" for (u, t), got in zip(cases, writes, strict=True) if got]
    wrong += [
        f"{u} joined {g}: {got}"
        for (u, _, g), got in zip(groups, joins, strict=True)
        if got is not kafka_security.may(u, "READ", "group", g, namespace)
    ]
    assert not wrong, "\n".join(wrong)
    assert sum(r is True for r in reads) == len(PARTNER_USERS)  # each its own topic, only
    assert sum(j is True for j in joins) == len(PARTNER_USERS)  # each its own groups, only


def test_a_name_not_in_the_partner_certificate_fails_verification(
    broker: tuple[str, LocalStack],
) -> None:
    _, stack = broker
    port, ca = stack.kafka_external_port, stack.tls_dir / kafka_security.EXTERNAL.ca
    assert "127.0.0.1" not in tls.names_in((stack.tls_dir / "external.pem").read_bytes())
    context = ssl.create_default_context(cafile=str(ca))
    for name in ("127.0.0.1", "kafka.not-ours.test"):
        with (
            pytest.raises(ssl.SSLCertVerificationError, match="mismatch"),
            socket.create_connection(("127.0.0.1", port), 5) as raw,
        ):
            context.wrap_socket(raw, server_hostname=name).close()
    # librdkafka, trusting the partner CA, refuses the broker reached by that address.
    errors: list[str] = []
    admin = AdminClient(
        {**partner_config(stack, "partner-police", host="127.0.0.1")}
        | {"error_cb": lambda e: errors.append(str(e))}
    )
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=5)

    def told() -> bool:
        admin.poll(0.2)  # error_cb is called from poll
        return any("certificate verify failed" in e for e in errors)

    poll_until(told, 10, 0, f"a certificate verification error (had {errors})")
    assert AdminClient(partner_config(stack, "partner-police")).list_topics(timeout=10).topics


def listening(port: int) -> set[str]:
    """The local addresses TCP sockets listen on at this port (Linux /proc); an IPv4 address
    that a dual-stack socket (Java's) shows mapped into IPv6 as the IPv4 address it is."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                # The kernel prints each 32-bit word of the address in host (little-endian) order.
                raw = b"".join(
                    bytes.fromhex(address[i : i + 8])[::-1] for i in range(0, len(address), 8)
                )
                ip = ipaddress.ip_address(socket.inet_ntop(family, raw))
                mapped = getattr(ip, "ipv4_mapped", None)
                found.add(str(mapped or ip))
    return found


def test_only_the_partner_listener_is_open_beyond_loopback(broker: tuple[str, LocalStack]) -> None:
    _, stack = broker
    properties = dict(
        line.split("=", 1)
        for line in (stack.kafka_dir / "server.properties").read_text().splitlines()
        if "=" in line
    )
    assert properties["listeners"] == (
        f"SASL_SSL://127.0.0.1:{stack.kafka_port},"
        f"EXTERNAL://0.0.0.0:{stack.kafka_external_port},"
        f"CONTROLLER://127.0.0.1:{stack.controller_port}"
    )
    assert listening(stack.kafka_port) == {"127.0.0.1"}
    assert listening(stack.controller_port) == {"127.0.0.1"}
    assert listening(stack.kafka_external_port) in ({"0.0.0.0"}, {"::"})  # every interface
