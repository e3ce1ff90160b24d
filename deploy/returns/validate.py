"""Check statutory returns with the DfE's own rules, as a council's analyst would before
submitting them: Data to Insight's validators (csc-validator-be-903 for SSDA903,
csc-validator-be-cin for the CIN census) and the DfE's CIN census XSD shipped by liiatools.

Runs in the validators' own environment (.venv-returns: they pin pandas < 2), never imported
by the platform, so it imports nothing of the platform either (but `rulesets.py` beside it,
which imports nothing). A year whose own rules the validators do not have yet is checked with
the newest earlier year's, and its report names the year's own as `ruleset_stands_in_for`:

    .venv-returns/bin/python -m deploy.returns.validate --year 2026 \\
        --ssda903 DIR [--previous DIR] [--cin FILE.xml] [--authority E10000008]

prints one JSON document on stdout: for each return, the ruleset run, how many rules ran,
the rules that could not run on the data, and every error (rule, message, child, table, row,
fields). Exit status 0 whatever was found (the caller decides); 2 on bad arguments.

    .venv-returns/bin/python -m deploy.returns.validate --serve

checks returns as they are asked for, for as long as its stdin is open (the live data-quality
board's checker, services/projections/returns/quality.py, keeps one running: starting Python
and importing pandas and the rules for every check would cost seconds each time). It writes
one line when it is ready ({"ready": true, "validators": {package: version}}), then reads one
JSON request a line ({"id": 7, "year": 2026, "ssda903": DIR, "previous": DIR, "cin": FILE,
"authority": "E10000008"}, each file optional as the options above) and answers each with one
line carrying the request's id: the document the CLI prints, or {"id": 7, "error": class} when
the validators could not check the request (the exception's class only: its text may quote the
data). The caller checks each answer's id, so a protocol out of step is noticed, never read as
another request's report; and whatever the validators print to fd 1 goes to stderr (the
answers are written to a copy of the original fd 1).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import importlib.metadata
import json
import logging
import os
import pkgutil
import sys
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import IO, Any

import xmlschema

from deploy.returns.rulesets import Ruleset, ruleset_for

# The newest CIN census XSD liiatools ships (the DfE's schema has not changed since: 2023's and
# 2024's are the same document), used for a year it has no schema of its own for.
CIN_XSD_YEARS = range(2017, 2025)


def liiatools_spec() -> Path:
    spec = importlib.import_module("liiatools.spec")
    return Path(next(iter(spec.__path__)))


def cin_xsd(start_year: int) -> Path:
    """The DfE's XSD for the CIN census of the year ending in March of `start_year + 1`."""
    census = start_year + 1
    year = census if census in CIN_XSD_YEARS else max(CIN_XSD_YEARS)
    return liiatools_spec() / "cin_census" / f"CIN_schema_{year}.xsd"


SEX_TYPE = """
  <xs:simpleType name="sextype">
    <xs:restriction base="nonEmptyString">
      <xs:enumeration value="M"/><xs:enumeration value="F"/><xs:enumeration value="U"/>
    </xs:restriction>
  </xs:simpleType>
</xs:schema>"""


def amendments(start_year: int) -> list[tuple[str, str, str]]:
    """(why, text, replacement): where the DfE's rules for the year differ from the newest
    XSD liiatools ships (2024's), each a change the DfE made or a rule of its own, applied to
    the shipped text when it is loaded (never a copy of the schema kept in the repository).
    docs/returns.md lists them."""
    found = [
        (
            "NumberOfPreviousCPP counts the plans before this one: 0 for a first plan (the "
            "DfE's rule 8730: 'must be 0 or more'; the shipped XSD says positiveInteger)",
            '"NumberOfPreviousCPP" type="xs:positiveInteger"',
            '"NumberOfPreviousCPP" type="xs:nonNegativeInteger"',
        )
    ]
    if start_year >= 2024:
        found += [
            (
                "from the 2024-25 census the DfE collects Sex (M, F, U) in place of "
                "GenderCurrent (1, 2, 0, 9): rules 4180 and 8750 of the year read Sex",
                '<xs:element name="GenderCurrent" type="gendertype"',
                '<xs:element name="Sex" type="sextype"',
            ),
            ("the type of Sex", "</xs:schema>", SEX_TYPE),
        ]
    return found


