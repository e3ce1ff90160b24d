"""The DfE rules the platform's returns do not pass yet, each with the reason: what the
end-to-end test allows (tests/e2e/test_returns.py fails on any other rule broken) and what
docs/returns.md shows (`make docs` writes the table there).

A rule belongs here only while the platform cannot hold what it needs, or when the validator
itself cannot run it; a rule the demo county breaks by its own data is fixed in the demo.
Shrink it: every entry is work left.

    python -m services.projections.returns.rules    (writes the table into docs/returns.md)
"""

from __future__ import annotations

from pathlib import Path

from shared.access import write_into

RETURNS_DOC = Path(__file__).resolve().parents[3] / "docs" / "returns.md"

# Full postcodes: the platform keeps a postcode's outward code only (a district, e.g. EX4), as
# precise as the boards need a place to be, because a full postcode of a child's home or a
# foster carer's is an address. The DfE works out the placement's distance, local authority
# and location from full postcodes; until the platform seals full postcodes as it seals the
# UPN (and asks for them as the returns ask for UPNs), these cannot pass.
_POSTCODES = "needs full postcodes (HOME_POST, PL_POST); the platform holds postcode districts only"

NOT_YET: dict[str, dict[str, str]] = {
    "ssda903": {
        "392c": _POSTCODES,
        "169": _POSTCODES + " (the DfE derives the placement's local authority from them)",
        "179": _POSTCODES + " (the DfE derives the placement's location from them)",
        "392a": _POSTCODES + " (the DfE derives the placement's distance from them)",
        "392d": _POSTCODES + " (a district is often both the home's and the placement's)",
        "1015": _POSTCODES + " (own provision inside the council's area is read from them)",
        "241": _POSTCODES + " (the placement's local authority, checked against the provider's)",
        "1001": "the validator sees only this year's and last year's episodes (its own note: "
        "'false positives if a child had episodes prior to last year's collection'): a care "
        "leaver of 19 to 21 who left care before then is flagged",
        "1002": "as 1001: a care leaver's periods of care before last year are not in the files",
        "SW17STG2": "flags every child whose social worker's allocation ended with their care "
        "in the year (the platform reports the end as recorded); whether the DfE wants the "
        "last episode of a child leaving care left open is to be settled with the DfE",
        "624": "a mother who left care before the year appears in OC3 only: rule 628 wants no "
        "MOTHER then and rule 612 no MC_DOB without it, while 624 compares MC_DOB with last "
        "year's: one of the three must fail, and the platform follows 628 and 612",
    },
    "cin": {
        "8530Q": "a query, raised mid-year: a child expected before 31 March is still unborn "
        "as at today; by the census date they are born or the expected date is moved",
    },
}

# Rules the validator's own code cannot run on a well-formed return (it raises), reported as
# "failed to run": defects of csc-validator-be-903 0.1.17, not of the data.
VALIDATOR_DEFECTS: dict[str, dict[str, str]] = {
    "ssda903": {
        "231": "raises KeyError 'UASC_STATUS' on every input (a column no table has)",
        "233": "raises KeyError 'DATE_EPISODE_CEASED' on every input",
        "709": "raises KeyError 'PLACEMENT' (2026-27 ruleset)",
        "710": "raises KeyError 'PLACEMENT' (2026-27 ruleset)",
    },
    "cin": {},
}

NAMES = {"ssda903": "SSDA903", "cin": "CIN census"}


def markdown() -> str:
    lines = ["| return | rule | why it does not pass |", "|---|---|---|"]
    for kind, rules in NOT_YET.items():
        lines += [f"| {NAMES[kind]} | {rule} | {why} |" for rule, why in sorted(rules.items())]
    for kind, rules in VALIDATOR_DEFECTS.items():
        lines += [
            f"| {NAMES[kind]} | {rule} | the validator cannot run it: {why} |"
            for rule, why in sorted(rules.items())
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    write_into(RETURNS_DOC, "known-gaps", markdown())
    print("the rules not passed yet written into docs/returns.md")


if __name__ == "__main__":
    main()
