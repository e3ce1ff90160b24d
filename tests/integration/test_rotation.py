"""The broker's certificate renewed (a new CA) and two users' passwords rotated while a
producer and a consumer, configured as every worker is (shared/settings.py kafka_options),
keep running: no record lost, none written twice, no send failed; after each change the
running clients are made to reconnect, and do, with the new CA and the new password; a new
connection verifies against the new CA alone, the old password is refused and the new one
taken; the broker process is the one that started (deploy/rotate.py).

The partner listener's certificate is renewed the same way, on its own, one step at a time.

A broker of its own in secure mode, provisioned with CSP_TOPIC_PARTITIONS=3: the last test
holds the provisioning to the configured settings (issue 17), as a worker's own user sees them.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaClient, AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.conn import CloseReason, create_conn
from aiokafka.errors import KafkaError, SaslAuthenticationFailed
from cryptography import x509

from contracts.topics import CASE_EVENTS, TOPICS
from deploy import rotate
from deploy.local import kafka_security, tls
from deploy.local.stack import LocalStack
from shared.kafka import check_topics, new_producer
from shared.retry import pause
from shared.settings import Settings
from tests.infrastructure import eventually, new_namespace, read_topic, secure_kafka

pytestmark = pytest.mark.integration

PRODUCER, CONSUMER = "case_events", "projections"  # the Kafka users whose passwords rotate


@pytest.fixture(scope="module")
def secure() -> Iterator[tuple[str, LocalStack]]:
    namespace = new_namespace()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CSP_TOPIC_PARTITIONS", "3")  # the provisioner's settings
        with secure_kafka(namespace) as stack:
            yield namespace, stack


def broker_pid(stack: LocalStack) -> int:
    """The pid of the JVM running this stack's broker (its command line names its config)."""
    wanted = str(stack.kafka_dir / "server.properties").encode()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and wanted in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue  # ended meanwhile
    assert len(found) == 1, found
    return found[0]


def client_settings(stack: LocalStack, namespace: str, user: str) -> Settings:
    """A worker's settings in the local stack: its password and CA read from their files."""
    return Settings(
        service=user,
        namespace=namespace,
        kafka_bootstrap_servers=f"127.0.0.1:{stack.kafka_port}",
        kafka_security_protocol="SASL_SSL",
        kafka_username=user,
        kafka_password_file=str(kafka_security.password_file(stack.kafka_dir, user)),
        kafka_ssl_cafile=str(stack.tls_dir / "ca.pem"),
    )


def issuer_in(cafile: Path) -> x509.Name:
    """The subject of the only CA in a CA file."""
    (ca,) = tls.certificates_in(cafile.read_bytes())
    return ca.subject


def drop_connections(client: AIOKafkaClient) -> None:
    """What a network blip does: every connection the client has is closed, so its next
    request opens (and authenticates) a new one."""
    for conn in list(client._conns.values()):
        conn.close(reason=CloseReason.CONNECTION_BROKEN)


def user_settings(
    stack: LocalStack,
    user: str,
    password: str,
    bootstrap: str | None = None,
    cafile: Path | None = None,
) -> Settings:
    """`user`'s settings with `password` (by default on the internal listener)."""
    return Settings(
        kafka_bootstrap_servers=bootstrap or f"127.0.0.1:{stack.kafka_port}",
        kafka_security_protocol="SASL_SSL",
        kafka_username=user,
        kafka_password=password,
        kafka_ssl_cafile=str(cafile or stack.tls_dir / "ca.pem"),
    )


async def authenticates(
    stack: LocalStack,
    user: str,
    password: str,
    bootstrap: str | None = None,
    cafile: Path | None = None,
) -> bool:
    """Whether `user` connects and is answered (by default on the internal listener)."""
    settings = user_settings(stack, user, password, bootstrap, cafile)
    admin = AIOKafkaAdminClient(**settings.kafka_options(), request_timeout_ms=5000)
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except KafkaError:
        return False
    finally:
        await admin.close()


