"""The broker's certificate renewed and Kafka users' passwords rotated while everything runs:
no process restarts, no record is lost (docs/operations.md, "Certificates and passwords").

    python -m deploy.rotate status
    python -m deploy.rotate certificates [--listener internal|external] [--days-left N]
                                         [--step trust|swap|drop|all]
    python -m deploy.rotate password USER

Certificates. The broker has two client-facing listeners, each with its certificate and CA
(deploy/local/kafka_security.py): the internal one (broker.pem, ca.pem: the platform's
workers) and the partners' (external.pem, external-ca.pem). Each is renewed on its own, by
the same steps: the workers follow their CA file at once, partners need notice before the
swap, so the internal renewal never waits for partners and `--step all` is refused for theirs.
A CA's key is never written (deploy/local/tls.py), so a renewal makes a new CA and a new
certificate, and changes over in three steps, each live:

1. trust: the listener's CA file, which is also its trust store, becomes a bundle of the old
   CA and the new. The platform's workers read the file again for each new connection
   (shared/settings.py); partners are sent the partner listener's bundle now, and have until
   step 2.
2. swap: the broker's keystore file is replaced by the new key and certificate, and the
   broker reloads it: a dynamic config update that names the same file by another spelling
   of its path (KIP-226; `Broker.reload`), which returns once the broker has loaded it.
   Open connections keep their session; new ones get the new certificate, which every
   client trusts since step 1. Kafka refuses the reload unless the new certificate has the
   old one's subject and names and each of the old and new trust stores accepts the other's
   certificate; the steps' order, each step loaded before the next begins, makes that hold.
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
from dataclasses import dataclass, replace
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
    the kafka-setup volume's), where clients reach its internal listener (the admin's calls go
    there), which listener's certificate is renewed, and where its CA file is copied."""

    stack: LocalStack
    bootstrap: str
    listener: kafka_security.ListenerFiles = kafka_security.INTERNAL
    ca_copies: tuple[Path, ...] = ()  # compose: the clients' volume holds a copy of ca.pem
    owner: int | None = None  # the uid the broker runs as (it must read its keystore)
    # The local stack keeps passwords in credentials.env and each worker's password file;
    # a deployment keeps them in its own secret store (the new one comes in a file).
    local_secrets: bool = True
    # The renewed listener's host:port and the name its certificate is checked for, when it
    # is not the internal one (the partner listener: `for_partners`).
    address: str | None = None
    server_name: str | None = None

    def for_partners(self, address: str | None = None) -> Broker:
        """The same broker, its partner listener's certificate to be renewed: checked at
        `address` (default: the bootstrap's host, the stack's partner port) for the first
        name in its certificate, as a partner verifies it."""
        host = self.bootstrap.split(",")[0].rsplit(":", 1)[0]
        keystore = self.tls_dir / kafka_security.EXTERNAL.keystore
        return replace(
            self,
            listener=kafka_security.EXTERNAL,
            address=address or f"{host}:{self.stack.kafka_external_port}",
            server_name=tls.names_in(keystore.read_bytes())[0],
        )

    @property
    def tls_dir(self) -> Path:
        return self.stack.tls_dir

    @property
    def ca_file(self) -> Path:
        """The renewed listener's CA file: its clients' and its own trust store."""
        return self.tls_dir / self.listener.ca

    @property
    def keystore(self) -> Path:
        return self.tls_dir / self.listener.keystore

    @property
    def next_dir(self) -> Path:
        """The renewal under way: the new CA, and the new keystore until it is swapped in."""
        return self.tls_dir / self.listener.staging

    @property
    def staged_ca(self) -> Path:
        return self.next_dir / self.listener.ca

    @property
    def staged_keystore(self) -> Path:
        return self.next_dir / self.listener.keystore

    @property
    def records(self) -> Path:
        return self.stack.kafka_dir / "rotations.json"

    @property
    def admin_ca(self) -> Path:
        """The internal listener's CA file, which the admin's connection verifies."""
        return self.tls_dir / kafka_security.INTERNAL.ca

    def admin(self) -> Any:
        return kafka_security.admin_client(
            self.bootstrap,
            kafka_security.ADMIN,
            self.stack.credential("CSP_KAFKA_ADMIN_PASSWORD"),
            self.admin_ca,
        )

    def reload(self, store: Store, timeout_s: float = 30) -> None:
        """Every broker loads this listener's key or trust store again from its file, and
        has loaded it when this returns.

        The setting names the same file by the other of two spellings of its path
        (`spellings`), so it is a change, not a repeat. A changed setting is checked by the
        broker that takes the request before it is recorded: Kafka refuses a keystore the
        trust stores do not accept, and the call fails with the reason. And the broker's own
        description of its settings shows the new spelling only once it has loaded the file.
        The same spelling set again (KAFKA-14136) reloads too, but unchecked and unseen: the
        call returns once the controller has recorded it, the broker loads the file later,
        and a refusal is only in its log. `renew-certificates` then replaced the keystore
        before the broker had taken the trust store, and the broker refused both."""
        from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

        admin = self.admin()
        key = f"listener.name.{self.listener.name}.ssl.{store}.location"
        path = self.keystore if store == "keystore" else self.ca_file
        nodes = [str(node) for node in admin.list_topics(timeout=10).brokers]
        wanted = {node: other_spelling(setting(admin, node, key), path) for node in nodes}
        resources = [
            ConfigResource(
                "BROKER",
                node,
                incremental_configs=[
                    ConfigEntry(key, wanted[node], incremental_operation=AlterConfigOpType.SET)
                ],
            )
            for node in nodes
        ]
        for future in admin.incremental_alter_configs(resources).values():
            future.result()
        deadline = time.monotonic() + timeout_s
        while any(setting(admin, node, key) != wanted[node] for node in nodes):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"a broker has not loaded {path} after {timeout_s:.0f}s: see its log"
                )
            time.sleep(0.1)  # the update reaches the broker through the metadata log

    def write(self, path: Path, content: bytes, private: bool = False) -> None:
        tls.write_atomically(path, content, private, self.owner)

    def give_clients(self, cas: bytes) -> None:
        """The CA file clients verify the broker with: the broker's trust store and copies."""
        self.write(self.ca_file, cas)
        for copy in self.ca_copies:
            tls.write_atomically(copy, cas)