@functools.cache  # built once per year: a long-running --serve checks many files
def cin_schema(start_year: int) -> xmlschema.XMLSchema:
    text = cin_xsd(start_year).read_text()
    for why, old, new in amendments(start_year):
        if old not in text:
            raise RuntimeError(f"the shipped XSD has changed: cannot amend it ({why})")
        text = text.replace(old, new, 1)
    return xmlschema.XMLSchema(text)


def installed_ruleset(package: str, prefix: str, year: int) -> Ruleset:
    """The ruleset that checks the year, of those the validator's package has installed."""
    rules = importlib.import_module(package)
    return ruleset_for((m.name for m in pkgutil.iter_modules(rules.__path__)), prefix, year)


def _records(df: Any) -> list[dict[str, Any]]:
    out = []
    for row in df.to_dict("records"):
        out.append({k: (None if v != v else v) for k, v in row.items()})  # NaN -> None
    return out


def check_ssda903(
    year: int, current: Path, previous: Path | None, authority: str
) -> dict[str, Any]:
    from lac_validator import lac_validator
    from lac_validator.report import Report
    from lac_validator.types import UploadedFile

    def uploads(folder: Path, description: str) -> list[Any]:
        return [
            UploadedFile(name=p.name, description=description, file_content=p.read_bytes())
            for p in sorted(folder.glob("*.csv"))
        ]

    files = uploads(current, "This year") + (uploads(previous, "Prev year") if previous else [])
    ruleset = installed_ruleset("lac_validator.rules", "lac", year)
    registry = importlib.import_module(f"lac_validator.rules.{ruleset.name}").registry
    v = lac_validator.LacValidator(
        metadata={"collectionYear": str(year + 1), "localAuthority": authority},
        files=files,
        registry=registry,
        selected_rules=None,
    )
    report = Report(v.ds_results, registry)
    issues = lac_validator.create_issue_df(report.report, report.error_report)
    errors = [
        {
            "rule": str(r["rule_code"]),
            "message": str(r["rule_description"]),
            "child": None if r["child_id"] is None else str(r["child_id"]),
            "table": str(r["tables_affected"]),
            "row": None if r["row_id"] is None else int(r["row_id"]),
            "field": None if r["columns_affected"] is None else str(r["columns_affected"]),
        }
        for r in _records(issues)
    ]
    return {
        "ruleset": ruleset.name,
        "ruleset_stands_in_for": ruleset.stands_in_for,
        "rules": len(registry),
        "ran": len(v.dones),
        "skipped": sorted(v.skips),
        "failed_to_run": sorted(v.fails),
        "errors": errors,
    }


def check_cin(year: int, xml_file: Path) -> dict[str, Any]:
    from cin_validator import cin_validator

    schema = cin_schema(year)
    xsd_errors = [
        {"path": e.path, "reason": str(e.reason)}
        for e in schema.iter_errors(str(xml_file))  # every error, not the first
    ]
    ruleset = installed_ruleset("cin_validator.rules", "cin", year)
    registry = importlib.import_module(f"cin_validator.rules.{ruleset.name}").registry
    root = ET.parse(xml_file).getroot()
    data = cin_validator.process_data(cin_validator.convert_data(root))
    v = cin_validator.CinValidator(data, registry)
    errors = [
        {
            "rule": str(r["rule_code"]),
            "message": str(r["rule_description"]),
            "child": None if r.get("child_id") is None else str(r["child_id"]),
            "table": str(r["tables_affected"]),
            "row": None if r.get("row_id") is None else int(r["row_id"]),
            "field": None if r.get("columns_affected") is None else str(r["columns_affected"]),
        }
        for r in _records(v.full_issue_df)
    ]
    errors += [
        {
            "rule": str(r["rule_code"]),
            "message": str(r["rule_description"]),
            "child": None,
            "table": "Header",
            "row": None,
            "field": None,
        }
        for r in _records(v.multichild_issues)
    ]
    return {
        "ruleset": ruleset.name,
        "ruleset_stands_in_for": ruleset.stands_in_for,
        "rules": len(registry),
        "ran": len(v.rules_passed) + len(set(v.rules_broken)),
        "xsd": cin_xsd(year).name,
        "xsd_amended": [why for why, _, _ in amendments(year)],
        "xsd_errors": xsd_errors,
        "errors": errors,
    }