async def refused(
    stack: LocalStack,
    user: str,
    password: str,
    because: type[Exception],
    bootstrap: str | None = None,
    cafile: Path | None = None,
) -> None:
    """`user`'s connection is refused `because` (a wrong password, a certificate not
    verified), asked again while a try ends otherwise: a try that times out on the loaded
    machine shows no refusal. One that is answered fails at once."""
    options = user_settings(stack, user, password, bootstrap, cafile).kafka_options()
    host, port = str(options.pop("bootstrap_servers")).rsplit(":", 1)

    async def why() -> Exception | None:
        try:
            conn = await create_conn(host, int(port), request_timeout_ms=5000, **options)
        except because as error:
            return error
        except (KafkaError, OSError, TimeoutError):
            return None  # timed out or cut: no answer either way, ask again
        conn.close()
        raise AssertionError(f"{user} was answered")

    await eventually(why, 60, 0.5, what=f"{user} to be refused ({because.__name__})")


async def answered(
    stack: LocalStack,
    user: str,
    password: str,
    bootstrap: str | None = None,
    cafile: Path | None = None,
) -> None:
    """`user` connects and is answered (`authenticates`), asked again while a try fails: a
    try gives up after 5 s, and a handshake with the broker on the loaded machine can take
    longer (`refused` asks again so too)."""
    await eventually(
        lambda: authenticates(stack, user, password, bootstrap, cafile),
        60,
        0.5,
        what=f"{user} to be answered",
    )


class Traffic:
    """A producer sending numbered records one after another, and a consumer reading them."""

    def __init__(self, stack: LocalStack, namespace: str) -> None:
        self.topic = f"{namespace}{CASE_EVENTS}"
        self.producer = new_producer(client_settings(stack, namespace, PRODUCER))
        self.consumer = AIOKafkaConsumer(
            self.topic,
            **client_settings(stack, namespace, CONSUMER).kafka_options(),
            group_id=f"{namespace}boards.rotation",
            auto_offset_reset="earliest",
        )
        self.sent: list[int] = []
        self.received: list[int] = []
        self.failures: list[str] = []
        self.stop = asyncio.Event()
        self.drained_by = float("inf")  # once stopped, how long the consumer may catch up

    async def produce(self) -> None:
        n = 0
        while not self.stop.is_set():
            try:
                # aiokafka retries a batch for a reachable leader without end: bounded here,
                # a client that cannot reconnect fails the test instead of hanging it.
                send = self.producer.send_and_wait(self.topic, str(n).encode(), key=b"%d" % (n % 7))
                await asyncio.wait_for(send, 30)
                self.sent.append(n)
            except (KafkaError, TimeoutError) as error:
                self.failures.append(repr(error))
            n += 1
            await pause(self.stop, 0.02)  # a steady trickle, not a flood; ends at stop

    async def consume(self) -> None:
        while not self.stop.is_set() or (
            len(set(self.received)) < len(self.sent) and time.monotonic() < self.drained_by
        ):
            batches = await self.consumer.getmany(timeout_ms=200)
            for records in batches.values():
                self.received.extend(int(r.value or b"-1") for r in records)

    async def flowing(self, more: int = 15) -> None:
        """Until `more` new records went through end to end (the clients reconnect as needed)."""
        seen = len(self.received)

        async def moved() -> bool:
            return len(self.received) >= seen + more

        await eventually(moved, 30, what=f"{more} more records through")

    def reconnect(self) -> None:
        drop_connections(self.producer.client)
        drop_connections(self.consumer._client)


