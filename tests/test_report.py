"""The HTML report, its SVG pictures, the formula renderer and the terminal summary."""
from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from gradcheck.records import STATUSES, Counterexample, Record, RunResult, Worst
from gradcheck.report import format_summary, render_html, render_ledger_html, write_html, write_ledger_html
from gradcheck.report.latex import latex_to_html
from gradcheck.report.svg import convergence_svg, error_heatmaps, fit_slope, to_nchw

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}


class _Dom(HTMLParser):
    """Every element's tag and attributes, plus a check that tags nest and close properly."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str):
        return [a for t, a in self.elements
                if (tag is None or t == tag)
                and (cls is None or cls in a.get("class", "").split())
                and all(a.get(k) == v for k, v in attrs.items())]


def _dom(html: str) -> _Dom:
    dom = _Dom()
    dom.feed(html)
    dom.close()
    return dom


def _section(html: str, anchor: str) -> str:
    """The markup of the ``<section id=anchor>``."""
    start = html.index(f'id="{anchor}"')
    return html[start:html.index("</section>", start)]


def _cells(html: str) -> dict[str, str]:
    """Matrix cells: link target -> the cell's status class."""
    found = re.findall(r'<td class="cell ([a-z-]+)"><a href="#([^"]+)"', html)
    return {href: status for status, href in found}


# -- the page as a whole -------------------------------------------------------------------
def test_page_is_well_formed_and_has_no_scripts(report_run):
    html = render_html(report_run)
    dom = _dom(html)
    assert dom.errors == [] and dom.stack == []
    assert "<script" not in html.lower()
    assert dom.find("script") == [] and dom.find("link") == [] and dom.find("img") == []


def test_no_external_resources(report_run):
    html = render_html(report_run)
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:[a-z]+:|//)""", html, re.I)
    assert "url(" not in html and "@import" not in html
    for _, attrs in _dom(html).elements:
        if "href" in attrs:
            assert attrs["href"].startswith("#"), attrs


def test_record_text_is_escaped(report_run):
    html = render_html(report_run)
    assert "relu dx wrong: &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34;" in html
    assert "alert(1)</script>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html  # traceback
    assert "candidate &lt;mine&gt;" in html and "<mine>" not in html  # target name
    assert "&lt;and&gt;" in html  # ledger reason


@pytest.mark.parametrize("complete, statuses, banner", [
    (True, ["pass", "not-provided"], "PASSED"),
    (True, ["pass", "fail"], "FAILED"),
    (True, ["pass", "error"], "FAILED"),
    (True, ["pass", "partial"], "PARTIAL"),
    (True, ["partial", "fail"], "FAILED"),
    (False, ["pass"], "INCOMPLETE"),
])
def test_verdict_banner(complete, statuses, banner):
    run = RunResult(target="t", api="native", complete=complete,
                    records=[Record("relu", "dx", "torch", s) for s in statuses])
    html = render_html(run)
    assert re.search(rf'<div class="banner {banner.lower()}" id="verdict">{banner}\b', html)
    counts = dict(re.findall(r'data-status="([a-z-]+)">\S+ (\d+)', html))
    assert counts == {s: str(statuses.count(s)) for s in STATUSES}


def test_header_shows_run_facts(report_run):
    html = render_html(report_run)
    for text in ("2025-11-28T21:49:03Z", "1234", "1 min 23 s", "numpy 2.1.0", "torch 2.13.0",
                 "scipy 1.14.1", "hypothesis 6.112.0", "python 3.11.9", "harness 0.1.0"):
        assert text in html
    # versions in the documented order, whatever order the dict had
    order = [html.index(f"{k} ") for k in ("harness", "numpy", "torch", "scipy", "hypothesis",
                                            "python")]
    assert order == sorted(order)


# -- the matrix ----------------------------------------------------------------------------
def test_matrix_has_one_linked_cell_per_record(report_run):
    html = render_html(report_run)
    cells = _cells(html)
    assert len(cells) == len(report_run.records)
    ids = {a["id"] for a in _dom(html).find() if "id" in a}
    for rec in report_run.records:
        anchor = f"rec-{rec.key}"
        assert cells[anchor] == rec.status
        assert anchor in ids
    symbols = dict(re.findall(r'<td class="cell ([a-z-]+)"><a [^>]*>([^<]+)</a>', html))
    assert symbols == {"pass": "✓", "fail": "✗", "error": "!", "not-provided": "–"}


