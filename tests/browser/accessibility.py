"""axe-core (from npm, see package.json) run in the page the browser shows.

``assert_accessible(page)`` injects ``node_modules/axe-core/axe.min.js`` (never a CDN), runs the
WCAG 2.0/2.1 A and AA rules and axe's best practices on the whole document, and fails listing
every violation whose impact is serious or critical: the rule, what it asks for and the
elements (CSS selectors) that break it.
"""

from __future__ import annotations

import functools
from pathlib import Path

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING = ("serious", "critical")

_RUN = """async ([tags, blocking]) => {
  const results = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return results.violations.filter(v => blocking.includes(v.impact)).map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map(n => n.target.join(' ')),
  }));
}"""


@functools.cache
def _source() -> str:
    return AXE.read_text(encoding="utf-8")


def axe_violations(page) -> list[dict]:
    """The serious and critical axe violations of the page as it is now."""
    if not AXE.exists():
        raise RuntimeError(f"{AXE} is missing: run `make browser-deps` (npm ci)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the app's Content-Security-Policy
        # (script-src 'self') rightly refuses an injected <script> tag, and the journeys keep
        # that policy on rather than bypass it.
        page.evaluate(_source() + "\n;undefined")
    return page.evaluate(_RUN, [TAGS, list(BLOCKING)])


def describe(violations: list[dict]) -> str:
    return "\n".join(
        f"  {v['impact']}: {v['id']} ({v['help']}) at {', '.join(v['targets'][:8])}"
        + (f" … and {len(v['targets']) - 8} more" if len(v["targets"]) > 8 else "")
        for v in violations
    )


def assert_accessible(page, where: str = "") -> None:
    violations = axe_violations(page)
    assert not violations, (
        f"axe-core: serious or critical accessibility violations on {where or page.url}:\n"
        + describe(violations)
    )
