"""The statutory returns of a demo county loaded through the public APIs, exported through the
API and held to the DfE's own rules: Data to Insight's validators (csc-validator-be-903 and
-cin, in .venv-returns) find no error in SSDA903 or the CIN census of this collection year or
the one before, and the CIN census XML is valid against the DfE's XSD (shipped by liiatools).
Ofsted's Annex A workbook has every list with Ofsted's headings. Exports are council-wide,
managers only, and audited with every child they name."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from deploy.returns.rulesets import name_of
from services.projections.returns import annex_a
from services.projections.returns.facts import CollectionYear
from services.projections.returns.rules import NOT_YET, VALIDATOR_DEFECTS
from tests.conftest import ROOT
from tests.e2e.conftest import Platform, started_platform
from tests.e2e.journey import consumed
from tests.infrastructure import HTTP, TEST_ISSUER, Infrastructure, auth, platform_today, poll_until

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
VALIDATORS = ROOT / ".venv-returns" / "bin" / "python"


def this_year() -> CollectionYear:
    """The collection year of London's date as the test runs: worked out when collected, a run
    crossing midnight into 1 April would ask for the year just ended."""
    return CollectionYear.of(platform_today())


def years_back(n: int) -> CollectionYear:
    year = this_year()
    for _ in range(n):
        year = year.previous
    return year


def validated(year: int, **files: Path) -> dict[str, Any]:
    """The validators' report (deploy/returns/validate.py) on these files."""
    assert VALIDATORS.exists(), (
        ".venv-returns is missing: deploy/local/bootstrap.sh installs it with a Python 3.9 to "
        "3.11 (set PYTHON_RETURNS to one)"
    )
    args = [str(VALIDATORS), "-m", "deploy.returns.validate", "--year", str(year)]
    for option, path in files.items():
        args += [f"--{option}", str(path)]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def unexpected(kind: str, errors: list[dict[str, Any]]) -> dict[str, int]:
    """The errors of rules not known to be out of reach (rules.py), counted by rule with the
    rule's message and a child it names: what an assertion shows."""
    return dict(
        Counter(
            f"{e['rule']}: {e['message'][:90]} (e.g. {e['child']})"
            for e in errors
            if e["rule"] not in NOT_YET[kind]
        )
    )


def unzipped(body: bytes, into: Path) -> dict[str, Path]:
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        z.extractall(into)
        return {name.split("/")[0]: into / name.split("/")[0] for name in z.namelist()}


def audited_with_every_child_named(
    county: Platform, officer: str, audit_id: str, folders: dict[str, Path]
) -> None:
    """The download's audit record names exactly the children of both years' files, for the
    purpose of a statutory return; case events audited the UPNs it gave, for the same user."""
    named = {
        line.split(",")[0]
        for folder in folders.values()
        for csv in folder.glob("*.csv")
        for line in csv.read_text().splitlines()[1:]
    }
    with_upn = {
        line.split(",")[0]
        for folder in folders.values()
        for line in (folder / "header.csv").read_text().splitlines()[1:]
        if not line.split(",")[4].startswith("UN") and line.split(",")[4]
    }
    reads = HTTP.get(
        f"{county.partner_feeds.url}/audit",
        params={"user_id": officer},
        headers=auth("information_governance"),
        timeout=60,
    ).json()["reads"]
    [download] = [a for a in reads if a["audit_id"] == audit_id]
    assert set(download["child_ids"]) == named
    assert "SSDA903" in download["purpose"]
    asked = [a for a in reads if a["action"] == "POST /returns/pupil-numbers"]
    assert asked and all(a["service"] == "case_events" for a in asked)
    given = {c for a in asked for c in a["child_ids"]}
    assert with_upn <= given <= named