def test_matrix_marks_unchecked_combinations(report_run):
    html = render_html(report_run)
    ops = {r.op for r in report_run.records}
    columns = {(r.quantity, r.oracle) for r in report_run.records}
    filled = {(r.op, r.quantity, r.oracle) for r in report_run.records}
    expected_blank = len(ops) * len(columns) - len(filled)
    assert html.count('<td class="cell none"') == expected_blank


def test_duplicate_keys_get_distinct_anchors_and_the_worst_status():
    run = RunResult(target="t", api="native", records=[
        Record("conv2d", "dx", "fd", "pass"), Record("conv2d", "dx", "fd", "fail",
                                                     message="second")])
    html = render_html(run)
    assert 'id="rec-conv2d-dx-fd"' in html and 'id="rec-conv2d-dx-fd-2"' in html
    cells = _cells(html)
    assert cells == {"rec-conv2d-dx-fd-2": "fail"}


# -- failure sections ----------------------------------------------------------------------
def test_failure_section_shows_counterexample_figures_and_pictures(report_run):
    html = render_html(report_run)
    rec = next(r for r in report_run.records if r.key == "conv2d-dw-torch")
    sec = _section(html, "rec-conv2d-dw-torch")
    assert sec.startswith('id="rec-conv2d-dw-torch"') and "<details open>" in sec
    for text in ("1×1×4×4", "2×1×3×3", "(2,)", "stride", "[1, 1]", "float64", "smooth",
                 "[1, 0, 2, 1]", f"{rec.worst.expected:.6g}", f"{rec.worst.actual:.6g}",
                 "1e-07", "0.75", "0.62", "gradcheck run --op conv2d --seed 1234",
                 "from reference import conv2d_backward"):
        assert text in sec, text
    # one heatmap per (n, c) channel of the 2×1×3×3 error, the worst element marked once
    assert sec.count('<svg class="heatmap"') == 2
    assert sec.count('class="worst"') == 1
    # cells beyond tolerance are outlined: the wrong element, the 3e-9 one (30 tolerances)
    # and the NaN
    error = np.asarray(rec.arrays["error"])
    assert sec.count('stroke="#000" stroke-width="1.2"') == int(np.sum((error > 1) |
                                                                     np.isnan(error)))
    # the convergence plot with reference slopes and the fitted slope printed
    assert sec.count('<svg class="convergence"') == 1
    assert sec.count('class="ref-slope"') == 2
    h = np.array([p["h"] for p in rec.convergence])
    err = np.array([p["err"] for p in rec.convergence])
    branch = h >= h[np.argmin(err)]  # the error falls monotonically here: every point
    slope = np.polyfit(np.log10(h[branch]), np.log10(err[branch]), 1)[0]
    assert f"fitted slope {slope:.2f}" in sec
    # expected / actual / difference tables: 2 channels × 3 tables, then the input x
    shown, inputs = sec.split("Inputs of the smallest case")
    assert shown.count('<table class="array">') == 6
    assert inputs.count('<table class="array">') == 1
    assert "<caption>difference</caption>" in shown


def test_large_arrays_are_not_tabulated(report_run):
    sec = _section(render_html(report_run), "rec-max_pool2d-dx-subgradient")
    assert '<table class="array">' not in sec
    assert "too large to list" in sec
    assert sec.count('<svg class="heatmap"') == 1
    assert sec.count('class="worst"') == 1


def test_error_section_shows_message_and_open_traceback(report_run):
    sec = _section(render_html(report_run), "rec-l2_pool2d-dx-fd")
    assert "<details open><summary" in sec and 'class="traceback"' in sec
    assert "return delta * x / o" in sec
    assert 'class="badge error"' in sec


def test_passes_and_missing_are_collapsed_failures_open(report_run):
    html = render_html(report_run)
    assert '<details class="section" id="passed">' in html
    assert '<details class="section" id="not-provided">' in html
    failing = [r for r in report_run.records if r.status in ("fail", "error")]
    assert html.count('<section class="record ') == len(failing)
    for r in failing:
        assert _section(html, f"rec-{r.key}").startswith(f'id="rec-{r.key}">\n<details open>')


