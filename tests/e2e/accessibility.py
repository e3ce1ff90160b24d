"""Accessibility checks of a page in the browser tests: axe-core's WCAG 2.2 AA rules, and a
walk through the page with the keyboard alone.

axe-core comes from the npm registry with the dashboard's other front-end assets (a
devDependency in services/projections/dashboard/package.json, installed by `npm ci` in
deploy/local/bootstrap.sh) and is read from node_modules here: nothing from a CDN. It is
evaluated in the page through the browser's DevTools protocol rather than added as a <script>
element, which the dashboard's Content-Security-Policy (script-src 'self') would refuse: the
page is checked as it is served, policy and all."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from playwright.async_api import Page

from deploy.local.stack import ROOT

AXE = ROOT / "services" / "projections" / "dashboard" / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2, levels A and AA: what a public-sector service must meet. axe tags
# each rule with the version and level that added it, so all five are asked for.
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# The GOV.UK focus colour (#fd0): every focus style of the Design System shows it.
FOCUS_YELLOW = "rgb(255, 221, 0)"
SKIP_LINK = 'a #main-content "Skip to main content"'  # as a walk names it


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    help: str
    url: str
    targets: list[str]  # a CSS selector of each failing element

    def __str__(self) -> str:
        where = "\n".join(f"      {t}" for t in self.targets[:10])
        more = f"\n      and {len(self.targets) - 10} more" if len(self.targets) > 10 else ""
        return f"  {self.rule} ({self.impact}): {self.help} <{self.url}>\n{where}{more}"


@cache
def _axe_source() -> str:
    if not AXE.exists():
        raise FileNotFoundError(
            f"{AXE.relative_to(ROOT)} is missing: `make install` (deploy/local/bootstrap.sh) "
            "installs the dashboard's npm packages, axe-core among them"
        )
    return AXE.read_text()


async def axe_violations(page: Page) -> list[Violation]:
    """axe-core's WCAG 2.2 AA violations on the page as it is now (the best-practice rules,
    which no standard requires, are not asked for)."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.evaluate(_axe_source())
    found: list[dict[str, Any]] = await page.evaluate(
        """async (tags) => {
          const results = await axe.run(document, {
            runOnly: {type: 'tag', values: tags},
            resultTypes: ['violations'],
          });
          return results.violations.map(v => ({
            rule: v.id, impact: v.impact || '', help: v.help, url: v.helpUrl,
            targets: v.nodes.map(n => n.target.map(String).join(' ')),
          }));
        }""",
        WCAG_22_AA,
    )
    return [Violation(**v) for v in found]


def described(where: str, violations: list[Violation]) -> str:
    return f"{where}: {len(violations)} WCAG 2.2 AA violations\n" + "\n".join(
        str(v) for v in violations
    )


async def assert_accessible(page: Page, where: str, screenshot: Path | None = None) -> None:
    """No WCAG 2.2 AA violation on the page: else an AssertionError naming each rule and the
    selector of every element that breaks it (and a screenshot, if a path is given)."""
    violations = await axe_violations(page)
    if violations:
        if screenshot is not None:
            await page.screenshot(path=screenshot, full_page=True)
        raise AssertionError(described(where, violations))


# The elements a keyboard reaches with Tab, in the order it reaches them (no page here uses a
# positive tabindex, which would change the order: the walk would then fail), and what each
# looks like unfocused and focused. A checkbox or radio of the Design System is an invisible
# input whose label draws the box: its focus ring is on the label's ::before.
_TABBABLES = """() => {
  const selector = 'a[href], button, input, select, textarea, summary, [tabindex], '
    + 'iframe, [contenteditable=""], [contenteditable="true"]';
  const shown = (e) => {
    const style = getComputedStyle(e);
    return style.visibility !== 'hidden' && e.getClientRects().length > 0;
  };
  const inert = (e) => e.closest('[inert], [hidden], details:not([open]) > :not(summary)');
  const radios = new Set();
  const found = [];
  for (const e of document.querySelectorAll(selector)) {
    if (e.disabled || e.tabIndex < 0 || e.type === 'hidden' || inert(e)) continue;
    const drawn = (e.type === 'checkbox' || e.type === 'radio') && e.labels && e.labels[0];
    if (!shown(drawn ? e.labels[0] : e)) continue;
    if (e.type === 'radio' && e.name) {  // one stop per group: the ticked one, or the first
      const group = [...document.getElementsByName(e.name)];
      const stop = group.find(r => r.checked) || group[0];
      if (e !== stop || radios.has(e.name)) continue;
      radios.add(e.name);
    }
    found.push(e);
  }
  return found;
}"""

