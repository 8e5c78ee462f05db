"""The HTML page and its Markdown twin: they open with the summary of the verdicts, show
each figure once, keep wide tables in a box that scrolls, and fit a phone's width in a
real headless browser."""

import re
from html.parser import HTMLParser

import pytest

from depthlab.report.document import Outcome, ReportFigure, Section, Table, Verdict
from depthlab.report.html import CSS, write_report
from depthlab.report.summary import SUMMARY_TITLE, VerdictSummary, verdict_summary

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


class Page(HTMLParser):
    """The page's sections in order (id, heading), the summary's rows (verdict, claim,
    link), the ids of claim cards, the ids of figures and the links to figures."""

    def __init__(self, text):
        super().__init__()
        self.sections, self.summary, self.cards, self.figures, self.links = [], [], [], [], []
        self._in_summary = self._row = None
        self._tag = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self._tag = tag
        if tag == "section":
            self.sections.append([attrs.get("id"), ""])
            self._in_summary = attrs.get("id") == "summary"
        elif tag == "tr" and self._in_summary:
            self._row = []
            self.summary.append(self._row)
        elif tag == "a" and self._in_summary and self._row is not None:
            self._row.append(attrs["href"])
        elif tag == "a" and attrs.get("href", "").startswith("#figure-"):
            self.links.append(attrs["href"])
        elif tag == "div" and "verdict" in attrs.get("class", ""):
            self.cards.append(attrs.get("id"))
        elif tag == "figure":
            self.figures.append(attrs.get("id"))

    def handle_data(self, data):
        if self._tag == "h2":
            self.sections[-1][1] += data
        elif self._tag in ("td", "a") and self._row is not None:
            self._row.append(data)

    def handle_endtag(self, tag):
        self._tag = None
        if tag == "section":
            self._in_summary, self._row = False, None


@pytest.fixture
def figure(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "figure11.png").write_bytes(PNG)
    return ReportFigure(tmp_path / "figures" / "figure11.png", "Figure 11 (Glorot & Bengio 2010), test error.")


@pytest.fixture
def sections(figure):
    claims = [Verdict("Sigmoid errs at the majority level.", Outcome.REPRODUCED, "84.3% against 83.3%.", figure),
              Verdict("Table 1's ranking holds.", Outcome.CANNOT_SHOW, "z = 1.2. Not significant.", figure),
              Verdict("Normalized init lowers the error.", Outcome.NOT_REPRODUCED, "z = -0.5.", figure)]
    return [Section("Claims", claims), Section("Figures", [figure]),
            Section("Runs", [Table([{"run": "a", "lr": 0.1}], "Every run.")])]


@pytest.fixture
def page(tmp_path, sections):
    path = write_report(tmp_path / "report.html", "A study", sections, "Budget 'smoke'.")
    return path, Page(path.read_text())


def test_the_first_section_is_the_summary_with_one_row_per_claim(page, sections):
    path, parsed = page
    assert parsed.sections[0] == ["summary", SUMMARY_TITLE]
    assert [s[1] for s in parsed.sections[1:]] == ["Claims", "Figures", "Runs"]
    expected = verdict_summary(sections).rows
    header, *rows = parsed.summary
    assert [(verdict, claim, link) for _, verdict, link, claim in rows] == [
        (row.verdict, row.claim, f"#{row.anchor}") for row in expected]
    assert [row.verdict for row in expected] == [Outcome.REPRODUCED, Outcome.CANNOT_SHOW, Outcome.NOT_REPRODUCED]
    assert parsed.cards == ["claim-1", "claim-2", "claim-3"]  # each row links to its card
    assert "3 claims: 1 reproduced, 1 not reproduced, 1 cannot show." in path.read_text()


def test_the_stored_summary_is_the_pages(page, sections):
    path, _ = page
    assert VerdictSummary.read(path.with_name("verdicts.json")) == verdict_summary(sections)


