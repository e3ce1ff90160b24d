"""Import a council's past statutory returns into the platform through its public APIs, so it
starts with years of history on every board (`make import-returns DIR=...`):

    python -m deploy.returns.import_returns DIR [--locality NAME] [--dry-run]

DIR holds SSDA903 CSV sets (each a folder with header.csv, episodes.csv, ...: the layout the
platform's own export writes, e.g. `2025-26/` and `2026-27/`) and CIN census XML messages
(*.xml), as a case-management system produced them. Every row is read and every child's
history decided in memory before anything is sent (deploy/returns/importing.py); a row that
cannot be read, or a history a service would refuse, is reported as `file:line: field: reason`
and nothing of that child is recorded; the other children are. Commands go to the services'
APIs as a practitioner (teams and social workers as a manager), each with an idempotency key
made from its content: a second import of the same files records nothing. Exit status 1 when
any child was not imported.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from tqdm import tqdm

from deploy.demo.county import LOCAL_RUN, PORTS, send
from deploy.demo.journey import Step
from deploy.returns.from_cin import read_cins
from deploy.returns.from_ssda903 import read_ssda903
from deploy.returns.importing import (
    REGISTRATION_PATHS,
    Dated,
    ImportPlan,
    Problem,
    idempotency_key,
    merged,
    rehearsed,
)
from shared.auth import LocalIssuer
from shared.clock import clock_from
from shared.settings import Settings

# The services a return's rows are recorded in (a return holds no quality assurance).
IMPORTED_INTO = ("case_events", "accommodation", "education", "escalations")


def read(folder: Path, locality: str) -> ImportPlan:
    """Every return in `folder`, merged by child: SSDA903 (every folder with a header.csv; the
    reader takes the year and the year before together) and each CIN census XML."""
    plans: list[ImportPlan] = []
    if any(folder.rglob("header.csv")):
        plans.append(read_ssda903(folder, locality))
    censuses = sorted(folder.rglob("*.xml"))
    if censuses:  # every year's at once: a child's episodes merged across the years
        plans.append(read_cins(censuses, locality))
    if not plans:
        problem = Problem(folder.name, 0, "", "no SSDA903 header.csv and no CIN census XML")
        return ImportPlan(problems=[problem])
    return merged(plans)


@dataclass
class Outcome:
    """What an import did: commands recorded anew, commands the platform had already (a
    repeated import), children recorded, and the children refused with why."""

    recorded: int = 0
    already: int = 0
    children: int = 0
    problems: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.children:,} children imported: {self.recorded:,} commands recorded, "
            f"{self.already:,} already recorded; "
            f"{len({p.child for p in self.problems if p.child})} children not imported, "
            f"{len(self.problems)} problems"
        )


async def record(
    plan: ImportPlan,
    urls: dict[str, str],
    practitioner: dict[str, str],
    manager: dict[str, str],
    concurrency: int = 16,
    progress: bool = True,
) -> Outcome:
    """Send the plan's commands: the reference data first (as `manager`), then each child's
    commands in order, children concurrently. A command the platform refuses for good (the
    rehearsal should have caught it: the platform may know the child already) stops that
    child's import, reported at the command's row."""
    outcome = Outcome(problems=list(plan.problems))
    total = len(plan.reference) + sum(len(d) for d in plan.children.values())
    semaphore = asyncio.Semaphore(concurrency)
    with tqdm(total=total, unit="cmd", desc="import", disable=not progress) as bar:
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=32)) as c:

            async def post(step: Step, auth: dict[str, str]) -> None:
                url = f"{urls[step.service]}{step.path}"
                status = await send(c, url, step, idempotency_key(step), auth)
                if status == 201:
                    outcome.recorded += 1
                else:
                    outcome.already += 1  # 200: the same command again; 409: known already
                bar.update()

            async def child(child_id: str, dated: list[Dated]) -> None:
                async with semaphore:
                    for i, d in enumerate(dated):
                        try:
                            await post(d.step, practitioner)
                        except (RuntimeError, httpx.HTTPError) as refused:
                            why = _refusal(d.step, refused)
                            outcome.problems.append(Problem(d.file, d.line, "", why, child_id))
                            bar.update(len(dated) - i)
                            return
                    outcome.children += 1

            for step in plan.reference:  # one by one: each kind is one list
                try:
                    await post(step, manager)
                except (RuntimeError, httpx.HTTPError) as refused:
                    raise SystemExit(
                        f"the reference data the returns name was refused, nothing of the "
                        f"children was sent: {_refusal(step, refused)}"
                    ) from None
            await asyncio.gather(*(child(k, v) for k, v in plan.children.items()))
    return outcome


def _refusal(step: Step, error: Exception) -> str:
    """Why the platform refused a command, as a data team would read it."""
    text = str(error) or type(error).__name__
    if step.path in REGISTRATION_PATHS and ": 409 " in text:
        return (
            "the child is on the platform already, recorded otherwise than by an import of "
            "these files: nothing more of them imported (a practitioner records the rest)"
        )
    return f"refused by the platform: {text}"


def unreadable(plan: ImportPlan) -> list[Problem]:
    """Problems of a whole file (not well formed, cut short, a column missing): which of its
    children are whole cannot be told, so nothing at all is imported."""
    return [p for p in plan.problems if p.child is None]


def answering(urls: dict[str, str]) -> str | None:
    """The first service that does not answer its health check, or None."""
    for service, url in urls.items():
        try:
            httpx.get(f"{url}/health", timeout=5)
        except httpx.HTTPError:
            return f"{service} at {url}"
    return None


def report(problems: list[Problem]) -> str:
    """The problems as a data team reads them: by file and line, then counted by reason."""
    lines = [str(p) for p in sorted(problems, key=lambda p: (p.file, p.line, p.field))]
    counts = Counter(re.sub(r"\d+", "N", p.reason.split(":")[0]) for p in problems)
    lines += [f"  {n:>5} x {reason}" for reason, n in counts.most_common()]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.returns.import_returns",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("folder", type=Path, help="the returns' files (SSDA903 CSVs, CIN XML)")
    parser.add_argument(
        "--locality",
        default=os.environ.get("CSP_IMPORT_LOCALITY", "Exeter"),
        help="the locality children are registered in (no return says it; default Exeter)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="read and check everything, send nothing"
    )
    parser.add_argument(
        "--base-port", type=int, default=int(os.environ.get("CSP_HTTP_BASE_PORT", "8000"))
    )
    parser.add_argument(
        "--url",
        action="append",
        default=[],
        metavar="SERVICE=URL",
        help="a service's API elsewhere than the base port's (e.g. case_events=https://...)",
    )
    parser.add_argument(
        "--auth-dir",
        type=Path,
        default=Path(os.environ.get("CSP_STATE_DIR", LOCAL_RUN)) / "auth",
        help="the local identity provider's folder (default: the local stack's)",
    )
    args = parser.parse_args()
    if not args.folder.is_dir():
        sys.exit(f"{args.folder}: not a folder")
    plan = rehearsed(read(args.folder, args.locality), clock_from(Settings()).today())
    commands = sum(len(d) for d in plan.children.values())
    print(
        f"read {plan.rows:,} rows: {len(plan.children):,} children, {commands:,} commands",
        flush=True,
    )
    if unreadable(plan):
        print(report(plan.problems), file=sys.stderr)
        print("nothing imported: a file could not be read whole (above); mend it and run again")
        return 1
    if args.dry_run:
        if plan.problems:
            print(report(plan.problems), file=sys.stderr)
        print(f"dry run: {len(plan.children):,} children would be imported, nothing sent")
        return 1 if plan.problems else 0
    urls = {s: f"http://127.0.0.1:{args.base_port + PORTS[s]}" for s in IMPORTED_INTO}
    urls.update(u.split("=", 1) for u in args.url)
    silent = answering(urls)
    if silent is not None:
        sys.exit(f"the platform does not answer ({silent}): start it with `make run`")
    issuer = LocalIssuer(args.auth_dir)
    if not issuer.key_file.exists():
        sys.exit(f"{args.auth_dir}: no identity provider's key here (start `make run` first)")
    outcome = asyncio.run(
        record(
            plan,
            urls,
            issuer.headers("returns-import", "council", "practitioner"),
            issuer.headers("returns-import", "council", "manager"),
        )
    )
    if outcome.problems:
        print(report(outcome.problems), file=sys.stderr)
    print(outcome.summary())
    return 1 if outcome.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