@pytest.mark.parametrize("back", [0, 1], ids=["this-year", "last-year"])
def test_ssda903_passes_every_rule_of_the_year(county: Platform, tmp_path: Path, back: int) -> None:
    year = years_back(back)
    officer = f"returns-officer-{year.start_year}"
    r = HTTP.get(
        f"{county.projections.url}/returns/ssda903",
        params={"year": year.start_year},
        headers=auth("manager", user=officer),
        timeout=300,
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    folders = unzipped(r.content, tmp_path)
    audited_with_every_child_named(county, officer, r.headers["X-Audit-Id"], folders)
    assert set(folders) == {year.label, year.previous.label}
    current = folders[year.label]
    episodes = (current / "episodes.csv").read_text().splitlines()
    assert len(episodes) > 10, "a county's year has children in care"
    report = validated(year.start_year, ssda903=current, previous=folders[year.previous.label])[
        "ssda903"
    ]
    # The year's own rules, or the newest earlier year's until the validators ship them.
    own = name_of("lac", year.start_year)
    assert own in (report["ruleset"], report["ruleset_stands_in_for"])
    assert set(report["failed_to_run"]) <= set(VALIDATOR_DEFECTS["ssda903"])
    assert report["ran"] > 200, "the rules ran"
    assert unexpected("ssda903", report["errors"]) == {}


def cin_census(county: Platform, year: CollectionYear, folder: Path) -> Path:
    """The year's CIN census as the API exports it, written to a file in `folder`."""
    r = HTTP.get(
        f"{county.projections.url}/returns/cin-census",
        params={"year": year.start_year},
        headers=auth("manager"),
        timeout=300,
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/xml")
    xml = folder / "cin.xml"
    xml.write_bytes(r.content)
    return xml


@pytest.mark.parametrize("back", [0, 1], ids=["this-year", "last-year"])
def test_cin_census_is_valid_and_passes_every_rule_of_the_year(
    county: Platform, tmp_path: Path, back: int
) -> None:
    year = years_back(back)
    xml = cin_census(county, year, tmp_path)
    assert xml.read_bytes().count(b"<Child>") > 10, "a county's year has children in need"
    report = validated(year.start_year, cin=xml)["cin"]
    assert report["xsd_errors"] == []
    assert report["ran"] > 80, "the rules ran"
    assert unexpected("cin", report["errors"]) == {}


def test_a_year_without_published_rules_is_checked_with_the_newest_and_says_so(
    county: Platform, tmp_path: Path
) -> None:
    """From each 1 April until Data to Insight ship the new year's rules, the returns are
    checked with the newest earlier year's, and the report names the year they stand in for."""
    year = this_year()
    xml = cin_census(county, year, tmp_path)
    later = year.start_year + 10  # no validator has rules that far ahead
    report = validated(later, cin=xml)["cin"]
    assert report["ruleset_stands_in_for"] == name_of("cin", later)
    assert report["ruleset"].startswith("cin") and report["ruleset"] < name_of("cin", later)
    assert report["ran"] > 80, "the rules ran"


def test_annex_a_has_every_list_with_ofsteds_headings(county: Platform) -> None:
    r = HTTP.get(f"{county.projections.url}/returns/annex-a", headers=auth("manager"), timeout=300)
    assert r.status_code == 200, r.text
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == [sheet for sheet, _ in annex_a.LISTS.values()]
    filled = 0
    for sheet, headings in annex_a.LISTS.values():
        rows = list(book[sheet].iter_rows(values_only=True))
        assert [h for h in rows[0] if h is not None] == list(headings), sheet
        filled += len(rows) > 1
    assert filled >= 6, "most lists have children in a county"


def test_provenance_names_the_events_that_made_each_row(county: Platform) -> None:
    manager = auth("manager")
    r = HTTP.get(
        f"{county.projections.url}/returns/ssda903/provenance",
        headers=manager,
        timeout=300,
    )
    assert r.status_code == 200, r.text
    episodes = r.json()["tables"]["Episodes"]
    assert episodes and all(row["events"] for row in episodes)
    one = episodes[0]
    child = one["values"]["CHILD"]
    chronology = HTTP.get(
        f"{county.projections.url}/children/{child}/chronology", headers=manager, timeout=60
    ).json()
    ids = {e["event_id"] for e in chronology["entries"]}
    assert set(one["events"]) <= ids  # every event named is one of the child's
    header = r.json()["tables"]["Header"]
    assert header and all("UPN" not in row["values"] for row in header)  # never a UPN here
    just_one = HTTP.get(
        f"{county.projections.url}/returns/ssda903/provenance",
        params={"child": child},
        headers=manager,
        timeout=300,
    ).json()["tables"]
    assert {row["values"]["CHILD"] for rows in just_one.values() for row in rows} == {child}


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (auth("practitioner"), 403),
        (auth("partner", "police"), 403),
        (auth("board_member"), 403),
        (auth("manager", localities=["Exeter"]), 403),  # a return is of the whole council
    ],
    ids=["practitioner", "police", "board member", "manager of one locality"],
)
def test_only_council_wide_managers_export_a_return(
    county: Platform, who: dict[str, str], status: int
) -> None:
    for path in ("/returns/ssda903", "/returns/cin-census", "/returns/annex-a"):
        r = HTTP.get(f"{county.projections.url}{path}", headers=who, timeout=60)
        assert r.status_code == status, (path, r.text)


