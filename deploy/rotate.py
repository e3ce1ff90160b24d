"""The broker's certificate renewed and Kafka users' passwords rotated while everything runs:
no process restarts, no record is lost (docs/operations.md, "Certificates and passwords").

    python -m deploy.rotate status
    python -m deploy.rotate certificates [--days-left N] [--step trust|swap|drop|all]
    python -m deploy.rotate password USER

Certificates. A CA's key is never written (deploy/local/tls.py), so a renewal makes a new CA
and a new broker certificate, and changes over in three steps, each live:

1. trust: the clients' CA file, which is also the broker's trust store, becomes a bundle of
   the old CA and the new. The platform's workers read the file again for each new
   connection (shared/settings.py); partners are sent the bundle now, and have until step 2.
2. swap: the broker's keystore file is replaced by the new key and certificate, and the
   broker reloads it: a dynamic config update that sets the listener's keystore to the same
   path (in KRaft the controller records even an unchanged broker setting so that the broker
   reloads the file it names: KAFKA-14136; KIP-226). Open connections keep their session;
   new ones get the new certificate, which every client trusts since step 1. Kafka refuses
   the reload unless the new certificate has the old one's subject and names and each of
   the old and new trust stores accepts the other's certificate; the steps' order is what
   makes that hold.
3. drop: the CA file holds the new CA alone.

Passwords. The broker checks a SCRAM password when a connection authenticates, never later
(connections.max.reauth.ms is not set), so open connections carry on through a rotation. The
broker's credential changes first, then the user's password file, which the workers read for
each new connection: a client that reconnects in between (milliseconds) is refused once, and
aiokafka connects again after its back-off.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import secrets
import socket
import ssl
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from deploy.local import kafka_security, tls
from deploy.local.stack import LocalStack

Store = Literal["keystore", "truststore"]
STEPS = ("trust", "swap", "drop")


@dataclass(frozen=True)
class Broker:
    """A secure broker as the rotation sees it: its folder (a local stack's or, in compose,
    the kafka-setup volume's), where clients reach it, and where their CA file is copied."""

    stack: LocalStack
    bootstrap: str
    listener: str = "sasl_ssl"
    ca_copies: tuple[Path, ...] = ()  # compose: the clients' volume holds a copy of ca.pem
    owner: int | None = None  # the uid the broker runs as (it must read its keystore)
    # The local stack keeps passwords in credentials.env and each worker's password file;
    # a deployment keeps them in its own secret store (the new one comes in a file).
    local_secrets: bool = True

    @property
    def tls_dir(self) -> Path:
        return self.stack.tls_dir

    @property
    def ca_file(self) -> Path:
        return self.tls_dir / "ca.pem"

    @property
    def keystore(self) -> Path:
        return self.tls_dir / "broker.pem"

    @property
    def next_dir(self) -> Path:
        """The renewal under way: the new CA, and the new keystore until it is swapped in."""
        return self.tls_dir / "next"

    @property
    def records(self) -> Path:
        return self.stack.kafka_dir / "rotations.json"

    def admin(self) -> Any:
        return kafka_security.admin_client(
            self.bootstrap,
            kafka_security.ADMIN,
            self.stack.credential("CSP_KAFKA_ADMIN_PASSWORD"),
            self.ca_file,
        )

    def reload(self, store: Store) -> None:
        """Every broker loads this listener's key or trust store again from its file."""
        from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

        admin = self.admin()
        path = self.keystore if store == "keystore" else self.ca_file
        key = f"listener.name.{self.listener}.ssl.{store}.location"
        resources = [
            ConfigResource(
                "BROKER",
                str(node),
                incremental_configs=[
                    ConfigEntry(key, str(path), incremental_operation=AlterConfigOpType.SET)
                ],
            )
            for node in admin.list_topics(timeout=10).brokers
        ]
        for future in admin.incremental_alter_configs(resources).values():
            future.result()

    def write(self, path: Path, content: bytes, private: bool = False) -> None:
        tls.write_atomically(path, content, private, self.owner)

    def give_clients(self, cas: bytes) -> None:
        """The CA file clients verify the broker with: the broker's trust store and copies."""
        self.write(self.ca_file, cas)
        for copy in self.ca_copies:
            tls.write_atomically(copy, cas)


# -- certificates --------------------------------------------------------------------------


def due(cert: x509.Certificate, days_left: float, at: datetime.datetime | None = None) -> bool:
    """Whether a certificate is to be renewed: fewer than `days_left` days before it expires."""
    return tls.days_left(cert, at) < days_left


def leaf(keystore: Path) -> x509.Certificate:
    return tls.certificates_in(keystore.read_bytes())[0]


def next_step(broker: Broker) -> str:
    """Which step of a renewal comes next: trust (none under way), swap, or drop."""
    if not (broker.next_dir / "ca.pem").exists():
        return "trust"
    return "swap" if (broker.next_dir / "broker.pem").exists() else "drop"


def trust(broker: Broker) -> None:
    """Step 1: a new CA and keystore staged in next/, and clients trusting old and new. Run
    again before the swap, it gives the bundle out and reloads the trust store again."""
    if next_step(broker) == "drop":
        raise SystemExit("the new certificate is in use: the next step is drop")
    if next_step(broker) == "trust":
        ca, keystore = tls.renewal(broker.keystore.read_bytes())
        broker.next_dir.mkdir(mode=0o700, exist_ok=True)
        if broker.owner is not None:
            os.chown(broker.next_dir, broker.owner, broker.owner)
        broker.write(broker.next_dir / "broker.pem", keystore, private=True)
        broker.write(broker.next_dir / "ca.pem", ca.public_bytes(tls.PEM))
    new_ca = (broker.next_dir / "ca.pem").read_bytes()
    broker.give_clients(tls.bundle(broker.ca_file.read_bytes(), new_ca))
    broker.reload("truststore")


def swap(broker: Broker, timeout_s: float = 30) -> None:
    """Step 2: the broker serves the new certificate; checked on a new connection. If the
    broker refuses the new keystore, the old one is put back in its file."""
    if next_step(broker) != "swap":
        raise SystemExit(f"nothing to swap in: the next step is {next_step(broker)}")
    staged, old = broker.next_dir / "broker.pem", broker.keystore.read_bytes()
    wanted = leaf(staged)
    broker.write(broker.keystore, staged.read_bytes(), private=True)
    try:
        broker.reload("keystore")
    except Exception:
        broker.write(broker.keystore, old, private=True)
        raise
    deadline = time.monotonic() + timeout_s
    while served(broker.bootstrap, broker.next_dir / "ca.pem") != wanted:
        if time.monotonic() > deadline:
            raise TimeoutError("the broker still serves its old certificate")
        time.sleep(0.1)  # the update reaches the broker through the metadata log
    staged.unlink()


def drop(broker: Broker) -> None:
    """Step 3: clients trust the new CA alone; the renewal is over."""
    if next_step(broker) != "drop":
        raise SystemExit(f"the old CA is still needed: the next step is {next_step(broker)}")
    broker.give_clients((broker.next_dir / "ca.pem").read_bytes())
    broker.reload("truststore")
    (broker.next_dir / "ca.pem").unlink()
    broker.next_dir.rmdir()
    record(broker, "certificate")


def served(bootstrap: str, cafile: Path, timeout_s: float = 5) -> x509.Certificate | None:
    """The certificate the broker presents to a new connection verified against `cafile`
    (None if it does not verify)."""
    host, port = bootstrap.split(",")[0].rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(cafile))
    try:
        with (
            socket.create_connection((host, int(port)), timeout_s) as raw,
            context.wrap_socket(raw, server_hostname=host) as conn,
        ):
            der = conn.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError:
        return None
    return x509.load_der_x509_certificate(der) if der else None