def test_coverage_table_per_op(report_run):
    html = render_html(report_run)
    cov = html[html.index('id="coverage"'):]
    for op, dims in report_run.coverage.items():
        assert f"<h3>{op}</h3>" in cov
        for dim in dims:
            assert f"<td>{dim}</td>" in cov
    assert '<span class="val">[2, 1]</span>' in cov  # tuples print as lists


def test_json_round_trip_renders_the_same_page(report_run):
    text = json.dumps(report_run.to_dict(), allow_nan=False)
    again = RunResult.from_dict(json.loads(text))
    assert render_html(again) == render_html(report_run)


def test_write_html_and_ledger(report_run, tmp_path):
    out = tmp_path / "sub" / "report.html"
    write_html(report_run, out)
    assert out.read_text(encoding="utf-8") == render_html(report_run)
    led = tmp_path / "ledger.html"
    write_ledger_html(report_run.ledger, led)
    assert led.read_text(encoding="utf-8") == render_ledger_html(report_run.ledger)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["ledger.html",
                                                                         "report.html"]


def test_empty_run_renders():
    html = render_html(RunResult(target="nothing", api="native"))
    assert "No checks were recorded." in html and _dom(html).errors == []


# -- the ledger ----------------------------------------------------------------------------
@pytest.mark.parametrize("render", [lambda run: render_html(run),
                                    lambda run: render_ledger_html(run.ledger)],
                         ids=["in-report", "alone"])
def test_ledger_section(report_run, render):
    html = render(report_run)
    dom = _dom(html)
    assert dom.errors == [] and "<script" not in html and "http" not in html
    for e in report_run.ledger:
        sec = _section(html, f"ledger-{e['id']}")
        verdict_class = {"holds": "holds", "fails-as-printed": "fails",
                         "holds-conditionally": "conditional"}[e["verdict"]]
        assert sec.startswith(f'id="ledger-{e["id"]}"')
        assert f'<span class="badge {verdict_class}">{e["verdict"]}</span>' in sec
        assert ("<details open>" in sec) == (e["verdict"] != "holds")
        assert f'href="#ledger-{e["id"]}"' in html
    failing = _section(html, "ledger-eq13")
    assert "Counterexample" in failing and '<table class="array">' in failing
    assert "Corrected form" in failing and "o[s*i + m, s*j + n]" in failing
    assert "∑" in failing and "∂" in failing and "δ" in failing
    assert "Eq. 13" in failing and "pool-max" in _section(html, "ledger-pool-max")


# -- pictures ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, nchw", [((5,), (1, 1, 1, 5)), ((2, 3), (1, 1, 2, 3)),
                                         ((4, 2, 3), (1, 4, 2, 3)),
                                         ((2, 4, 2, 3), (2, 4, 2, 3))])
def test_to_nchw_pads_on_the_left(shape, nchw):
    a = np.arange(np.prod(shape), dtype=float).reshape(shape)
    out = to_nchw(a.tolist())
    assert out.shape == nchw and np.array_equal(out.ravel(), a.ravel())


def test_to_nchw_reads_json_non_finite_and_rejects_ragged():
    out = to_nchw([["nan", 1.0], ["inf", "-inf"]])
    assert np.isnan(out[0, 0, 0, 0]) and out[0, 0, 1, 0] == math.inf
    assert to_nchw([[1.0], [1.0, 2.0]]) is None and to_nchw(np.zeros((1,) * 5)) is None


def test_heatmaps_keep_the_worst_channels_and_outline_errors():
    rng = np.random.default_rng(1)
    error = rng.uniform(0, 0.5, size=(2, 10, 3, 3))
    error[1, 7, 0, 2] = 50.0
    error[0, 3, 2, 2] = 2.0
    hm = error_heatmaps(error.tolist(), worst_index=[1, 7, 0, 2], max_channels=4)
    channel_max = error.reshape(20, -1).max(axis=1)
    kept = sorted(np.argsort(-channel_max)[:4])
    assert [m.label for m in hm.maps] == [f"n={k // 10} c={k % 10}" for k in kept]
    assert any("4 of 20" in n for n in hm.notes)
    svg = "".join(m.svg for m in hm.maps)
    assert svg.count('stroke="#000" stroke-width="1.2"') == 2
    assert svg.count('class="worst"') == 1
    assert hm.max_ratio == 50.0


