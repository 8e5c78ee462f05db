import html
import re

import pytest

from depthlab.errors import DepthlabError
from depthlab.report.document import Outcome, ReportFigure, Section, Table, Verdict
from depthlab.report.html import write_report
from depthlab.report.markdown import publish

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


@pytest.fixture
def page(tmp_path):
    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "figure02.png").write_bytes(PNG)
    (out / "figures" / "figure02.svg").write_text("<svg/>")
    (out / "runs").mkdir()
    (out / "runs" / "checkpoint.pt").write_bytes(b"weights")
    figure = ReportFigure(out / "figures" / "figure02.svg", "Figure 2: sigmoid means.")
    sections = [Section("Claims", [Verdict("The top layer saturates.", Outcome.REPRODUCED, "Mean 0.07 at update 3000.",
                                           figure)]),
                Section("Table 1", [Table([{"configuration": "Tanh", "ours (%)": 16.0, "paper (%)": 27.15}],
                                          "Test error.")])]
    write_report(out / "report.html", "A study", sections, "Budget 'long'.")
    return out


def test_the_report_has_a_markdown_twin_with_relative_figure_links(page):
    text = (page / "report.md").read_text()
    assert text.startswith("# A study\n\nBudget 'long'.\n\n## Summary of the verdicts\n\n")  # tests/report/test_html.py
    assert '## Claims\n\n<a id="claim-1"></a>**reproduced**: The top layer saturates.' in text
    assert "![figure02](figures/figure02.png)\n\n*Figure 2: sigmoid means.*" in text  # the PNG, not the SVG
    assert "*Test error.*\n\n| configuration | ours (%) | paper (%) |\n|---|---|---|\n| Tanh | 16.00 | 27.15 |" in text


def test_publish_copies_the_page_and_its_images_only_and_replaces_the_last_publication(page, tmp_path):
    target = tmp_path / "docs" / "results" / "study"
    target.mkdir(parents=True)
    (target / "stale.png").write_bytes(PNG)
    published = publish(page / "report.md", target)
    assert published == target / "report.md"
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == [
        "figures/figure02.png", "report.md"]
    assert (target / "figures" / "figure02.png").read_bytes() == PNG
    assert [p.name for p in target.parent.iterdir()] == ["study"]  # no staging folder left


def test_a_failed_publication_leaves_the_previous_one_whole(page, tmp_path):
    target = tmp_path / "published"
    publish(page / "report.md", target)
    (page / "figures" / "figure02.png").unlink()
    with pytest.raises(DepthlabError, match="could not publish .*report.md into .*published: .*figure02.png"):
        publish(page / "report.md", target)
    assert (target / "figures" / "figure02.png").read_bytes() == PNG
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "published"]


@pytest.mark.parametrize("failing, rewritten", [("report.md", []), ("report.html", ["report.md"])])
def test_a_page_write_cut_short_leaves_the_old_page_whole(page, writes_cut_short, failing, rewritten):
    before = {name: (page / name).read_text() for name in ("report.html", "report.md")}
    writes_cut_short(failing)
    with pytest.raises(DepthlabError, match=f"^could not write {page / failing}: File too large$"):
        write_report(page / "report.html", "Another study", [Section("Claims", ["Nothing yet."])])
    after = {name: (page / name).read_text() for name in ("report.html", "report.md")}
    assert [name for name in after if after[name] != before[name]] == rewritten
    assert after["report.html"].endswith("</html>\n") and not list(page.glob("*.tmp"))


HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "</p><!-- hidden", "<https://evil.example>",
           "&lt;b&gt; and &#60;i&#62;", "<?php x ?>", "`<b>code</b>`", "a\\<b>x</b>", "\\&amp;"]
"""Grid values a hostile grid file could hold: raw HTML, a comment, an autolink, character
references, a processing instruction, HTML in a code span or behind a backslash."""


@pytest.fixture
def hostile_page(tmp_path):
    rows = [{"lr": value, "status": "completed", "note": "a | b\nc"} for value in HOSTILE]
    sections = [Section("Runs <b>bold</b>", ["Sweep over <i>lr</i>: Glorot & Bengio, error < 1%.",
                                              Table(rows, "Every run <u>here</u>"),
                                              Verdict("<em>claim</em>", Outcome.CANNOT_SHOW, "<s>evidence</s>")])]
    write_report(tmp_path / "report.html", "Sweep: <blink>x</blink>", sections, intro="<marquee>intro</marquee>")
    return (tmp_path / "report.md").read_text()


OUR_ANCHOR = re.compile(r'<a id="claim-\d+"></a>')
"""The one piece of raw HTML a page writes itself: the anchor of a claim's card, which the
summary links to."""


def test_markdown_shows_raw_html_from_values_as_text(hostile_page):
    assert OUR_ANCHOR.findall(hostile_page) == ['<a id="claim-1"></a>']
    assert "<" not in OUR_ANCHOR.sub("", hostile_page).replace("error < 1%", "").replace("| < |", "")
    assert "| &lt;script>alert(1)&lt;/script> | completed | a \\| b c |" in hostile_page
    assert "| &amp;lt;b&amp;gt; and &amp;#60;i&amp;#62; |" in hostile_page
    assert "Glorot & Bengio, error < 1%." in hostile_page  # a < or & that starts no markup stays as written
    assert hostile_page.startswith("# Sweep: &lt;blink>x&lt;/blink>\n\n&lt;marquee>intro&lt;/marquee>\n\n")


def test_a_commonmark_reader_shows_every_value_as_written(hostile_page):
    markdown_it = pytest.importorskip("markdown_it")
    rendered = markdown_it.MarkdownIt("commonmark").enable("table").render(hostile_page)
    shown = html.unescape(re.sub(r"<[^>]*>", "", rendered))  # the text a browser shows, tags stripped
    tags = set(re.findall(r"</?([a-z0-9]+)", rendered))
    assert tags <= {"h1", "h2", "p", "table", "thead", "tbody", "tr", "th", "td", "em", "strong", "a"}
    assert re.findall(r"<a [^>]*>", rendered) == ['<a href="#claim-1">', '<a id="claim-1">']  # ours alone
    for value in [*HOSTILE, "Runs <b>bold</b>", "Every run <u>here</u>", "<em>claim</em>", "<s>evidence</s>",
                  "Sweep: <blink>x</blink>", "<marquee>intro</marquee>", "Glorot & Bengio, error < 1%."]:
        assert value in shown
