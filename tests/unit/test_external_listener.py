"""The partner listener as configuration (deploy/local/kafka_security.py listener_properties,
deploy/local/broker.py, deploy/local/stack.py, deploy/rotate.py): the lines of the broker's
properties, its certificate's names, the port the local stack picks, the compose broker's
binding and advertising, and the renewal of its certificate on its own. The broker taking
them is tests/integration/test_external_listener.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from deploy import rotate
from deploy.local import broker, kafka_security, tls
from deploy.local.kafka_security import EXTERNAL, External
from deploy.local.stack import LocalStack
from shared.settings import Settings
from tests.unit.test_rotation import FakeBroker, handshake, trusting

PUBLIC = ["kafka.example-council.gov.uk", "partners.example-council.gov.uk", "192.0.2.7"]


def properties(lines: list[str]) -> dict[str, str]:
    return dict(line.split("=", 1) for line in lines if "=" in line)


def listeners(value: str) -> dict[str, str]:
    """`NAME://host:port,...` as {NAME: host:port}."""
    return dict(entry.split("://") for entry in value.split(","))


@pytest.fixture
def made(tmp_path: Path) -> Path:
    kafka_security.certificates(tmp_path, ["kafka", "localhost"], PUBLIC)
    return tmp_path


def test_the_partner_listener_has_a_port_scram_and_a_certificate_of_its_own(made: Path) -> None:
    external = External(29094, tuple(PUBLIC), "0.0.0.0")
    config = properties(
        kafka_security.listener_properties(9092, 9093, made, "s3", "kafka", None, external)
    )
    assert listeners(config["listeners"]) == {
        "SASL_SSL": "kafka:9092",
        "EXTERNAL": "0.0.0.0:29094",
        "CONTROLLER": "127.0.0.1:9093",  # loopback, whatever the others bind
    }
    # Partners are sent to the first public name; nobody is sent to the controller.
    assert listeners(config["advertised.listeners"]) == {
        "SASL_SSL": "kafka:9092",
        "EXTERNAL": "kafka.example-council.gov.uk:29094",
    }
    assert config["inter.broker.listener.name"] == "SASL_SSL"  # the brokers' own: internal
    assert config["controller.listener.names"] == "CONTROLLER"
    protocols = dict(p.split(":") for p in config["listener.security.protocol.map"].split(","))
    assert protocols == {"SASL_SSL": "SASL_SSL", "EXTERNAL": "SASL_SSL", "CONTROLLER": "SSL"}
    prefix = "listener.name.external."
    assert config[f"{prefix}sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    jaas = config[f"{prefix}scram-sha-512.sasl.jaas.config"]
    assert jaas.startswith("org.apache.kafka.common.security.scram.ScramLoginModule required")
    # The broker never logs in through it, so its own (the admin's) password is not written
    # there. Who may log in through it is another matter: every SCRAM user (docs/security.md).
    assert "password" not in jaas
    assert config[f"{prefix}ssl.client.auth"] == "none"
    assert config[f"{prefix}ssl.keystore.location"] == str(made / "external.pem")
    assert config[f"{prefix}ssl.truststore.location"] == str(made / "external-ca.pem")
    assert config["listener.name.sasl_ssl.ssl.keystore.location"] == str(made / "broker.pem")
    # One authorizer, no ACL no access: the same ACLs on every listener.
    assert config["allow.everyone.if.no.acl.found"] == "false"
    assert config["authorizer.class.name"].endswith("StandardAuthorizer")


def test_without_a_partner_listener_the_broker_is_as_it_was(made: Path) -> None:
    config = properties(kafka_security.listener_properties(9092, 9093, made, "s3"))
    assert listeners(config["listeners"]) == {
        "SASL_SSL": "127.0.0.1:9092",
        "CONTROLLER": "127.0.0.1:9093",
    }
    assert not [key for key in config if key.startswith("listener.name.external.")]


def test_the_partner_certificate_names_the_public_hosts_under_a_ca_of_its_own(made: Path) -> None:
    keystore = (made / "external.pem").read_bytes()
    assert tls.names_in(keystore) == PUBLIC
    leaf, ca = tls.certificates_in(keystore)
    assert leaf.subject.rfc4514_string() == f"CN={PUBLIC[0]}"
    assert tls.certificates_in((made / "external-ca.pem").read_bytes()) == [ca]
    internal_ca = tls.certificates_in((made / "ca.pem").read_bytes())[0]
    assert ca != internal_ca  # a partner is given a CA that signed nothing internal
    assert tls.names_in((made / "broker.pem").read_bytes()) == ["kafka", "localhost"]
    for name in PUBLIC[:2]:  # verified with the host name, as a partner's client does
        assert handshake(trusting(made / "external-ca.pem"), made / "external.pem", name)
    assert not handshake(trusting(made / "external-ca.pem"), made / "external.pem", "kafka")
    assert not handshake(trusting(made / "ca.pem"), made / "external.pem", PUBLIC[0])


def test_new_public_names_make_a_new_certificate_and_ca_only_when_confirmed(
    made: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (made / "external.pem").read_bytes(), (made / "external-ca.pem").read_bytes()
    (made / EXTERNAL.staging).mkdir()  # a renewal staged for the old names
    kafka_security.certificates(made, ["kafka", "localhost"], list(reversed(PUBLIC)))
    assert (made / "external.pem").read_bytes() == before[0]  # same names: kept
    assert (made / EXTERNAL.staging).exists()

    # A deployment started without its names (the default) does not cut the partners off.
    monkeypatch.delenv(kafka_security.CONFIRM_NEW_NAMES, raising=False)
    with pytest.raises(SystemExit, match="every partner agency must be given"):
        kafka_security.certificates(made, ["kafka", "localhost"], ["localhost"])
    assert (made / "external-ca.pem").read_bytes() == before[1]

    monkeypatch.setenv(kafka_security.CONFIRM_NEW_NAMES, "feeds.example.org")
    kafka_security.certificates(made, ["kafka", "localhost"], ["feeds.example.org"])
    assert [p.read_bytes() for p in sorted(made.glob("replaced-*/*.pem"))] == [
        before[1],
        before[0],
    ]  # the old pair kept aside: external-ca.pem, external.pem
    assert tls.names_in((made / "external.pem").read_bytes()) == ["feeds.example.org"]
    assert (made / "external-ca.pem").read_bytes() != before[1]
    assert not (made / EXTERNAL.staging).exists()
    assert tls.names_in((made / "broker.pem").read_bytes()) == ["kafka", "localhost"]


def test_public_hosts_are_a_comma_separated_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CSP_KAFKA_PUBLIC_HOSTS", raising=False)
    assert Settings().public_hosts() == ["localhost"]
    hosts = Settings(kafka_public_hosts=" kafka.example.org, 192.0.2.7 ").public_hosts()
    assert hosts == ["kafka.example.org", "192.0.2.7"]
    for wrong in ("", "a,,b", "kafka.example.org:9094", "https://kafka.example.org"):
        with pytest.raises(ValueError):
            Settings(kafka_public_hosts=wrong)


def test_the_local_stack_picks_the_partner_port_once_and_keeps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CSP_KAFKA_EXTERNAL_PORT", raising=False)
    first = LocalStack(state_dir=tmp_path, secure=True).kafka_external_port
    assert 20000 <= first < 32000  # the stack's free-port range
    assert LocalStack(state_dir=tmp_path, secure=True).kafka_external_port == first
    monkeypatch.setenv("CSP_KAFKA_EXTERNAL_PORT", "29999")
    assert LocalStack(state_dir=tmp_path, secure=True).kafka_external_port == 29999
    monkeypatch.delenv("CSP_KAFKA_EXTERNAL_PORT")
    assert LocalStack(state_dir=tmp_path, secure=True).kafka_external_port == 29999


def test_the_local_stack_binds_only_the_partner_listener_where_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSP_KAFKA_EXTERNAL_ADDRESS", "0.0.0.0")
    monkeypatch.setenv("CSP_KAFKA_PUBLIC_HOSTS", "localhost,partners.csp.test")
    monkeypatch.setenv("CSP_KAFKA_ADMIN_PASSWORD", "not-used-here")
    stack = LocalStack(state_dir=tmp_path, kafka_port=21000, secure=True, external_port=21005)
    kafka_security.certificates(stack.tls_dir, ["127.0.0.1", "localhost"], stack.kafka_public_hosts)
    config = properties(stack.kafka_properties().splitlines())
    assert listeners(config["listeners"]) == {
        "SASL_SSL": "127.0.0.1:21000",
        "EXTERNAL": "0.0.0.0:21005",
        "CONTROLLER": "127.0.0.1:21001",
    }
    assert listeners(config["advertised.listeners"])["EXTERNAL"] == "localhost:21005"
    assert stack.urls()["Kafka for partners"].startswith("localhost:21005 (SASL_SSL")
    assert "Kafka for partners" not in LocalStack(state_dir=tmp_path).urls()


def test_the_compose_broker_advertises_the_published_port_under_the_public_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSP_KAFKA_ADMIN_PASSWORD", "not-used-here")
    monkeypatch.delenv("CSP_KAFKA_EXTERNAL_PORT", raising=False)
    folder, cas = tmp_path / "secure", tmp_path / "ca"
    broker.write_broker(folder, cas, "kafka", tmp_path / "data", None, PUBLIC, 19094)
    config = properties((folder / "kafka" / "server.properties").read_text().splitlines())
    assert listeners(config["listeners"]) == {
        "SASL_SSL": "0.0.0.0:9092",  # the compose network's; compose does not publish it
        "EXTERNAL": "0.0.0.0:9094",  # published on the host's 19094 (docker-compose.yml)
        "CONTROLLER": "127.0.0.1:9093",
    }
    assert listeners(config["advertised.listeners"]) == {
        "SASL_SSL": "kafka:9092",
        "EXTERNAL": f"{PUBLIC[0]}:19094",
    }
    keystore = folder / "kafka" / "tls" / "external.pem"
    assert tls.names_in(keystore.read_bytes()) == PUBLIC
    assert (cas / "external-ca.pem").read_bytes() == (
        keystore.parent / "external-ca.pem"
    ).read_bytes()
    # deploy/rotate.py run with --dir finds the partner listener at the container's port.
    rotation = rotate.Broker(LocalStack(state_dir=folder, secure=True), "kafka:9092")
    assert rotation.for_partners().address == "kafka:9094"
    assert rotation.for_partners().server_name == PUBLIC[0]


def test_the_partner_certificate_is_renewed_on_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = LocalStack(state_dir=tmp_path, secure=True, external_port=29094)
    kafka_security.certificates(stack.tls_dir, ["127.0.0.1"], PUBLIC)
    internal = stack.tls_dir / "broker.pem", stack.tls_dir / "ca.pem"
    untouched = [path.read_bytes() for path in internal]
    partners = FakeBroker(stack, "127.0.0.1:9092").for_partners()
    assert isinstance(partners, FakeBroker)  # the same broker, another listener
    object.__setattr__(partners, "reloads", [])
    assert (partners.address, partners.server_name) == ("127.0.0.1:29094", PUBLIC[0])
    with pytest.raises(SystemExit, match="one step at a time"):
        rotate.renew(partners, "all", None)  # partners need the new CA before the swap

    old_ca = partners.ca_file.read_bytes()
    rotate.trust(partners)
    assert partners.next_dir == stack.tls_dir / "next-external"
    new_ca = partners.staged_ca.read_bytes()
    assert partners.ca_file.read_bytes() == tls.bundle(old_ca, new_ca)
    staged = rotate.leaf(partners.staged_keystore)
    assert tls.names_in(partners.staged_keystore.read_bytes()) == PUBLIC
    checked: list[tuple[str, str | None]] = []

    def served(address: str, cafile: Path, server_name: str | None = None) -> x509.Certificate:
        checked.append((address, server_name))
        return staged

    monkeypatch.setattr(rotate, "served", served)
    rotate.swap(partners)
    # as a partner verifies it, on a connection to each of the broker's network threads twice
    assert checked == [("127.0.0.1:29094", PUBLIC[0])] * rotate.SERVED_IN_A_ROW
    rotate.drop(partners)
    assert partners.ca_file.read_bytes() == new_ca
    assert partners.reloads == ["truststore", "keystore", "truststore"]
    assert [path.read_bytes() for path in internal] == untouched
    shown = "\n".join(rotate.status_lines(FakeBroker(stack, "127.0.0.1:9092")))
    assert f"partner listener names: {', '.join(PUBLIC)}" in shown
    assert "partner listener renewal: next step trust" in shown
    assert "partner listener last renewed: never" not in shown
    assert "  last renewed: never" in shown  # the internal one was not renewed
