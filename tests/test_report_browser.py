"""The HTML report in a real browser: headless Chromium driven by Playwright.

Needs the ``playwright`` Python package and a Chromium binary (Debian's ``chromium`` at
``/usr/bin/chromium``, or the path in ``GRADCHECK_CHROMIUM``); Playwright's own browser
download is not used. Without either, the test is skipped with the reason. The screenshot goes
to the test's own temporary folder, never into the repository.
"""
from __future__ import annotations

import os
import shutil
import pytest

from gradcheck.report import write_html
from test_report import _with_findings

pytestmark = pytest.mark.browser


def _chromium() -> str:
    path = os.environ.get("GRADCHECK_CHROMIUM") or shutil.which("chromium") or \
        shutil.which("chromium-browser")
    if not path or not os.access(path, os.X_OK):
        pytest.skip("no Chromium binary (install Debian's `chromium` or set GRADCHECK_CHROMIUM)")
    return path


@pytest.fixture
def page():
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="the `playwright` Python package is not installed")
    with sync_api.sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=executable,
                                         args=["--no-sandbox", "--disable-gpu"])
        except Exception as exc:  # a broken or incompatible binary is an environment gap
            pytest.skip(f"Chromium at {executable} did not start: {exc}")
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 900})
        finally:
            browser.close()


def test_report_in_chromium(page, report_run, tmp_path):
    report_run = _with_findings(report_run)
    report = tmp_path / "report.html"
    write_html(report_run, report)
    url = report.resolve().as_uri()
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(url, wait_until="load")

    # no request but the page itself, nothing logged, no script anywhere
    assert requests == [url]
    assert problems == []
    assert page.locator("script").count() == 0

    # verdict and the matrix: one linked cell per record, coloured by status
    assert page.locator("#verdict").inner_text().startswith("FAILED")
    for status in ("pass", "fail", "error", "partial", "not-provided"):
        expected = sum(r.status == status for r in report_run.records)
        assert page.locator(f"table.matrix td.cell.{status} a").count() == expected
    fail_bg = page.locator("table.matrix td.cell.fail").first.evaluate(
        "e => getComputedStyle(e).backgroundColor")
    pass_bg = page.locator("table.matrix td.cell.pass").first.evaluate(
        "e => getComputedStyle(e).backgroundColor")
    assert fail_bg != pass_bg

    # a failure section, open, with its heatmaps drawn at a visible size
    section = page.locator("#rec-conv2d-dw-torch")
    assert section.locator("details").first.evaluate("e => e.open")
    heatmaps = section.locator(".heatmap-set").first.locator("svg.heatmap")
    assert heatmaps.count() == 2
    box = heatmaps.first.bounding_box()
    assert box is not None and box["width"] > 20 and box["height"] > 20
    drawn = section.locator(".heatmap-set.drawn svg.heatmap")
    assert drawn.count() == 4
    first, last = heatmaps.first.bounding_box(), drawn.first.bounding_box()
    assert abs(first["y"] + first["height"] - last["y"] - last["height"]) < 400  # side by side, not pages apart
    assert section.locator("svg.colorbar").count() == 1
    assert section.locator("svg.convergence").count() == 1
    partial_bg = page.locator("table.matrix td.cell.partial").first.evaluate(
        "e => getComputedStyle(e).backgroundColor")
    assert partial_bg not in (fail_bg, pass_bg)

    # the message with markup is shown as text, not run
    assert "<script>alert(1)</script>" in page.locator("#rec-relu-dx-torch pre.message") \
        .inner_text()

    # the ledger: every entry, the failing one open with its corrected form
    assert page.locator("#ledger").count() == 1
    assert page.locator("section.eq").count() == len(report_run.ledger)
    eq13 = page.locator("#ledger-eq13")
    assert eq13.locator("details").first.evaluate("e => e.open")
    assert "∑" in eq13.locator(".formula").first.inner_text()

    screenshot = tmp_path / "report-screenshot.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000

    # a matrix link to a pass record opens the collapsed "Passed" section
    assert not page.locator("#passed").evaluate("e => e.open")
    page.locator("table.matrix a[href='#rec-conv2d-dx-fd']").click()
    assert page.evaluate("location.hash") == "#rec-conv2d-dx-fd"
    assert page.locator("#passed").evaluate("e => e.open")
    assert requests == [url] and problems == []