def spellings(path: Path) -> tuple[str, str]:
    """Two spellings of one file's path: as it is, and with `/./` before its name."""
    return str(path), f"{path.parent}/./{path.name}"


def other_spelling(current: str | None, path: Path) -> str:
    """The spelling of `path` a broker whose setting is `current` does not have now."""
    plain, dotted = spellings(path)
    return dotted if current == plain else plain


def setting(admin: Any, node: str, key: str) -> str | None:
    """One broker's own value of one setting, as it has applied it."""
    from confluent_kafka.admin import ConfigResource

    resource = ConfigResource("BROKER", node)
    entries = admin.describe_configs([resource])[resource].result(timeout=10)
    entry = entries.get(key)
    return None if entry is None else entry.value


# -- certificates --------------------------------------------------------------------------


def due(cert: x509.Certificate, days_left: float, at: datetime.datetime | None = None) -> bool:
    """Whether a certificate is to be renewed: fewer than `days_left` days before it expires."""
    return tls.days_left(cert, at) < days_left


def leaf(keystore: Path) -> x509.Certificate:
    return tls.certificates_in(keystore.read_bytes())[0]


def next_step(broker: Broker) -> str:
    """Which step of a renewal comes next: trust (none under way), swap, or drop."""
    if not broker.staged_ca.exists():
        return "trust"
    return "swap" if broker.staged_keystore.exists() else "drop"


def trust(broker: Broker) -> None:
    """Step 1: a new CA and keystore staged in next/ (next-external/ for the partner
    listener), and clients trusting old and new. Run again before the swap, it gives the
    bundle out and reloads the trust store again."""
    if next_step(broker) == "drop":
        raise SystemExit("the new certificate is in use: the next step is drop")
    if next_step(broker) == "trust":
        purpose = broker.keystore.stem  # the CA's name says which listener's it is
        ca, keystore = tls.renewal(broker.keystore.read_bytes(), purpose)
        broker.next_dir.mkdir(mode=0o700, exist_ok=True)
        if broker.owner is not None:
            os.chown(broker.next_dir, broker.owner, broker.owner)
        broker.write(broker.staged_keystore, keystore, private=True)
        broker.write(broker.staged_ca, ca.public_bytes(tls.PEM))
    new_ca = broker.staged_ca.read_bytes()
    broker.give_clients(tls.bundle(broker.ca_file.read_bytes(), new_ca))
    broker.reload("truststore")