async def test_certificate_renewal_and_password_rotation_under_traffic(
    secure: tuple[str, LocalStack], tmp_path: Path
) -> None:
    namespace, stack = secure
    broker = rotate.Broker(stack, f"127.0.0.1:{stack.kafka_port}")
    pid = broker_pid(stack)
    old_passwords = stack.kafka_passwords()
    for user in (PRODUCER, CONSUMER):
        kafka_security.write_password_file(stack.kafka_dir, user, old_passwords[user])
    old_ca = Path(shutil.copy(broker.ca_file, tmp_path / "old-ca.pem"))
    old_leaf = rotate.leaf(broker.keystore)

    traffic = Traffic(stack, namespace)
    await traffic.producer.start()
    await traffic.consumer.start()
    tasks = [asyncio.create_task(traffic.produce()), asyncio.create_task(traffic.consume())]
    try:
        await traffic.flowing()

        # The operator's command runs beside the clients (a thread here, a process in life).
        await asyncio.to_thread(rotate.trust, broker)
        traffic.reconnect()  # they now trust the bundle: still the old certificate served
        await traffic.flowing()
        await asyncio.to_thread(rotate.swap, broker)
        new_ca = Path(shutil.copy(broker.next_dir / "ca.pem", tmp_path / "new-ca.pem"))
        traffic.reconnect()  # to the new certificate, through the bundle
        await traffic.flowing()
        await asyncio.to_thread(rotate.drop, broker)
        traffic.reconnect()  # the new CA alone
        await traffic.flowing()

        new_leaf = await asyncio.to_thread(rotate.served, broker.bootstrap, new_ca)
        assert new_leaf is not None and new_leaf != old_leaf
        assert new_leaf.issuer == issuer_in(new_ca)
        assert await asyncio.to_thread(rotate.served, broker.bootstrap, old_ca) is None
        assert issuer_in(broker.ca_file) == issuer_in(new_ca)  # clients trust it alone

        new_passwords = {
            user: await asyncio.to_thread(rotate.rotate_password, broker, user)
            for user in (PRODUCER, CONSUMER)
        }
        traffic.reconnect()  # with the new passwords, read from their files
        await traffic.flowing()
        for user in (PRODUCER, CONSUMER):
            assert new_passwords[user] != old_passwords[user]
            await refused(stack, user, old_passwords[user], SaslAuthenticationFailed)
            await answered(stack, user, new_passwords[user])
            assert stack.kafka_passwords()[user] == new_passwords[user]  # the secret store
    finally:
        traffic.drained_by = time.monotonic() + 20
        traffic.stop.set()
        await asyncio.gather(*tasks)
        for client in (traffic.producer, traffic.consumer):  # a failed run must not hang
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client.stop(), 15)

    assert not traffic.failures, traffic.failures[:5]
    assert set(traffic.received) == set(traffic.sent), "lost or unknown records"
    log = await read_topic(
        broker.bootstrap,
        traffic.topic,
        kafka_options=client_settings(stack, namespace, CONSUMER).kafka_options(),
    )
    written = [int(r.value or b"-1") for r in log]
    assert sorted(written) == sorted(traffic.sent), "the log has each record once"
    assert broker_pid(stack) == pid  # never restarted


async def test_the_partner_listener_certificate_is_renewed_on_its_own(
    secure: tuple[str, LocalStack], tmp_path: Path
) -> None:
    """The partner listener's certificate (external.pem, its CA external-ca.pem) renewed by
    the same three steps, one at a time, live: a partner trusting the bundle connects
    throughout, the new certificate is served for the public name, the old CA no longer
    verifies it, and the internal listener's certificate and CA file are not touched."""
    _, stack = secure
    internal = rotate.Broker(stack, f"127.0.0.1:{stack.kafka_port}")
    partners = internal.for_partners()
    name, address = stack.kafka_public_hosts[0], f"localhost:{stack.kafka_external_port}"
    at = f"127.0.0.1:{stack.kafka_external_port}"  # where the rotation checks what is served
    assert (partners.server_name, partners.address) == (name, at)
    password = stack.kafka_passwords()["partner-police"]
    pid, internal_leaf = broker_pid(stack), rotate.leaf(internal.keystore)
    internal_ca = internal.ca_file.read_bytes()
    old_ca = Path(shutil.copy(partners.ca_file, tmp_path / "old-partner-ca.pem"))
    old_leaf = rotate.leaf(partners.keystore)
    with pytest.raises(SystemExit, match="one step at a time"):
        rotate.renew(partners, "all", None)

    await asyncio.to_thread(rotate.trust, partners)
    assert len(tls.certificates_in(partners.ca_file.read_bytes())) == 2
    assert rotate.served(at, partners.ca_file, server_name=name) == old_leaf
    await answered(stack, "partner-police", password, address, partners.ca_file)

    await asyncio.to_thread(rotate.swap, partners)
    new_ca = Path(shutil.copy(partners.staged_ca, tmp_path / "new-partner-ca.pem"))
    new_leaf = rotate.served(at, new_ca, server_name=name)
    assert new_leaf is not None and new_leaf != old_leaf and new_leaf.issuer == issuer_in(new_ca)
    assert tls.names_in(partners.keystore.read_bytes()) == stack.kafka_public_hosts
    assert rotate.served(at, old_ca, server_name=name) is None
    await answered(stack, "partner-police", password, address, partners.ca_file)

    await asyncio.to_thread(rotate.drop, partners)
    assert issuer_in(partners.ca_file) == issuer_in(new_ca)
    await answered(stack, "partner-police", password, address, new_ca)
    await refused(stack, "partner-police", password, ssl.SSLCertVerificationError, address, old_ca)
    # The workers' listener is as it was: nothing for them to follow.
    assert rotate.served(internal.bootstrap, internal.ca_file) == internal_leaf
    assert internal.ca_file.read_bytes() == internal_ca
    assert "partner listener renewal: next step trust" in "\n".join(rotate.status_lines(internal))
    assert broker_pid(stack) == pid  # never restarted


