"""The pure parts of certificate renewal and password rotation (deploy/rotate.py,
deploy/local/tls.py, shared/settings.py): what a renewal makes, what clients trust at each
step, when a renewal is due, and clients that read their CA and password files again. The
TLS handshakes run in memory (no socket); the live rotation against a broker is
tests/integration/test_rotation.py."""

from __future__ import annotations

import argparse
import datetime
import os
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from deploy import rotate
from deploy.local import kafka_security, tls
from deploy.local.stack import LocalStack
from shared.settings import CaFileContext, PasswordFile, Settings

HOSTS = ["kafka", "localhost", "127.0.0.1"]


def handshake(client: ssl.SSLContext, keystore: Path, host: str = "kafka") -> bool:
    """Whether a client with this context accepts a server with this keystore (in memory)."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(keystore)
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client_end = client.wrap_bio(c_in, c_out, server_hostname=host)
    server_end = server_context.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for name, end, out, peer_in in (
            ("client", client_end, c_out, s_in),
            ("server", server_end, s_out, c_in),
        ):
            if not done[name]:
                try:
                    end.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLError:
                    return False
            peer_in.write(out.read())
        if all(done.values()):
            return True
    return False


def trusting(cafile: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cafile))


@pytest.fixture
def made(tmp_path: Path) -> Path:
    """A broker's folder as `make run` leaves it: both pairs of certificates."""
    kafka_security.certificates(tmp_path, HOSTS)
    return tmp_path


def renewed(folder: Path) -> tuple[Path, Path]:
    """A renewal of the folder's broker certificate, written beside it: (new CA, keystore)."""
    ca, keystore = tls.renewal((folder / "broker.pem").read_bytes())
    (folder / "new-ca.pem").write_bytes(ca.public_bytes(tls.PEM))
    (folder / "new-broker.pem").write_bytes(keystore)
    return folder / "new-ca.pem", folder / "new-broker.pem"


def test_a_renewal_keeps_the_subject_and_names_under_a_new_ca(made: Path) -> None:
    old = tls.certificates_in((made / "broker.pem").read_bytes())
    new_ca_file, keystore = renewed(made)
    new = tls.certificates_in(keystore.read_bytes())
    assert new[0].subject == old[0].subject  # Kafka reloads only the same subject and names
    san = x509.SubjectAlternativeName
    assert new[0].extensions.get_extension_for_class(san).value == (
        old[0].extensions.get_extension_for_class(san).value
    )
    assert new[0].issuer == new[1].subject != old[1].subject  # a CA of its own name
    assert new[1] == tls.certificates_in(new_ca_file.read_bytes())[0]
    new[0].verify_directly_issued_by(new[1])
    assert b"PRIVATE KEY" in keystore.read_bytes().split(b"-----BEGIN CERTIFICATE")[0]
    assert handshake(trusting(new_ca_file), keystore)
    assert not handshake(trusting(made / "ca.pem"), keystore)  # hence the bundle


def test_during_a_renewal_clients_trust_the_old_certificate_and_the_new(made: Path) -> None:
    new_ca_file, keystore = renewed(made)
    old_ca = (made / "ca.pem").read_bytes()
    both = tls.bundle(old_ca, new_ca_file.read_bytes(), old_ca)  # each CA once, in order
    assert [c.subject for c in tls.certificates_in(both)] == [
        tls.certificates_in(old_ca)[0].subject,
        tls.certificates_in(new_ca_file.read_bytes())[0].subject,
    ]
    (made / "bundle.pem").write_bytes(both)
    assert handshake(trusting(made / "bundle.pem"), made / "broker.pem")
    assert handshake(trusting(made / "bundle.pem"), keystore)
    assert not handshake(trusting(new_ca_file), made / "broker.pem")  # the old CA, dropped


def test_a_renewal_is_due_inside_the_days_left() -> None:
    at = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    _, ca = tls.new_authority("broker", at, days=90)
    assert tls.days_left(ca, at) == pytest.approx(90)
    assert not rotate.due(ca, 60, at)
    assert rotate.due(ca, 60, at + datetime.timedelta(days=31))
    assert tls.days_left(ca, at + datetime.timedelta(days=100)) < 0


def test_the_controller_listener_has_a_pair_of_its_own(made: Path) -> None:
    """A live renewal of broker.pem never touches what the broker's own connection to its
    controller presents or trusts (deploy/local/kafka_security.py certificates)."""
    controller = tls.certificates_in((made / "controller.pem").read_bytes())
    assert controller[1] != tls.certificates_in((made / "ca.pem").read_bytes())[0]
    assert handshake(trusting(made / "controller-ca.pem"), made / "controller.pem")
    lines = kafka_security.listener_properties(9092, 9093, made, "secret")
    assert f"listener.name.controller.ssl.keystore.location={made / 'controller.pem'}" in lines
    assert f"listener.name.sasl_ssl.ssl.keystore.location={made / 'broker.pem'}" in lines
    assert f"User:{controller[0].subject.rfc4514_string()}" in lines[-2]


class FakeBroker(rotate.Broker):
    """The file side of a renewal; the broker's reloads are noted, not made."""

    reloads: list[str]

    def reload(self, store: rotate.Store, timeout_s: float = 0.0) -> None:
        self.reloads.append(store)


