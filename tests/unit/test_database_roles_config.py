"""Which database role and keys each process of the local stack gets, and that the
provisioner migrates every SQL folder a service opens (no I/O but a temporary folder)."""

from __future__ import annotations

import shlex
from pathlib import Path

from deploy import database
from deploy.local.stack import KEYS_HELD, SUBJECT_ACCESS_READER, LocalStack
from shared.migrations import ROOT

KEYS = ("CSP_KEY_ENCRYPTION_KEY", "CSP_PARTNER_PSEUDONYM_KEY")


def test_every_sql_folder_is_migrated_by_the_provisioner() -> None:
    folders = {p.parent for p in ROOT.glob("services/*/sql*/*.sql")} | {
        p.parent for p in ROOT.glob("shared/sql/*/*.sql")
    }
    migrated = {f.resolve() for fs in database.MIGRATIONS.values() for f in fs} | {
        (ROOT / "shared" / "sql" / "audit").resolve(),
        # Applied by the projections' own role inside each board build it makes (builds.py).
        (ROOT / "services" / "projections" / "sql").resolve(),
    }
    assert {f.resolve() for f in folders} <= migrated


def test_each_process_gets_its_own_role_and_only_its_keys(tmp_path: Path) -> None:
    stack = LocalStack(state_dir=tmp_path, postgres_port=1, kafka_port=2, http_base=3)
    shared = stack.environment()
    assert not [k for k in shared if "PASSWORD" in k or k in KEYS]  # services.env
    for process in stack.processes():
        env = stack.process_environment(process)
        assert env["CSP_POSTGRES_USER"] == f"csp_{process.service}"
        assert env["CSP_POSTGRES_PASSWORD"] == stack.database_passwords()[process.service]
        assert env["CSP_POSTGRES_PASSWORD"] != stack.postgres_password()
        assert {k for k in KEYS if k in env} == set(KEYS_HELD.get(process.name, ()))
        assert ("CSP_SUBJECT_ACCESS_USER" in env) == (process.name == SUBJECT_ACCESS_READER)
    lines = {
        line.split(":", 1)[0]: shlex.split(line.split(":", 1)[1])
        for line in stack.procfile().splitlines()
    }
    assert (
        "CSP_KEY_ENCRYPTION_KEY=" + stack.credential("CSP_KEY_ENCRYPTION_KEY")
        in lines["case_events_api"]
    )
    assert not any(w.startswith("CSP_KEY_ENCRYPTION_KEY=") for w in lines["case_events_worker"])
