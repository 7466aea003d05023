"""Several browser users walking the app's pages at once, on one server: what each visit took and what went wrong.

Used by `python -m benchmarks.pages --concurrent 8 --json` (page times under load) and by the browser test that
checks several users at once on a fresh server (tests/views/test_pages_concurrent.py). Each user is its own Chromium
context (its own Streamlit session); all users walk at the same moment (Playwright's async API, one browser).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
WALK = ("overview", "verifier", "maps", "review", "distributions", "evolution")
SETTLED_CHECKS = 3  # the page looked the same this many times in a row, 0.3 s apart: its script run is over
PAGE_STATE = (
    "() => [document.querySelectorAll('[data-testid=\"stElementContainer\"]').length,"
    " (document.querySelector('[data-testid=\"stStatusWidget\"]')?.innerText || '').includes('Running'),"
    " document.querySelectorAll('[data-testid=\"stSkeleton\"]').length]"
)


def percentile(values: list[float], share: float) -> float | None:
    """The value below which `share` of the values lie (nearest rank); None for no values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else None


def spread(values: list[float], prefix: str = "") -> dict:
    """{median_s, p95_s, p95_over_median} of visit times (None where there are none), keys after `prefix`."""
    median = statistics.median(values) if values else None
    p95 = percentile(values, 0.95)
    return {f"{prefix}median_s": round(median, 2) if median else None, f"{prefix}p95_s": round(p95, 2) if p95 else None,
            f"{prefix}p95_over_median": round(p95 / median, 2) if median and p95 else None}


@dataclass
class WalkReport:
    """Seconds per visit (from `goto` until the page settled) with the round it belongs to, and every problem seen:
    a page that showed an exception ('user 3, review: ImportError ...'), answered 'Page not found' or never
    settled."""

    visits: list[tuple[int, float]] = field(default_factory=list)  # (round, seconds)
    problems: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> list[float]:
        return [seconds for _, seconds in self.visits]

    def figures(self) -> dict:
        """{visits, median_s, p95_s, p95_over_median, and the same of the later rounds alone (warm_*: the server has
        imported every page's modules by then), problems}: the JSON a benchmark prints."""
        warm = [seconds for round_, seconds in self.visits if round_ > 0]
        return {"visits": len(self.visits), **spread(self.seconds), **(spread(warm, "warm_") if warm else {}),
                "problems": len(self.problems)}


async def _settle(page, timeout_s: float) -> None:
    """Wait until the page has its title (or shows an exception) and its script run is over (nothing running, no
    skeleton, stable)."""
    await page.wait_for_selector("[data-testid='stMainBlockContainer'] h1, [data-testid='stException']",
                                 timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    previous, same = None, 0
    while time.monotonic() < deadline:
        state = tuple(await page.evaluate(PAGE_STATE))
        same = same + 1 if state == previous and not state[1] and not state[2] else 0
        if same >= SETTLED_CHECKS:
            return
        previous = state
        await page.wait_for_timeout(300)
    raise TimeoutError(f"the page did not settle in {timeout_s:g} s")


async def _user(browser, url: str, number: int, pages: tuple[str, ...], rounds: int, timeout_s: float,
                report: WalkReport) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    try:
        for round_ in range(rounds):
            for name in pages:
                started = time.perf_counter()
                await page.goto(f"{url}/{name}")
                try:
                    await _settle(page, timeout_s)
                except Exception as exc:  # noqa: BLE001 - a page that never settles is a finding, not a crash
                    report.problems.append(f"user {number}, {name}: {str(exc).splitlines()[0]}")
                report.visits.append((round_, time.perf_counter() - started))
                shown = page.locator("[data-testid='stException']")
                if await shown.count():
                    report.problems.append(f"user {number}, {name}: {(await shown.first.inner_text())[:300]}")
                if await page.get_by_text("Page not found", exact=True).count():
                    report.problems.append(f"user {number}, {name}: Streamlit answered 'Page not found'")
    finally:
        await context.close()


async def _walk(url: str, users: int, pages: tuple[str, ...], rounds: int, timeout_s: float) -> WalkReport:
    from playwright.async_api import async_playwright

    report = WalkReport()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            await asyncio.gather(*(_user(browser, url, n, pages, rounds, timeout_s, report) for n in range(users)))
        finally:
            await browser.close()
    return report


def walk_at_once(url: str, users: int = 8, pages: tuple[str, ...] = WALK, rounds: int = 1,
                 timeout_s: float = 120.0) -> WalkReport:
    """`users` browser users open `url` at the same moment and each visits `pages` in order, `rounds` times.

    Runs its own event loop: call it from synchronous code with no event loop running."""
    return asyncio.run(_walk(url.rstrip("/"), users, tuple(pages), rounds, timeout_s))