def test_heatmaps_downsample_large_channels_by_block_max():
    error = np.zeros((1, 1, 100, 100))
    error[0, 0, 97, 3] = 5.0
    hm = error_heatmaps(error, max_side=25)
    assert len(hm.maps) == 1 and any("4×4 blocks" in n for n in hm.notes)
    svg = str(hm.maps[0].svg)
    assert svg.count("<rect") == 25 * 25
    assert svg.count('stroke="#000" stroke-width="1.2"') == 1
    assert "block [0, 0, 96, 0]" in svg


def test_heatmaps_of_non_arrays_explain_themselves():
    hm = error_heatmaps([[1.0, 2.0], [3.0]])
    assert hm.maps == [] and hm.notes


@pytest.mark.parametrize("order", [1, 2])
def test_fit_slope_recovers_the_order(order):
    points = [{"h": 10.0 ** -k, "err": 3.0 * (10.0 ** -k) ** order} for k in range(1, 6)]
    assert fit_slope(points) == pytest.approx(order)
    assert f"fitted slope {order:.2f}" in convergence_svg(points)


def test_fit_slope_uses_the_truncation_branch_of_a_v_shape():
    h = [10.0 ** -k for k in range(1, 9)]
    err = [x ** 2 for x in h[:5]] + [1e-9, 1e-8, 1e-7]  # round-off rises below h = 1e-5
    points = [{"h": a, "err": b} for a, b in zip(h, err)]
    assert fit_slope(points) == pytest.approx(2.0)
    assert np.polyfit(np.log10(h), np.log10(err), 1)[0] < 1.5  # a blend would mislead
    svg = str(convergence_svg(points))
    assert "fitted slope 2.00 for h ≥ 1e-05" in svg and svg.count('class="fit"') == 1


def test_convergence_skips_unusable_points():
    assert fit_slope([{"h": 0.1, "err": 0.0}, {"h": "nan", "err": 1.0}]) is None
    assert convergence_svg([{"h": 0.1, "err": 1.0}]) is None


# -- formulas ------------------------------------------------------------------------------
def test_latex_is_prettified():
    out = str(latex_to_html(r"\frac{\partial E}{\partial w_{m',n'}^l} = \sum_{i=0}^{H-k_1}"
                            r" \delta^{l}_{i,j} \tag{13}"))
    assert '<span class="frac"><span class="num">∂ E</span>' in out
    assert '<span class="bigop"><span class="lim">H−k<sub>1</sub></span>' in out
    assert '<span class="subsup"><sup>l</sup><sub>i,j</sub></span>' in out
    assert '<span class="tag">(13)</span>' in out


@pytest.mark.parametrize("source", [r"<script>alert(1)</script>", r"\text{<img src=x>}",
                                    r"a_{<b>}", r"\<script>", r"\& \unknown{<i>}",
                                    "{" * 500, "}}}_^", r"\frac{"])
def test_latex_never_emits_markup_from_its_input(source):
    out = str(latex_to_html(source))
    dom = _dom(out)
    assert dom.errors == [] and dom.stack == []
    allowed = {"span", "sub", "sup", "b", "br"}
    assert {t for t, _ in dom.elements} <= allowed
    assert "<script" not in out and "<img" not in out and "<i>" not in out


# -- terminal ------------------------------------------------------------------------------
def test_terminal_summary_shows_every_record(report_run):
    text = format_summary(report_run)
    lines = text.splitlines()
    rows = {ln.split()[0]: ln for ln in lines if ln.split()}
    marks = {"pass": "✓", "fail": "✗", "error": "!"}
    absent = {op for op in {r.op for r in report_run.records}
              if all(r.status == "not-provided" for r in report_run.records if r.op == op)}
    for rec in report_run.records:
        if rec.op in absent:
            assert rec.op in next(ln for ln in lines if ln.startswith("not provided:"))
        elif rec.oracle == "structure" and rec.status != "pass":
            assert f"{rec.quantity}{marks[rec.status]}" in rows[rec.op]
        elif rec.oracle != "structure" and rec.status in marks:
            oracle = "subgr" if rec.oracle == "subgradient" else rec.oracle
            assert f"{oracle}{marks[rec.status]}" in rows[rec.op], (rec.key, rows[rec.op])
    assert lines[-1].startswith("FAILED: 3 fail, 1 error, 8 pass, 2 not-provided")
    assert "✗ FAIL relu dx: wrong against torch" in text
    assert "what happened: relu dx wrong: <script>alert(1)</script>" in text  # no worst element: the message
    assert "\033[" not in text
    coloured = format_summary(report_run, color=True)
    assert "\033[1;31mFAILED\033[0m" in coloured