def test_the_three_steps_leave_the_files_as_each_should(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = LocalStack(state_dir=tmp_path, secure=True)
    kafka_security.certificates(stack.tls_dir, HOSTS)
    broker = FakeBroker(stack, "127.0.0.1:9092", ca_copies=(tmp_path / "copy.pem",))
    object.__setattr__(broker, "reloads", [])
    old_ca, old_leaf = broker.ca_file.read_bytes(), rotate.leaf(broker.keystore)
    assert rotate.next_step(broker) == "trust"

    rotate.trust(broker)
    new_ca = (broker.next_dir / "ca.pem").read_bytes()
    assert broker.ca_file.read_bytes() == tls.bundle(old_ca, new_ca)
    assert (tmp_path / "copy.pem").read_bytes() == broker.ca_file.read_bytes()
    assert (broker.next_dir / "broker.pem").stat().st_mode & 0o077 == 0
    assert rotate.next_step(broker) == "swap"
    with pytest.raises(SystemExit):
        rotate.drop(broker)  # never the old CA out before the new certificate is served

    staged = rotate.leaf(broker.next_dir / "broker.pem")
    monkeypatch.setattr(rotate, "served", lambda bootstrap, cafile: staged)
    rotate.swap(broker)
    assert rotate.leaf(broker.keystore) == staged != old_leaf
    assert rotate.next_step(broker) == "drop"

    rotate.drop(broker)
    assert broker.ca_file.read_bytes() == new_ca == (tmp_path / "copy.pem").read_bytes()
    assert not broker.next_dir.exists()
    assert broker.reloads == ["truststore", "keystore", "truststore"]
    later = tls.now() + datetime.timedelta(days=40)
    shown = "\n".join(rotate.status_lines(broker, later))
    assert "renewal: next step trust" in shown
    assert "(40 days ago)" in shown.split("last renewed:")[1].splitlines()[0]
    assert "(785 days)" in shown  # the new certificate's days left, 40 days on


def test_a_renewal_not_due_is_not_started(tmp_path: Path) -> None:
    stack = LocalStack(state_dir=tmp_path, secure=True)
    kafka_security.certificates(stack.tls_dir, HOSTS)
    broker = FakeBroker(stack, "127.0.0.1:9092")
    object.__setattr__(broker, "reloads", [])
    assert rotate.renew(broker, "all", days_left=30).startswith("not due")
    assert broker.reloads == [] and rotate.next_step(broker) == "trust"


def test_credentials_are_set_replaced_and_removed() -> None:
    text = "CSP_A=1\nCSP_AB=2\n"
    assert rotate.with_credential(text, "CSP_A", "3") == "CSP_AB=2\nCSP_A=3\n"
    assert rotate.with_credential(text, "CSP_A", None) == "CSP_AB=2\n"
    assert rotate.with_credential("", "CSP_B", "x") == "CSP_B=x\n"


def test_a_client_reads_its_password_file_at_every_authentication(tmp_path: Path) -> None:
    path = tmp_path / "password"
    path.write_text("old\n")
    password = PasswordFile(str(path))
    assert password.encode() == b"old"
    path.write_text("new\n")
    assert password.encode("utf-8") == b"new"  # what aiokafka's ScramAuthenticator calls
    path.unlink()
    assert password.encode() == b"old"  # unreadable: the one read at start
    path.write_text("newer\n")
    options: dict[str, Any] = Settings(
        kafka_security_protocol="SASL_SSL", kafka_password_file=str(path)
    ).kafka_options()
    assert options["sasl_plain_password"].encode() == b"newer"


def test_a_client_follows_its_ca_file_as_it_changes(made: Path) -> None:
    new_ca_file, keystore = renewed(made)
    cafile = made / "clients-ca.pem"
    cafile.write_bytes((made / "ca.pem").read_bytes())
    context = CaFileContext.of(str(cafile))
    assert handshake(context, made / "broker.pem")
    assert not handshake(context, keystore)
    tls.write_atomically(cafile, tls.bundle(cafile.read_bytes(), new_ca_file.read_bytes()))
    assert handshake(context, made / "broker.pem") and handshake(context, keystore)
    tls.write_atomically(cafile, new_ca_file.read_bytes())
    assert handshake(context, keystore)
    assert not handshake(context, made / "broker.pem")
    settings = Settings(kafka_security_protocol="SASL_SSL", kafka_ssl_cafile=str(cafile))
    assert isinstance(settings.kafka_options()["ssl_context"], CaFileContext)


def test_the_keystore_is_private_and_readable_as_a_pem_keystore(made: Path) -> None:
    data = (made / "broker.pem").read_bytes()
    assert (made / "broker.pem").stat().st_mode & 0o077 == 0
    serialization.load_pem_private_key(data, password=None)
    assert len(tls.certificates_in(data)) == 2


def test_a_ca_copy_must_bear_the_renewed_listeners_file_name(tmp_path: Path) -> None:
    """The workers' ca.pem and the partners' external-ca.pem hold different CAs: a renewal of
    one listener that wrote its bundle over the other's copy would cut off the other's
    clients at their next connection."""
    args = argparse.Namespace(
        dir=tmp_path,
        bootstrap="kafka:9092",
        ca_copy=[tmp_path / "copies" / "external-ca.pem"],
        owner=1000,
        listener="internal",
        partner_listener=None,
    )
    with pytest.raises(SystemExit, match=r"must be named ca\.pem"):
        rotate.broker_from(args)
    args.ca_copy = [tmp_path / "copies" / "ca.pem"]
    assert rotate.broker_from(args).ca_copies == (tmp_path / "copies" / "ca.pem",)


def test_a_reload_names_the_file_by_the_spelling_the_broker_does_not_have() -> None:
    """Each reload is a changed setting (checked when asked, seen once loaded), and every
    spelling names the same file."""
    path = Path("/var/kafka/tls/ca.pem")
    plain, dotted = rotate.spellings(path)
    assert rotate.other_spelling(plain, path) == dotted
    assert rotate.other_spelling(dotted, path) == plain
    assert rotate.other_spelling(None, path) == plain  # no dynamic setting yet
    assert rotate.other_spelling("/elsewhere/ca.pem", path) == plain
    assert os.path.normpath(dotted) == plain != dotted