def test_a_year_not_begun_is_refused_with_the_field(county: Platform) -> None:
    r = HTTP.get(
        f"{county.projections.url}/returns/cin-census",
        params={"year": this_year().start_year + 1},
        headers=auth("manager"),
        timeout=60,
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "year"]


# -- import: a year exported, imported into an empty platform, exported again -----------------


@pytest.fixture(scope="module")
def empty(infra: Infrastructure) -> Iterator[Platform]:
    """A second platform, with nothing recorded but the test council's reference data."""
    with started_platform(infra, CSP_RETURNS_CHECK="false") as started:
        yield started


def exported(platform: Platform, into: Path) -> dict[str, bytes]:
    """This year's returns as a council keeps them: SSDA903 (this year's and last year's CSVs)
    and the CIN census of both years, each file's content by its path under `into`."""
    manager = auth("manager")
    url = platform.projections.url
    into.mkdir(parents=True)
    this_one = this_year()
    for year in (this_one, this_one.previous):
        r = HTTP.get(
            f"{url}/returns/cin-census",
            params={"year": year.start_year},
            headers=manager,
            timeout=300,
        )
        assert r.status_code == 200, r.text
        (into / f"cin-census-{year.label}.xml").write_bytes(r.content)
    this = {"year": this_one.start_year}
    r = HTTP.get(f"{url}/returns/ssda903", params=this, headers=manager, timeout=300)
    assert r.status_code == 200, r.text
    unzipped(r.content, into)
    return {str(p.relative_to(into)): p.read_bytes() for p in sorted(into.rglob("*.*"))}


def imported(platform: Platform, folder: Path) -> subprocess.CompletedProcess[str]:
    """`python -m deploy.returns.import_returns` (what `make import-returns` runs) into it."""
    urls = [
        f"--url={s}={getattr(platform, s).url}"
        for s in ("case_events", "accommodation", "education", "escalations")
    ]
    return subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            "-m",
            "deploy.returns.import_returns",
            str(folder),
            "--locality=Exeter",
            f"--auth-dir={TEST_ISSUER.folder}",
            *urls,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )


def comparable(files: dict[str, bytes]) -> dict[str, list[bytes]]:
    """Each file as the round trip compares it: a CSV's header and its rows sorted (as the
    DfE sorts them: by child, then date; the sort is on whole lines), the XML without the
    message's own DateTime (when it was made: no fact of a child)."""
    out: dict[str, list[bytes]] = {}
    for name, content in files.items():
        if name.endswith(".csv"):
            header, *rows = content.splitlines()
            out[name] = [header, *sorted(rows)]
        else:
            out[name] = re.sub(rb"<DateTime>[^<]*</DateTime>", b"", content).splitlines()
    return out