def test_a_page_without_claims_has_no_summary(tmp_path):
    path = write_report(tmp_path / "report.html", "A run", [Section("Run", ["Text."])])
    assert [s[1] for s in Page(path.read_text()).sections] == ["Run"]
    assert not (tmp_path / "verdicts.json").exists()
    assert SUMMARY_TITLE not in (tmp_path / "report.md").read_text()


def test_each_figure_is_shown_once_and_linked_where_it_comes_again(page):
    path, parsed = page
    assert parsed.figures == ["figure-figure11"]
    assert path.read_text().count("<img ") == 1
    assert parsed.links == ["#figure-figure11"] * 3  # two later claims and the figures section
    assert "See <a href=\"#figure-figure11\">Figure 11</a> above." in path.read_text()


def test_the_markdown_twin_opens_with_the_summary_and_shows_each_figure_once(page, sections):
    path, _ = page
    text = path.with_suffix(".md").read_text()
    assert text.startswith(f"# A study\n\nBudget 'smoke'.\n\n## {SUMMARY_TITLE}\n\n"
                           "3 claims: 1 reproduced, 1 not reproduced, 1 cannot show.\n\n"
                           "| # | verdict | claim |\n|---|---|---|\n"
                           "| 1 | reproduced | [Sigmoid errs at the majority level.](#claim-1) |\n"
                           "| 2 | cannot show | [Table 1's ranking holds.](#claim-2) |\n"
                           "| 3 | not reproduced | [Normalized init lowers the error.](#claim-3) |\n\n## Claims\n\n")
    for anchor in ("claim-1", "claim-2", "claim-3", "figure-figure11"):
        assert text.count(f'<a id="{anchor}"></a>') == 1
    assert text.count("![figure11](figures/figure11.png)") == 1
    assert text.count("See [Figure 11](#figure-figure11) above.") == 3


def test_every_table_sits_in_a_box_that_scrolls_sideways(page):
    path, _ = page
    text = path.read_text()
    assert text.count("<table>") == text.count('<div class="scroll"><table>') == 2  # the summary and "Every run."
    assert ".scroll { overflow-x: auto;" in CSS
    assert "figure img { max-width: 100%; height: auto;" in CSS
    assert "th { overflow-wrap: normal; word-break: keep-all; }" in CSS  # headers break between words only
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text


def test_a_column_of_numbers_aligns_right_and_one_of_text_left(tmp_path):
    rows = [{"setting": "torch", "value": "2.13.0", "threads": 2}, {"setting": "seed", "value": 0, "threads": None}]
    text = write_report(tmp_path / "r.html", "T", [Section("E", [Table(rows)])]).read_text()
    assert re.findall(r"<t[hd](?: [^>]*)?>", text) == ["<th>", "<th>", '<th class="num">', "<td>", "<td>",
                                                  '<td class="num">', "<td>", "<td>", '<td class="num">']


def wide_page(tmp_path, width_px: int):
    """A page with a table of 40 long columns, an image 3000 pixels wide and, beside
    them, an element ``width_px`` wide that nothing lets scroll."""
    from PIL import Image

    image = tmp_path / "wide.png"
    Image.new("RGB", (3000, 200), "white").save(image)
    rows = [{f"a long column name {i}": f"value_without_spaces_{i}" * 2 for i in range(40)}]
    path = write_report(tmp_path / "report.html", "Wide", [Section("Wide", [Table(rows, "Forty columns."),
                                                                          ReportFigure(image, "Wide.")])])
    path.write_text(path.read_text().replace("</body>", f'<div style="width:{width_px}px">x</div></body>'))
    return path


def test_a_wide_table_and_image_fit_a_phones_width_in_a_browser(tmp_path, assert_loads_in_browser):
    assert_loads_in_browser(wide_page(tmp_path, 300), figures=1)


def test_the_browser_check_sees_an_element_wider_than_a_phone(tmp_path, assert_loads_in_browser):
    with pytest.raises(AssertionError, match=r"\(390, 6\d\d, 390\)"):
        assert_loads_in_browser(wide_page(tmp_path, 600), figures=1)