def renew(broker: Broker, step: str, days_left: float | None) -> str:
    """Run one step, or all three; with `days_left`, start only a renewal that is due."""
    starting = step in ("trust", "all") and next_step(broker) == "trust"
    if starting and days_left is not None and not due(leaf(broker.keystore), days_left):
        return f"not due: more than {days_left:g} days left"
    steps = STEPS if step == "all" else (step,)
    done = {"trust": trust, "swap": swap, "drop": drop}
    for name in steps:
        if step == "all" and STEPS.index(name) < STEPS.index(next_step(broker)):
            continue  # resuming a renewal that stopped part-way
        done[name](broker)
    return "renewed" if next_step(broker) == "trust" else f"next step: {next_step(broker)}"


# -- passwords -----------------------------------------------------------------------------


def with_credential(text: str, name: str, value: str | None) -> str:
    """A credentials.env text with `name` set to `value` (or removed, for None)."""
    lines = [line for line in text.splitlines() if not line.startswith(f"{name}=")]
    if value is not None:
        lines.append(f"{name}={value}")
    return "\n".join(lines) + "\n"


def set_credential(stack: LocalStack, name: str, value: str | None) -> None:
    path = stack.credentials_file
    text = path.read_text() if path.exists() else ""
    tls.write_atomically(path, with_credential(text, name, value).encode(), private=True)