async def test_renewals_run_back_to_back_and_a_refused_keystore_is_put_back_at_once(
    secure: tuple[str, LocalStack], tmp_path: Path
) -> None:
    """`make renew-certificates` runs the three steps with nothing between them, twice here:
    each step returns only once the broker has loaded the file, so the swap's keystore is
    never on disk before the broker has taken the trust store that accepts it (it refused
    both when it was: CI, 2026-12-04). A keystore from a CA no trust store holds is refused
    by the broker when asked, with the reason; the old file is back and still served."""
    _, stack = secure
    broker = rotate.Broker(stack, f"127.0.0.1:{stack.kafka_port}")
    log = stack.state_dir / "logs" / "kafka.log"
    refusals = log.read_text(errors="replace").count("Validation of dynamic config update")
    leaves = [rotate.leaf(broker.keystore)]
    for _ in range(2):
        assert await asyncio.to_thread(rotate.renew, broker, "all", None) == "renewed"
        leaves.append(rotate.leaf(broker.keystore))
        assert (
            await asyncio.to_thread(rotate.served, broker.bootstrap, broker.ca_file) == (leaves[-1])
        )
    assert len(set(leaves)) == 3
    assert log.read_text(errors="replace").count("Validation of dynamic config update") == (
        refusals
    )

    await asyncio.to_thread(rotate.trust, broker)
    stranger = tls.renewal(broker.keystore.read_bytes(), "broker")[1]  # a CA nobody trusts
    broker.write(broker.staged_keystore, stranger, private=True)
    with pytest.raises(Exception, match="PKIX path building failed"):
        await asyncio.to_thread(rotate.swap, broker, 10)
    assert rotate.leaf(broker.keystore) == leaves[-1]
    assert await asyncio.to_thread(rotate.served, broker.bootstrap, broker.ca_file) == (leaves[-1])
    assert rotate.next_step(broker) == "swap"  # nothing swapped


async def test_provisioned_topics_have_the_configured_settings(
    secure: tuple[str, LocalStack],
) -> None:
    namespace, stack = secure
    user = "partner_feeds"  # sees every topic, as the start-up check does in its worker
    settings: dict[str, Any] = {
        "namespace": namespace,
        "kafka_bootstrap_servers": f"127.0.0.1:{stack.kafka_port}",
        "kafka_security_protocol": "SASL_SSL",
        "kafka_username": user,
        "kafka_password": stack.kafka_passwords()[user],
        "kafka_ssl_cafile": str(stack.tls_dir / "ca.pem"),
    }
    configured = Settings(**settings, topic_partitions=3)
    admin = AIOKafkaAdminClient(**configured.kafka_options())
    await admin.start()
    try:
        assert await check_topics(admin, configured, TOPICS) == {}
        default = Settings(**settings, topic_partitions=6)
        found = await check_topics(admin, default, TOPICS)
        assert {d["partitions"] for d in found.values()} == {("6", "3")}
        assert len(found) == len(TOPICS)
    finally:
        await admin.close()