def test_a_year_exported_and_imported_into_an_empty_platform_exports_the_same(
    county: Platform, empty: Platform, tmp_path: Path
) -> None:
    before = exported(county, tmp_path / "before")
    assert len(before["cin-census-" + this_year().label + ".xml"]) > 1000
    first = imported(empty, tmp_path / "before")
    assert first.returncode == 0, first.stderr[-3000:]
    assert re.search(r"; 0 children not imported, 0 problems$", first.stdout, re.M), first.stdout
    assert "import:" in first.stderr, "a progress bar"
    asyncio.run(consumed(empty))
    exports = iter(range(1000))

    def settled() -> dict[str, list[bytes]] | None:
        # The projections' lag is measured after each batch: the export is read until it
        # holds what the import recorded (or the deadline shows what it lacks).
        after = comparable(exported(empty, tmp_path / f"after-{next(exports)}"))
        return after if after == comparable(before) else None

    try:
        poll_until(settled, 120, 2, "the imported county's returns to be exported again")
    except TimeoutError:
        after = comparable(exported(empty, tmp_path / "after"))
        assert set(after) == set(before)
        for name, content in comparable(before).items():
            assert after[name] == content, name
    again = imported(empty, tmp_path / "before")
    assert again.returncode == 0, again.stderr[-3000:]
    assert " 0 commands recorded" in again.stdout, again.stdout  # idempotent: nothing new


def test_a_malformed_import_names_each_bad_row_and_records_none_of_that_child(
    empty: Platform, tmp_path: Path
) -> None:
    """Bad dates, unknown codes, a duplicate row, a row cut short: each reported with its file,
    line, field and reason; nothing of those children recorded; the good child is."""
    year = tmp_path / "malformed" / this_year().label
    year.mkdir(parents=True)
    header = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n"
    rows = [
        "IMPGOOD1,1,01/02/2012,WBRI,UN1,,",  # good
        "IMPBAD01,1,31/02/2012,WBRI,UN1,,",  # not a date
        "IMPBAD02,7,01/02/2012,WBRI,UN1,,",  # not a sex code
        "IMPBAD03,2,01/02/2012,NOPE,UN1,,",  # not an ethnicity
        "IMPBAD04,1,01/02/2012,WBRI,UN1,,",
        "IMPBAD04,1,01/02/2012,WBRI,UN1,,",  # a duplicate row
        "IMPBAD05,1,01/0",  # the file cut short
    ]
    (year / "header.csv").write_text(header + "\n".join(rows))
    done = imported(empty, tmp_path / "malformed")
    assert done.returncode == 1
    problems = done.stderr
    assert "header.csv:3: DOB:" in problems
    assert "header.csv:4: SEX:" in problems
    assert "header.csv:5: ETHNIC:" in problems
    assert "header.csv:7:" in problems and "duplicate of line 6" in problems
    assert "header.csv:8:" in problems
    assert re.search(r"^1 children imported", done.stdout, re.MULTILINE), done.stdout
    assert known(empty, ["IMPGOOD1", *(f"IMPBAD0{i}" for i in range(1, 6))]) == {"IMPGOOD1"}


def test_an_import_with_a_file_cut_short_records_nothing(empty: Platform, tmp_path: Path) -> None:
    """A census cut short: which of its children are whole cannot be told, so nothing of any
    file is recorded, not even the good SSDA903 beside it."""
    folder = tmp_path / "cut"
    label = this_year().label
    (folder / label).mkdir(parents=True)
    (folder / label / "header.csv").write_text(
        "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\nIMPGOOD2,1,01/02/2012,WBRI,UN1,,\n"
    )
    (folder / "cin-census.xml").write_text(
        "<?xml version='1.0'?><Message><Header><CollectionDetails>"
    )
    done = imported(empty, folder)
    assert done.returncode == 1
    assert "cin-census.xml" in done.stderr
    assert "nothing imported" in done.stdout
    assert known(empty, ["IMPGOOD2"]) == set()


def known(platform: Platform, children: list[str]) -> set[str]:
    """Those of the children case events has a record of."""
    manager = auth("manager")
    url = platform.case_events.url
    return {
        c
        for c in children
        if HTTP.get(f"{url}/children/{c}", headers=manager, timeout=30).status_code == 200
    }