def rotate_password(broker: Broker, user: str, new: str | None = None) -> str:
    """A new password for a Kafka user: the broker's credential first, then the password
    file the user's worker reads and the local secret store. A password the rotation makes
    is staged in the secret store before anything else, so a run that stops part-way is
    finished by the next with the same one. Returns the password."""
    if user not in kafka_security.users():
        raise SystemExit(
            f"{user!r} is not a platform user ({', '.join(kafka_security.users())}); the "
            "admin's password is also the broker's own login: see the runbook"
        )
    stack = broker.stack
    variable = f"CSP_KAFKA_PASSWORD_{kafka_security.password_variable(user)}"
    staged = f"{variable}_NEXT"
    if new is None and not broker.local_secrets:
        raise SystemExit("give the new password in a file (--password-file)")
    password = new or stack.credential(staged, lambda: secrets.token_urlsafe(24))
    kafka_security.set_passwords(broker.admin(), {user: password})
    deadline = time.monotonic() + 60
    kafka_security.wait_for_password(broker.bootstrap, user, password, broker.ca_file, deadline)
    if broker.local_secrets:
        kafka_security.write_password_file(stack.kafka_dir, user, password)
        set_credential(stack, variable, password)
        set_credential(stack, staged, None)
    record(broker, f"password:{user}")
    return password


# -- status --------------------------------------------------------------------------------


def record(broker: Broker, what: str, at: datetime.datetime | None = None) -> None:
    done = json.loads(broker.records.read_text()) if broker.records.exists() else {}
    done[what] = (at or tls.now()).isoformat(timespec="seconds")
    tls.write_atomically(broker.records, json.dumps(done, indent=2).encode())


def describe(cert: x509.Certificate, at: datetime.datetime | None = None) -> str:
    fingerprint = cert.fingerprint(hashes.SHA256()).hex()[:16]
    return (
        f"{cert.subject.rfc4514_string()}  expires {cert.not_valid_after_utc:%Y-%m-%d} "
        f"({tls.days_left(cert, at):.0f} days)  sha256 {fingerprint}"
    )


def status_lines(broker: Broker, at: datetime.datetime | None = None) -> list[str]:
    """What `status` prints: each certificate's expiry, the renewal's next step, and when
    each password was last rotated."""
    lines = ["certificates:"]
    files = {
        "clients trust (ca.pem)": broker.ca_file,
        "broker (broker.pem)": broker.keystore,
        "controller listener (controller.pem)": broker.tls_dir / "controller.pem",
    }
    for label, path in files.items():
        certs = tls.certificates_in(path.read_bytes()) if path.exists() else []
        shown = certs if path == broker.ca_file else certs[:1]
        lines += [f"  {label}: {describe(c, at)}" for c in shown] or [f"  {label}: missing"]
    lines.append(f"  renewal: next step {next_step(broker)}")
    done = json.loads(broker.records.read_text()) if broker.records.exists() else {}
    lines.append(f"  last renewed: {since(done.get('certificate'), at)}")
    lines.append("passwords (last rotated):")
    lines += [f"  {u}: {since(done.get(f'password:{u}'), at)}" for u in kafka_security.users()]
    return lines


def since(when: str | None, at: datetime.datetime | None = None) -> str:
    """A recorded rotation's date and age ('never' for none recorded: made at provisioning)."""
    if when is None:
        return "never"
    age = (at or tls.now()) - datetime.datetime.fromisoformat(when)
    return f"{when} ({age.days} days ago)"


# -- the command ---------------------------------------------------------------------------


def broker_from(args: argparse.Namespace) -> Broker:
    stack = LocalStack(state_dir=args.dir.resolve(), secure=True) if args.dir else LocalStack()
    return Broker(
        stack,
        args.bootstrap or f"127.0.0.1:{stack.kafka_port}",
        ca_copies=tuple(args.ca_copy),
        owner=args.owner,
        local_secrets=args.dir is None,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.rotate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dir", type=Path, help="the broker's folder (default: the local stack)")
    parser.add_argument("--bootstrap", help="host:port of the broker's client listener")
    parser.add_argument("--ca-copy", type=Path, action="append", default=[], help="clients' CA")
    parser.add_argument("--owner", type=int, help="uid the broker runs as (compose: 1000)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", help="certificates' expiry, passwords' age")
    certs = commands.add_parser("certificates", help="renew the broker's certificate, live")
    certs.add_argument("--step", choices=[*STEPS, "all"], default="all")
    certs.add_argument("--days-left", type=float, help="renew only if fewer days are left")
    password = commands.add_parser("password", help="rotate a Kafka user's password, live")
    password.add_argument("user")
    password.add_argument("--password-file", type=Path, help="the new password (else made)")
    args = parser.parse_args()
    broker = broker_from(args)
    if args.command == "status":
        print("\n".join(status_lines(broker)))
    elif args.command == "certificates":
        print(renew(broker, args.step, args.days_left))
    else:
        new = args.password_file.read_text().strip() if args.password_file else None
        rotate_password(broker, args.user, new)
        print(f"{args.user}: password rotated", file=sys.stderr)


if __name__ == "__main__":
    main()