_STYLE = """(e) => {
  const drawn = (e.type === 'checkbox' || e.type === 'radio') && e.labels && e.labels[0];
  const s = drawn ? getComputedStyle(e.labels[0], '::before') : getComputedStyle(e);
  return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow, s.backgroundColor,
          s.color, s.textDecorationLine, s.borderColor].join(' | ');
}"""


@dataclass(frozen=True)
class Stop:
    """An element the walk reached, or should have."""

    name: str  # how a failure names it: its tag, id or href, and text
    unfocused: str
    focused: str
    visible: bool  # on screen while focused (a skip link is shown only then)

    @property
    def indicated(self) -> bool:
        """The GOV.UK focus style: the focus yellow appears (an outline, a background or a
        box-shadow) and something changed."""
        return FOCUS_YELLOW in self.focused and self.focused != self.unfocused


@dataclass(frozen=True)
class Walk:
    expected: list[str]  # every tabbable element, in document order
    reached: list[Stop]  # what Tab focused, in order, each once

    def problems(self) -> list[str]:
        out = []
        names = [s.name for s in self.reached]
        if not names or not names[0].startswith(SKIP_LINK):
            out.append(f"the first Tab reaches {names[:1] or 'nothing'}, not the skip link")
        if names != self.expected:
            missing = [n for n in self.expected if n not in names]
            extra = [n for n in names if n not in self.expected]
            out.append(
                "Tab did not reach every interactive element in order:\n"
                f"      expected {self.expected}\n      reached  {names}"
                + (f"\n      never reached {missing}" if missing else "")
                + (f"\n      not expected {extra}" if extra else "")
            )
        for stop in self.reached:
            if not stop.indicated:
                out.append(
                    f"no visible focus indicator on {stop.name}:\n"
                    f"      unfocused {stop.unfocused}\n      focused   {stop.focused}"
                )
            if not stop.visible:
                out.append(f"{stop.name} is focused but not on screen")
        return out


async def keyboard_walk(page: Page) -> Walk:
    """Tab from the top of the page to its end, noting each element focused and how it looked
    before and while focused. A date input takes three Tabs (day, month, year), one focus."""
    await page.evaluate(
        f"""() => {{
          const tabbables = ({_TABBABLES})();
          const style = {_STYLE};
          const name = (e) => {{
            const label = (e.innerText || e.value || e.getAttribute('aria-label') || '')
              .trim().replace(/\\s+/g, ' ').slice(0, 40);
            const at = e.id ? '#' + e.id : (e.getAttribute('href') || e.type || '');
            return `${{e.tagName.toLowerCase()}} ${{at}} "${{label}}"`;
          }};
          // From the top of the page, even where a script has put the focus further down
          // (GOV.UK's error summary takes it): the next Tab starts from the focused element.
          // (From the body, an element with a positive tabindex comes after all the others,
          // not first as on a fresh page: out of its place on the page either way.)
          document.body.tabIndex = -1;
          document.body.focus();
          document.body.removeAttribute('tabindex');
          window.__walk = {{
            expected: tabbables.map(name),
            unfocused: new Map(tabbables.map(e => [e, style(e)])),
            reached: [],
            dates: tabbables.filter(e => e.type === 'date').length,
          }};
          document.addEventListener('focusin', (event) => {{
            const e = event.target, r = e.getBoundingClientRect();
            window.__walk.reached.push({{
              name: name(e),
              unfocused: window.__walk.unfocused.get(e) || '(not expected)',
              focused: style(e),
              visible: r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0
                && r.top < innerHeight && r.left < innerWidth,
            }});
          }});
        }}"""
    )
    expected: list[str] = await page.evaluate("window.__walk.expected")
    dates: int = await page.evaluate("window.__walk.dates")
    for _ in range(len(expected) + 2 * dates):
        await page.keyboard.press("Tab")
    # One more leaves the page (to the browser's own controls) or comes round to the top again:
    # either way nothing the page holds is reached after its last element.
    await page.keyboard.press("Tab")
    reached = [Stop(**s) for s in await page.evaluate("window.__walk.reached")]
    if len(reached) == len(expected) + 1 and reached[-1].name == reached[0].name:
        reached.pop()  # round to the top
    return Walk(expected, reached)


async def skip_link_moves_focus_to_main(page: Page) -> bool:
    """Enter on the skip link (which the walk found first) puts the focus on the main content,
    so that the next Tab goes on from there."""
    link = page.locator("a.govuk-skip-link")
    if await link.count() != 1:
        return False
    await link.focus()
    await page.keyboard.press("Enter")
    return bool(await page.evaluate("document.activeElement.id === 'main-content'"))
