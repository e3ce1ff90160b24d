"""The pure parts of the backups (deploy/backup.py): WAL names, the recovery configuration,
which backup a restore starts from, what is due and what may go, and the archiving switch of
the local stack (on for `make run`, off for the tests' shared server and the chaos harness)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest

import deploy.backup
from deploy.backup import (
    Archive,
    BackupError,
    BaseBackup,
    Health,
    Published,
    Segment,
    _check_archive,
    backup_due,
    choose_backup,
    first_left_out,
    leftovers,
    missing_from_store,
    missing_segments,
    parse_lsn,
    parse_target,
    recovered_until,
    recovery_settings,
    refuse_in_place_to_a_time,
    restore_command,
    segments,
    server_settings,
    to_prune,
    wal_range,
    wal_to_prune,
    watch,
)
from deploy.local.stack import (
    ARCHIVER,
    SERVER_PORTS,
    LocalStack,
    abandon_archived_wal,
    free_port,
    wal_to_abandon,
)

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def backup(label: str, finished: datetime, timeline: int = 1, verified: bool = True) -> BaseBackup:
    return BaseBackup(
        label=label,
        system="7300000000000000001",
        timeline=timeline,
        start_lsn="0/2000028",
        end_lsn="0/2000100",
        started_at=finished - timedelta(minutes=1),
        finished_at=finished,
        size_bytes=1,
        verified=verified,
        path=Path("/archive") / label,
    )


def test_wal_segment_names_round_trip_across_a_log_file_boundary() -> None:
    last_of_first = Segment.parse("0000000100000000000000FF")
    first_of_next = Segment.parse("000000010000000100000000")
    assert last_of_first is not None and first_of_next is not None
    assert first_of_next.number == last_of_first.number + 1 == 256
    partial = Segment.parse("000000020000000100000003.partial")
    assert partial == Segment(259, 2, partial=True)
    assert partial.name == "000000020000000100000003.partial"
    assert Segment.parse("00000002.history") is None
    assert Segment.parse("000000010000000000000003.partial.tmp") is None
    assert parse_lsn("1/0300A0B8") // (16 * 1024 * 1024) == 259


def test_a_gap_is_found_whatever_the_timeline_holding_each_segment() -> None:
    names = [
        "000000010000000000000002",
        "000000010000000000000003.partial",  # timeline 1 ended in it (a restore)
        "00000002.history",
        "000000020000000000000003",
        "000000020000000000000005.partial",  # 4 is missing
    ]
    assert [s.number for s in segments(names)] == [2, 3, 3, 5]
    assert missing_segments(names, 2, 5) == [4]
    assert missing_segments(names, 2, 3) == []


def test_the_restore_command_falls_back_to_the_segment_being_written(tmp_path: Path) -> None:
    folder = tmp_path / "it's 100% here"
    folder.mkdir()
    command = restore_command(folder)
    assert "%%" in command  # the server would expand a single % itself
    (folder / "000000010000000000000004.partial").write_text("newest commits")
    (folder / "000000010000000000000003").write_text("complete")

    def fetch(name: str) -> str | None:
        target = tmp_path / "RECOVERYXLOG"
        target.unlink(missing_ok=True)
        shell = command.replace("%%", "\0").replace("%f", name).replace("%p", str(target))
        done = subprocess.run(["sh", "-c", shell.replace("\0", "%")], capture_output=True)
        return target.read_text() if done.returncode == 0 else None

    assert fetch("000000010000000000000003") == "complete"
    assert fetch("000000010000000000000004") == "newest commits"
    assert fetch("00000002.history") is None  # not found: the recovery's "no such file"


def test_a_time_without_its_utc_offset_is_refused() -> None:
    assert parse_target("latest") is None
    assert parse_target("2025-06-01T14:05:00+01:00") == datetime(2025, 6, 1, 13, 5, tzinfo=UTC)
    with pytest.raises(BackupError, match="UTC offset"):
        parse_target("2025-06-01 14:05")
    with pytest.raises(BackupError, match="not a time"):
        parse_target("yesterday")


def test_recovery_stops_at_the_target_or_at_the_end_of_the_archive(tmp_path: Path) -> None:
    latest = recovery_settings(tmp_path, None)
    assert latest == {
        "restore_command": restore_command(tmp_path),
        "recovery_target_timeline": "latest",
        "recovery_target_action": "promote",
    }
    moment = datetime(2025, 6, 1, 13, 5, 0, 250000, tzinfo=UTC)
    timed = recovery_settings(tmp_path, moment)
    assert timed["recovery_target_time"] == "2025-06-01 13:05:00.250000+00:00"
    assert timed["recovery_target_inclusive"] == "on"  # a commit at the very moment is kept
    assert timed["recovery_target_action"] == "promote"


def test_the_last_replayed_commit_is_read_from_the_servers_log() -> None:
    log = (
        "2025-06-01 13:06:01.001 UTC [11] LOG:  redo done at 0/3018310\n"
        "2025-06-01 13:06:01.002 UTC [11] LOG:  last completed transaction was at log time "
        "2025-06-01 13:04:59.846589+00\n"
    )
    assert recovered_until(log) == datetime(2025, 6, 1, 13, 4, 59, 846589, tzinfo=UTC)
    assert recovered_until("LOG:  redo done") is None
    timed = (
        "LOG:  recovery stopping before commit of transaction 920, time "
        "2025-06-01 13:05:00.461015+00\n"
    )
    assert first_left_out(timed) == datetime(2025, 6, 1, 13, 5, 0, 461015, tzinfo=UTC)
    assert first_left_out(log) is None


def test_a_restore_starts_from_the_newest_verified_backup_finished_by_its_target() -> None:
    first, second = backup("a", T0), backup("b", T0 + timedelta(hours=24))
    failed = backup("c", T0 + timedelta(hours=30), verified=False)
    backups = [first, second, failed]
    assert choose_backup(backups, None) == second
    assert choose_backup(backups, T0 + timedelta(hours=25)) == second
    assert choose_backup(backups, T0 + timedelta(hours=23)) == first
    # A backup finished after the target cannot stop before it: recovery must pass its end.
    with pytest.raises(BackupError, match="no verified base backup"):
        choose_backup(backups, T0 - timedelta(seconds=1))


def test_a_base_backup_is_due_daily_and_after_a_restore() -> None:
    day = timedelta(hours=24)
    backups = [backup("a", T0)]
    assert not backup_due(backups, 1, T0 + timedelta(hours=23), day)
    assert backup_due(backups, 1, T0 + day, day)
    assert backup_due(backups, 2, T0 + timedelta(minutes=5), day)  # restored: a new timeline
    assert backup_due([], 1, T0, day)
    assert backup_due([backup("x", T0, verified=False)], 1, T0, day)


def test_a_base_backup_is_due_at_once_when_the_archive_has_a_gap_since_the_newest() -> None:
    """The archive's WAL moved aside for a new slot: the newest backup starts in segment 2,
    the archive now holds 9 on: no restore from it can cross the gap."""
    day, backups = timedelta(hours=24), [backup("a", T0)]
    since_the_backup = ["000000010000000000000002", "000000010000000000000003.partial"]
    assert not backup_due(backups, 1, T0 + timedelta(minutes=5), day, since_the_backup)
    after_a_gap = ["000000010000000000000009.partial"]
    assert backup_due(backups, 1, T0 + timedelta(minutes=5), day, after_a_gap)
    assert not backup_due(backups, 1, T0 + timedelta(minutes=5), day, [])  # not streaming yet


def test_a_new_slot_moves_the_archives_wal_aside_only_when_it_holds_some(tmp_path: Path) -> None:
    assert wal_to_abandon(slot_exists=False, wal_names=["000000010000000000000004.partial"])
    assert not wal_to_abandon(slot_exists=True, wal_names=["000000010000000000000004"])
    assert not wal_to_abandon(slot_exists=False, wal_names=[])  # a new cluster's first run
    wal = tmp_path / "7300000000000000001" / "wal"
    assert abandon_archived_wal(wal, slot_exists=False) is None  # no folder yet
    wal.mkdir(parents=True)
    (wal / "000000010000000000000004.partial").write_text("old timeline")
    assert abandon_archived_wal(wal, slot_exists=True) is None
    moved = abandon_archived_wal(wal, slot_exists=False)
    assert moved is not None and moved.name.startswith("wal.abandoned-")
    assert not wal.exists() and (moved / "000000010000000000000004.partial").exists()


def test_a_restore_in_place_goes_to_the_latest_point_only() -> None:
    refuse_in_place_to_a_time(None, None)  # in place, latest: allowed
    refuse_in_place_to_a_time(T0, Path("/restored"))  # a time, into a copy: allowed
    with pytest.raises(BackupError, match="--into DIR"):
        refuse_in_place_to_a_time(T0, None)


def test_interrupted_backups_leave_partials_and_verify_copies_to_clean() -> None:
    names = [".lock", "20250601T120000Z", "20250602T120000Z.partial",
             ".verify-20250602T120000Z.partial"]  # fmt: skip
    assert leftovers(names) == [".verify-20250602T120000Z.partial", "20250602T120000Z.partial"]


def test_a_restores_server_port_is_outside_the_ephemeral_range() -> None:
    assert free_port() in SERVER_PORTS
    assert SERVER_PORTS.stop <= 32768  # Linux hands out 32768-60999 to outgoing connections


def test_a_wal_file_renamed_while_checked_is_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = Archive(tmp_path)
    gone = "000000010000000000000004.partial"  # listed, then renamed by pg_receivewal
    monkeypatch.setattr(Archive, "wal_names", lambda self, system: [gone])
    report = Health()
    _check_archive(archive, "7300000000000000001", report, None)
    assert report.newest_wal == gone and report.newest_wal_age_s is None


def _run_watch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, rounds: int) -> list[float]:
    """watch() for `rounds` rounds on a fake cluster; the pauses it asked for."""
    paused: list[float] = []
    stop = asyncio.Event()

    async def fake_pause(event: asyncio.Event, seconds: float) -> None:
        paused.append(seconds)
        if len(paused) >= rounds:
            stop.set()

    monkeypatch.setattr(deploy.backup, "pause", fake_pause)
    cluster: Any = SimpleNamespace(archive=Archive(tmp_path))
    asyncio.run(watch(cluster, stop, Health(), timedelta(hours=24), 2))
    return paused


def test_the_archivers_checks_go_on_after_a_check_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    async def failing(cluster: object, every: object) -> Health:
        calls.append(1)
        raise RuntimeError("a check that broke")

    monkeypatch.setattr(deploy.backup, "health", failing)
    assert len(_run_watch(monkeypatch, tmp_path, rounds=3)) == 3
    assert len(calls) == 3  # the loop survived every failure and checked again


def test_a_failed_base_backup_does_not_freeze_the_archivers_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tried: list[int] = []

    async def streaming(cluster: object, every: object) -> Health:
        return Health(system="7300000000000000001", timeline=1, streaming=True)

    def failing_backup(cluster: object) -> BaseBackup:
        tried.append(1)
        raise BackupError("pg_basebackup failed: disk full")

    monkeypatch.setattr(deploy.backup, "health", streaming)
    monkeypatch.setattr(deploy.backup, "take_base_backup", failing_backup)
    paused = _run_watch(monkeypatch, tmp_path, rounds=4)
    assert paused == [5.0] * 4  # checked every 5 s throughout, not paused for an hour
    assert tried == [1]  # and the backup is tried again only an hour later


def test_pruning_keeps_the_newest_verified_backups_and_the_wal_they_need() -> None:
    old, kept1, kept2 = (backup(x, T0 + timedelta(days=i)) for i, x in enumerate("abc"))
    failed_between = backup("f", T0 + timedelta(days=1, hours=1), verified=False)
    assert to_prune([old, kept1, failed_between, kept2], keep=2) == [old]
    assert to_prune([old, kept1], keep=3) == []  # fewer than asked for: keep everything
    names = [
        "00000001.history",
        "000000010000000000000001",
        "000000010000000000000002",
        "000000020000000000000003.partial",
    ]
    assert wal_to_prune(names, oldest_backup_start=2) == ["000000010000000000000001"]


def test_a_backups_wal_range_and_record_round_trip() -> None:
    manifest = {"WAL-Ranges": [{"Timeline": 2, "Start-LSN": "0/5000028", "End-LSN": "0/5000138"}]}
    assert wal_range(manifest) == (2, "0/5000028", "0/5000138")
    b = backup("20250601T120000Z", T0)
    again = BaseBackup.from_json(b.as_json(), b.path)
    assert again == b
    assert again.start_segment == 2
    assert json.loads(b.as_json())["finished_at"] == T0.isoformat()


def test_reconciling_names_each_published_event_the_store_lacks_once() -> None:
    kept, lost = uuid4(), uuid4()

    def on_topic(event_id: object, offset: int) -> Published:
        assert isinstance(event_id, type(kept))
        return Published("case-events", 0, offset, event_id, "ChildRegistered", T0)

    published = [on_topic(kept, 1), on_topic(lost, 2), on_topic(lost, 3)]  # re-sent once
    assert missing_from_store(published, {kept}) == [published[1]]
    assert missing_from_store(published, {kept, lost}) == []


def test_make_run_archives_and_the_tests_shared_server_does_not(tmp_path: Path) -> None:
    shared = LocalStack(state_dir=tmp_path, http_base=18000)
    assert not any(ARCHIVER in a for a in shared.postgres_argv())
    assert "archiver:" not in shared.procfile()
    running = LocalStack(state_dir=tmp_path, http_base=18000, archiving=True)
    argv = running.postgres_argv()
    assert argv[argv.index(f"synchronous_standby_names={ARCHIVER}") - 1] == "-c"
    # Provisioning runs before the archiver: its commits must not wait for one.
    assert not any(ARCHIVER in a for a in running.postgres_argv(synchronous_archive=False))
    procfile = running.procfile()
    assert "-m deploy.local.keep env CSP_HTTP_PORT=18008 " in procfile.split("archiver:")[1]
    assert procfile.rstrip().endswith("-m deploy.local.stack ready")
    assert running.archiver_port not in {p.port for p in running.processes()}
    targets = running.prometheus_config()["scrape_configs"][1]["static_configs"]
    assert {"process": "archiver", "service": "backup", "role": "archiver"} in [
        t["labels"] for t in targets
    ]


def test_a_recovering_server_gets_the_clusters_own_settings(tmp_path: Path) -> None:
    """A hot standby refuses to recover WAL of a primary that allowed more connections."""
    argv = LocalStack(state_dir=tmp_path, archiving=True).postgres_argv()
    settings = server_settings(argv)
    assert settings["max_connections"] == "500"
    assert settings["log_line_prefix"] == "%m [%p] "
    assert settings["synchronous_standby_names"] == ARCHIVER