# Each of a listener's network threads (num.network.threads, 3 unless set) has its own SSL
# factory, reloaded one after the other, and new connections go to them in turn: the swap is
# done when this many new connections in a row are served the new certificate, not the first.
SERVED_IN_A_ROW = 2 * 3


def swap(broker: Broker, timeout_s: float = 30) -> None:
    """Step 2: the broker serves the new certificate; checked on a new connection. If the
    broker refuses the new keystore, the old one is put back in its file."""
    if next_step(broker) != "swap":
        raise SystemExit(f"nothing to swap in: the next step is {next_step(broker)}")
    staged, old = broker.staged_keystore, broker.keystore.read_bytes()
    wanted = leaf(staged)
    broker.write(broker.keystore, staged.read_bytes(), private=True)
    try:
        broker.reload("keystore")
    except Exception:
        broker.write(broker.keystore, old, private=True)
        raise
    deadline, in_a_row = time.monotonic() + timeout_s, 0
    while in_a_row < SERVED_IN_A_ROW:
        if serving(broker, broker.staged_ca) == wanted:
            in_a_row += 1
            continue
        in_a_row = 0
        if time.monotonic() > deadline:
            raise TimeoutError("the broker still serves its old certificate")
        time.sleep(0.1)  # the update reaches the broker through the metadata log
    staged.unlink()


def drop(broker: Broker) -> None:
    """Step 3: clients trust the new CA alone; the renewal is over."""
    if next_step(broker) != "drop":
        raise SystemExit(f"the old CA is still needed: the next step is {next_step(broker)}")
    broker.give_clients(broker.staged_ca.read_bytes())
    broker.reload("truststore")
    broker.staged_ca.unlink()
    broker.next_dir.rmdir()
    record(broker, renewal_record(broker.listener))


def renewal_record(listener: kafka_security.ListenerFiles) -> str:
    """The name a listener's last renewal is recorded under in rotations.json."""
    return "certificate" if listener == kafka_security.INTERNAL else f"certificate:{listener.name}"


def serving(broker: Broker, cafile: Path) -> x509.Certificate | None:
    """What the renewed listener serves a new connection, verified as its clients verify it:
    the internal listener for the host connected to, the partners' for its public name."""
    if broker.server_name is None:
        return served(broker.address or broker.bootstrap, cafile)
    return served(broker.address or broker.bootstrap, cafile, server_name=broker.server_name)


def served(
    bootstrap: str, cafile: Path, timeout_s: float = 5, server_name: str | None = None
) -> x509.Certificate | None:
    """The certificate the broker presents to a new connection verified against `cafile`
    for `server_name` (default: the host connected to); None if it does not verify."""
    host, port = bootstrap.split(",")[0].rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(cafile))
    try:
        with (
            socket.create_connection((host, int(port)), timeout_s) as raw,
            context.wrap_socket(raw, server_hostname=server_name or host) as conn,
        ):
            der = conn.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError:
        return None
    return x509.load_der_x509_certificate(der) if der else None


def renew(broker: Broker, step: str, days_left: float | None) -> str:
    """Run one step, or all three; with `days_left`, start only a renewal that is due. All
    three at once only for the internal listener: partners must have the new CA before the
    partner listener's swap."""
    if step == "all" and broker.listener != kafka_security.INTERNAL:
        raise SystemExit(
            "the partner listener is renewed one step at a time: --step trust, give every "
            "partner agency the new external-ca.pem, then --step swap, then --step drop"
        )
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
    kafka_security.wait_for_password(broker.bootstrap, user, password, broker.admin_ca, deadline)
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


# What `status` calls each client-facing listener's files: (its clients, its certificate).
LISTENER_LABELS = {
    kafka_security.INTERNAL: ("clients trust", "broker", ""),
    kafka_security.EXTERNAL: ("partners trust", "partner listener", "partner listener "),
}


