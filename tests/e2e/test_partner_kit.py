"""The partner kit (deploy/partner_kit/) run as a partner runs it, against the platform on
the secure broker (the `secure` fixture, shared with test_permissions.py): copied out of the
repository and started as its own process, with the police's own SCRAM credentials and the
CA. It receives what the council records for the police; stopped, and started again after
more is recorded, it resumes with no gap and no duplicate; pointed at another agency's topic
or a domain topic it is refused by the broker."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from services.partner_feeds.sharing import pseudonym
from shared.envelope import Agency
from tests.conftest import ARTIFACTS
from tests.e2e.conftest import SecurePlatform
from tests.infrastructure import (
    HTTP,
    TEST_PSEUDONYM_KEY,
    _die_with_parent,
    auth,
    eventually,
    platform_today,
    poll_until,
    read_topic,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

KIT = Path(__file__).resolve().parents[2] / "deploy" / "partner_kit"


@pytest.fixture(autouse=True)
def no_kit_left_running() -> Iterator[None]:
    """A failed assertion must not leave a kit consuming for the rest of the run."""
    yield
    while STARTED:
        STARTED.pop().kill()


STARTED: list[Kit] = []  # every kit started, killed after each test if still running


class Kit:
    """`python -m partner_kit` in a folder of its own, as the partner runs it."""

    def __init__(self, folder: Path, env: dict[str, str], log: Path) -> None:
        self.folder, self.env, self.log = folder, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, **changes: str) -> Kit:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "partner_kit"],
                cwd=self.folder,  # not the repository: the kit must work on its own
                env={**self.env, **changes},
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # never outlives the test run
            )
        STARTED.append(self)
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it: FastStream shuts down gracefully."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def partner_env(secure: SecurePlatform, store: Path) -> dict[str, str]:
    """What the council gives the police (docs/partners.md), and nothing of the platform's."""
    ns = secure.namespace
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("CSP_", "PYTHON"))}
    return {
        **inherited,
        "PARTNER_AGENCY": "police",
        "PARTNER_BOOTSTRAP_SERVERS": f"localhost:{secure.kafka.kafka_external_port}",
        "PARTNER_USERNAME": "partner-police",
        "PARTNER_PASSWORD": secure.kafka.kafka_passwords()["partner-police"],
        "PARTNER_CA_FILE": str(secure.kafka.tls_dir / "external-ca.pem"),
        "PARTNER_TOPIC": f"{ns}partner-police",  # the test's namespace in front
        "PARTNER_GROUP": f"{ns}partner-police.kit-{uuid.uuid4().hex[:6]}",
        "PARTNER_STORE": str(store),
    }


def rows(store: Path, query: str) -> list[tuple[str, ...]]:
    """The query's rows from the kit's store; none before the kit has made it (the file, and
    then its tables: a poll can land between the two)."""
    if not store.exists():
        return []
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute(query).fetchall()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return []
        raise
    finally:
        db.close()


def processed(store: Path) -> list[tuple[str, ...]]:
    return rows(store, "SELECT message_id, event_type, subject FROM messages")


def register(secure: SecurePlatform) -> str:
    child = f"C-{uuid.uuid4().hex[:10]}"
    r = HTTP.post(
        f"{secure.url('case_events_api')}/children",
        headers=auth("manager"),
        json={"child_id": child, "date_of_birth": "2013-06-07", "locality": "Exeter"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return child


def record(secure: SecurePlatform, child: str, path: str, body: dict[str, object]) -> None:
    r = HTTP.post(
        f"{secure.url('case_events_api')}/children/{child}{path}",
        headers=auth("practitioner"),
        json=body,
        timeout=30,
    )
    assert r.status_code == 201, r.text


async def on_topic(secure: SecurePlatform) -> set[str]:
    """Every message id the police's topic holds, read as the broker's admin."""
    topic = f"{secure.namespace}partner-police"
    records = await read_topic("", topic, 30, secure.admin_kafka())
    return {json.loads(r.value)["message_id"] for r in records if r.value}


async def test_the_partner_kit_reads_its_topic_resumes_without_gaps_and_is_refused_elsewhere(
    secure: SecurePlatform, tmp_path: Path
) -> None:
    ns = secure.namespace
    shutil.copytree(KIT, tmp_path / "partner_kit", ignore=shutil.ignore_patterns("__pycache__"))
    store = tmp_path / "police.sqlite3"
    env = partner_env(secure, store)
    logs = ARTIFACTS / "logs" / f"partner-kit-{ns}"
    logs.mkdir(parents=True, exist_ok=True)

    # Refused first, both at once: another agency's topic, and the council's own.
    refused = {
        topic: Kit(tmp_path, env, logs / f"refused-{topic}.log").start(
            PARTNER_TOPIC=f"{ns}{topic}",
            PARTNER_GROUP=f"{ns}partner-police.refused-{topic}",  # a group it may join
            PARTNER_STORE=str(tmp_path / f"{topic}.sqlite3"),
        )
        for topic in ("partner-health", "case-events")
    }

    # A child on a child protection plan: the police are told (sharing.ENTITLEMENTS).
    child = register(secure)
    week_ago = (platform_today() - timedelta(days=7)).isoformat()
    record(
        secure,
        child,
        "/child-protection-plans",
        {"plan_id": "CP-kit", "category": "NEG", "start_date": week_ago},
    )
    subject = pseudonym(TEST_PSEUDONYM_KEY.encode(), Agency.POLICE, child)

    kit = Kit(tmp_path, env, logs / "police.log").start()
    poll_until(
        lambda: any(m[1:] == ("ChildProtectionPlanStarted", subject) for m in processed(store)),
        60,
        0.2,
        "the kit to process the police's ChildProtectionPlanStarted",
    )
    assert kit.stop() == 0, kit.output()[-3000:]
    before = {m[0] for m in processed(store)}

    # While it is stopped, more for the police: it must pick these up, and only these.
    record(secure, child, "/missing-episodes", {"started_on": week_ago, "kind": "M"})
    kit.start()
    try:

        async def caught_up() -> set[str] | None:
            """What the topic holds, once the kit has processed exactly that, the new
            missing episode included."""
            assert kit.proc is not None and kit.proc.poll() is None, kit.output()[-3000:]
            held, mine = await on_topic(secure), processed(store)
            done = {m[0] for m in mine} == held and (
                any(m[1:] == ("MissingEpisodeRecorded", subject) for m in mine)
            )
            return held if done else None

        held = await eventually(caught_up, 60, 0.2, "the kit to resume and catch up")
    finally:
        assert kit.stop() == 0, kit.output()[-3000:]
    # Resumed: what it had before, and more, and nothing the topic does not hold.
    assert held is not None and before < held
    # No duplicate: after a clean stop nothing it had processed was delivered again (the
    # store notes every delivery of a known message id), and no record went unread.
    assert rows(store, "SELECT message_id FROM replays") == []
    assert rows(store, "SELECT reason FROM not_understood") == []
    assert child not in kit.output()  # the council's id never reaches the partner

    for topic, refused_kit in refused.items():
        assert refused_kit.proc is not None
        code = refused_kit.proc.wait(timeout=60)
        output = refused_kit.output()
        assert code != 0 and "refused by the broker" in output, output[-3000:]
        assert "TopicAuthorizationFailedError" in output, output[-3000:]
        assert processed(tmp_path / f"{topic}.sqlite3") == []