def test_terminal_summary_verdicts():
    ok = RunResult(target="t", api="native", records=[Record("relu", "dx", "fd", "pass")])
    assert format_summary(ok).splitlines()[-1].startswith("PASSED: 1 pass")
    ok.complete = False
    assert format_summary(ok).splitlines()[-1].startswith("INCOMPLETE")


def test_arrays_of_unknown_layout_are_labelled_by_index():
    from gradcheck.report.html import value_view

    view = value_view(np.arange(8.0).reshape(2, 2, 2).tolist())
    assert view.kind == "array" and view.shape == "2×2×2"
    assert [ch.label for ch in view.channels] == ["[0, :, :]", "[1, :, :]"]
    assert view.channels[1].tables[0][1] == [["4", "5"], ["6", "7"]]
    assert value_view([1, 2, 3]).kind == "scalar"  # short vectors print inline
    assert value_view(np.zeros((20, 20))).kind == "text"  # too large to tabulate


# -- what a failure card shows -----------------------------------------------------------------
def _with_findings(run: RunResult) -> RunResult:
    """``run`` with the case as drawn and a second finding on conv2d-dw-torch, and a partial record."""
    rec = next(r for r in run.records if r.key == "conv2d-dw-torch")
    error = np.zeros((2, 2, 6, 6))
    error[:, :, ::2, :] = 50.0
    error[1, 0, 4, 3] = 3.0e6  # the largest error shown: the colour scale must reach it
    rec.drawn = {"counterexample": Counterexample(shapes={"x": [2, 2, 8, 8], "w": [2, 2, 3, 3], "b": [2]},
                                                  params={"stride": [2, 1], "padding": [1, 1], "dilation": [1, 1]}),
                 "worst": Worst(index=[1, 0, 4, 3], actual=2.0, expected=-1.0, abs_err=3.0, tolerance=1e-6),
                 "arrays": {"expected": np.zeros_like(error), "actual": error * 1e-6, "error": error},
                 "message": "conv2d dw vs torch: 38 of 144 elements beyond tolerance; worst at [1, 0, 4, 3]\n"
                            "Pattern: your dw is wrong only on every 2nd row (rows 0, 2, 4) and right on those between"}
    rec.also = {"status": "error", "message": "conv2d_backward raised IndexError: index 9 is out of bounds",
                "counterexample": Counterexample(shapes={"x": [1, 1, 2, 2], "w": [1, 1, 2, 2], "b": [1]},
                                                 params={"stride": [1, 1], "padding": [2, 2], "dilation": [1, 1]}),
                "worst": None, "arrays": None,
                "traceback": 'File "cand.py", line 9, in conv2d_backward\nIndexError: index 9 is out of bounds'}
    rec.covered = ["stride_h>1", "N>1"]
    rec.excluded = {"dilation>1": "the convention has no dilation"}
    run.records.append(Record("conv2d", "db", "torch", "partial", 1e-16, 1e-16, 1e-10, examples=11,
                              untested=["padding>0", "non-square kernel"],
                              excluded={"dilation>1": "the convention has no dilation"}))
    return run


def _dts(sec: str) -> list[str]:
    facts = sec[sec.index('<div class="facts">'):sec.index('<div class="figures">')]
    return re.findall(r"<dt>([^<]+)</dt>", facts)