def report(
    year: int,
    ssda903: Path | None,
    previous: Path | None,
    cin: Path | None,
    authority: str = "E10000008",
) -> dict[str, Any]:
    """The document the CLI prints: each return asked for, checked with the year's rules."""
    out: dict[str, Any] = {"year": year}
    with contextlib.redirect_stdout(sys.stderr):  # the validators print as they go
        if ssda903:
            out["ssda903"] = check_ssda903(year, ssda903, previous, authority)
        if cin:
            out["cin"] = check_cin(year, cin)
    return out


# The packages whose rules a report applies (named on the ready line of --serve).
VALIDATORS = ("csc-validator-be-903", "csc-validator-be-cin", "xmlschema", "liiatools")


def _path(value: object) -> Path | None:
    return Path(str(value)) if value else None


def answer(line: str) -> dict[str, Any]:
    """One request of --serve checked, answered with its id: the report, or the class of the
    exception that stopped it (never its text: a validator's message may quote a child's
    data). A request the validators fail on is answered, never fatal: the next one is checked
    as usual. A line that is not a request is answered with no id (the caller stops)."""
    try:
        request = json.loads(line)
    except ValueError as error:
        return {"id": None, "error": type(error).__name__}
    ident = request.get("id") if isinstance(request, dict) else None
    try:
        return {
            "id": ident,
            **report(
                int(request["year"]),
                _path(request.get("ssda903")),
                _path(request.get("previous")),
                _path(request.get("cin")),
                str(request.get("authority") or "E10000008"),
            ),
        }
    except Exception as error:  # said in the answer: the process carries on
        return {"id": ident, "error": type(error).__name__}


def serve(requests: IO[str], answers: IO[str]) -> int:
    """--serve: a line of JSON answered for each line read, until the input ends."""

    def say(document: dict[str, Any]) -> None:
        answers.write(json.dumps(document, default=str, separators=(",", ":")) + "\n")
        answers.flush()

    with contextlib.redirect_stdout(sys.stderr):  # only the answers on stdout
        from cin_validator import cin_validator  # noqa: F401 - imported before "ready"
        from lac_validator import lac_validator  # noqa: F401
    versions = {}
    for name in VALIDATORS:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    say({"ready": True, "validators": versions})
    for line in requests:
        if line.strip():
            say(answer(line))
    return 0


def answers_channel() -> IO[str]:
    """--serve's answers: a copy of the original fd 1, fd 1 itself then pointed at stderr, so
    anything the validators (or a library under them) write to stdout, from Python or from C,
    lands in stderr and can never be read as an answer."""
    sys.stdout.flush()
    original = os.dup(1)
    os.dup2(2, 1)
    return os.fdopen(original, "w", encoding="utf-8", buffering=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--serve", action="store_true", help="answer JSON requests on stdin, a line each"
    )
    parser.add_argument("--year", type=int, help="collection year's start: 2026")
    parser.add_argument("--ssda903", type=Path, help="folder of this year's SSDA903 CSVs")
    parser.add_argument("--previous", type=Path, help="folder of last year's SSDA903 CSVs")
    parser.add_argument("--cin", type=Path, help="the CIN census XML")
    parser.add_argument(
        "--authority", default="E10000008", help="the council's ONS code (SSDA903 metadata)"
    )
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)  # the validators log every rule; stdout is the report
    warnings.simplefilter("ignore")  # and pandas warns of its own future in them
    if args.serve:
        return serve(sys.stdin, answers_channel())
    if args.year is None:
        parser.error("the following arguments are required: --year")
    out = report(args.year, args.ssda903, args.previous, args.cin, args.authority)
    json.dump(out, sys.stdout, indent=1, default=str)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