def status_lines(broker: Broker, at: datetime.datetime | None = None) -> list[str]:
    """What `status` prints: each certificate's expiry, each renewal's next step, when each
    certificate was last renewed and each password last rotated. The partner listener's
    lines only where it has a certificate (a broker made before it existed has none yet)."""
    done = json.loads(broker.records.read_text()) if broker.records.exists() else {}
    lines = ["certificates:"]
    for files, (clients, leaf_label, prefix) in LISTENER_LABELS.items():
        listener = replace(broker, listener=files)
        if files != kafka_security.INTERNAL and not listener.keystore.exists():
            continue
        lines += certificate_lines(f"{clients} ({files.ca})", listener.ca_file, at, every=True)
        lines += certificate_lines(f"{leaf_label} ({files.keystore})", listener.keystore, at)
        if files != kafka_security.INTERNAL:
            names = ", ".join(tls.names_in(listener.keystore.read_bytes()))
            lines.append(f"  {prefix}names: {names}")
        lines.append(f"  {prefix}renewal: next step {next_step(listener)}")
        lines.append(f"  {prefix}last renewed: {since(done.get(renewal_record(files)), at)}")
    controller = broker.tls_dir / "controller.pem"
    lines += certificate_lines("controller listener (controller.pem)", controller, at)
    lines.append("passwords (last rotated):")
    lines += [f"  {u}: {since(done.get(f'password:{u}'), at)}" for u in kafka_security.users()]
    return lines


def certificate_lines(
    label: str, path: Path, at: datetime.datetime | None, every: bool = False
) -> list[str]:
    """A file's certificate (`every`: each CA of a CA file) with its expiry."""
    certs = tls.certificates_in(path.read_bytes()) if path.exists() else []
    shown = certs if every else certs[:1]
    return [f"  {label}: {describe(c, at)}" for c in shown] or [f"  {label}: missing"]


def since(when: str | None, at: datetime.datetime | None = None) -> str:
    """A recorded rotation's date and age ('never' for none recorded: made at provisioning)."""
    if when is None:
        return "never"
    age = (at or tls.now()) - datetime.datetime.fromisoformat(when)
    return f"{when} ({age.days} days ago)"


# -- the command ---------------------------------------------------------------------------


def broker_from(args: argparse.Namespace) -> Broker:
    stack = LocalStack(state_dir=args.dir.resolve(), secure=True) if args.dir else LocalStack()
    broker = Broker(
        stack,
        args.bootstrap or f"127.0.0.1:{stack.kafka_port}",
        ca_copies=tuple(args.ca_copy),
        owner=args.owner,
        local_secrets=args.dir is None,
    )
    if getattr(args, "listener", "internal") == "external":
        broker = broker.for_partners(args.partner_listener)
    wrong = [str(c) for c in broker.ca_copies if c.name != broker.listener.ca]
    if wrong:
        # The workers and the partners trust different CAs: a partner bundle written over
        # the workers' ca.pem would fail every new worker connection (and the reverse every
        # partner's), so a copy must bear the name of the renewed listener's CA file.
        raise SystemExit(
            f"--ca-copy {', '.join(wrong)}: a copy of this listener's CA file must be named "
            f"{broker.listener.ca} (the {broker.listener.name} listener's)"
        )
    return broker


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.rotate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dir", type=Path, help="the broker's folder (default: the local stack)")
    parser.add_argument("--bootstrap", help="host:port of the broker's internal listener")
    parser.add_argument(
        "--partner-listener",
        help="host:port the partner listener is reached at from here (default: the "
        "bootstrap's host and the stack's partner port; compose: kafka:9094)",
    )
    parser.add_argument(
        "--ca-copy", type=Path, action="append", default=[], help="a copy of the CA file"
    )
    parser.add_argument("--owner", type=int, help="uid the broker runs as (compose: 1000)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", help="certificates' expiry, passwords' age")
    certs = commands.add_parser("certificates", help="renew a listener's certificate, live")
    certs.add_argument(
        "--listener",
        choices=["internal", "external"],
        default="internal",
        help="internal: the services' (default); external: the partner agencies'",
    )
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