def test_figures_are_labelled_with_what_they_are_taken_over(report_run):
    sec = _section(render_html(_with_findings(report_run)), "rec-conv2d-dw-torch")
    assert "Over all 7 cases</h4>" in sec and "Worst element, on the smallest case</h4>" in sec
    assert "judged on 7 cases" in sec
    labels = _dts(sec)
    assert {"largest |error|", "relative tolerance", "|error| there", "allowed there", "error ÷ allowed",
            "yours", "expected"} <= set(labels)
    figures = [label for label in labels if label not in ("x", "w", "b")]  # shapes of the case aside
    assert len(figures) == len(set(figures)), "two numbers under one name"
    assert "max abs err" not in sec and "<dt>tolerance</dt>" not in sec


def test_the_case_as_drawn_is_pictured_on_one_scale_with_the_smallest(report_run):
    sec = _section(render_html(_with_findings(report_run)), "rec-conv2d-dw-torch")
    smallest, drawn = sec.split("the largest failing case drawn, before shrinking", 1)
    assert smallest.count('<svg class="heatmap"') == 2  # the 2×1×3×3 smallest case
    assert drawn.count('<svg class="heatmap"') >= 4  # the drawn case's 2×2 channels
    assert sec.count('<svg class="colorbar"') == 1
    assert "10⁷" in sec.split('<svg class="colorbar"')[1].split("</svg>")[0]  # reaches 3e6
    assert "Both pictures share this scale" in sec
    assert "every 2nd row" in sec and "2×2×8×8" in sec and "38 of 144 elements" in sec


def test_colour_scale_reaches_the_largest_error():
    from gradcheck.report.svg import _colours, colorbar_svg, scale_decades

    assert scale_decades(5.0) == 3 and scale_decades(3e6) == 7 and scale_decades(float("inf")) == 300
    top = str(colorbar_svg(high_decades=7))
    darkest = _colours(np.array([1e7]), 7)[0]
    assert f'fill="{darkest}"' in top and "10⁷" in top
    assert _colours(np.array([1e3]), 7)[0] != darkest  # 1e3 is no longer the end of the scale
    hm = error_heatmaps([[1.0, 5e8]], worst_index=[0, 1])
    assert hm.high_decades == 9 and f'fill="{_colours(np.array([5e8]), 9)[0]}"' in str(hm.maps[0].svg)


def test_the_second_finding_is_shown(report_run):
    sec = _section(render_html(_with_findings(report_run)), "rec-conv2d-dw-torch")
    assert "It also errored on other cases" in sec
    assert "conv2d_backward raised IndexError: index 9 is out of bounds" in sec
    assert 'class="traceback"' in sec.split("It also errored")[1]


def test_coverage_of_a_failing_record(report_run):
    sec = _section(render_html(_with_findings(report_run)), "rec-conv2d-dw-torch")
    assert "What the 7 cases reached" in sec
    assert '<span class="val">stride_h&gt;1</span>' in sec and "the convention has no dilation" in sec


def test_partial_records_are_neither_passes_nor_failures(report_run):
    html = render_html(_with_findings(report_run))
    assert _cells(html)["rec-conv2d-db-torch"] == "partial"
    assert re.search(r'<td class="cell partial"><a href="#rec-conv2d-db-torch" title="[^"]*never reached: '
                     r'padding&gt;0, non-square kernel', html)
    part = html[html.index('id="partial"'):]
    row = part[part.index('id="rec-conv2d-db-torch"'):].split("</tr>")[0]
    assert "padding&gt;0" in row and "non-square kernel" in row and ">11<" in row
    assert html.count('id="rec-conv2d-db-torch"') == 1
    assert '<section class="record partial"' not in html


def test_pattern_lines_of_a_message_stand_out():
    rec = Record("conv2d", "dx", "torch", "fail", message="figures line\nPattern: your dx is zero everywhere")
    html = render_html(RunResult("t", "native", records=[rec]))
    assert '<span class="figures">figures line</span>' in html
    assert '<span class="pattern">Pattern: your dx is zero everywhere</span>' in html


def test_ledger_standing_in_the_summary_table(report_run):
    report_run.ledger[1].update(standing="holds-under-standard-reading", standing_label="holds under a standard reading",
                                standing_note="right up to the index convention: holds when read as <valid>")
    html = render_html(report_run)
    summary = html[html.index('class="list ledger-summary"'):]
    summary = summary[:summary.index("</table>")]
    assert '<span class="badge reading">holds under a standard reading</span>' in summary
    assert "holds when read as &lt;valid&gt;" in summary
    assert "at a glance</th>" in summary
