"""One self-contained HTML page per study: text, figures (embedded as data URIs),
tables and verdicts, with no external file, script or font, so it opens anywhere and can
be mailed as one file.

The page renders a document of :mod:`depthlab.report.document`: everything it says
comes from its blocks, and nothing here knows about any particular study.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

from depthlab.report.document import (
    Block,
    Outcome,
    ReportFigure,
    Section,
    Severity,
    Table,
    Verdict,
    figure_anchor,
    figure_label,
    format_cell,
)
from depthlab.report.markdown import write_markdown
from depthlab.report.summary import SUMMARY_FILE, SUMMARY_TITLE, VerdictSummary, claim_anchors, verdict_summary
from depthlab.store.files import replace_durably

VERDICT_STYLES = {Outcome.REPRODUCED: "ok", Outcome.NOT_REPRODUCED: "bad", Outcome.CANNOT_SHOW: "unknown",
                  Severity.OK: "ok", Severity.PROBLEM: "bad", Severity.WARNING: "unknown"}
"""The colour of a verdict's border, by its tag."""


CSS = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.7em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: .92em; }
.scroll { overflow-x: auto; max-width: 100%; margin: 1em 0; }
table { border-collapse: collapse; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { overflow-wrap: normal; word-break: keep-all; }
td { overflow-wrap: break-word; } .num { text-align: right; } td.num { white-space: nowrap; }
td:first-child { white-space: nowrap; }
code, pre { white-space: pre-wrap; overflow-wrap: anywhere; }
p.caption { color: #555; margin: 1em 0 .3em; } p.caption + .scroll { margin-top: 0; }
.verdict { border-left: 5px solid #999; padding: .4em .9em; margin: 1em 0; background: #fafafa; }
.verdict.ok { border-color: #2a9d3a; } .verdict.bad { border-color: #c0392b; } .verdict.unknown { border-color: #d4a017; }
.tag { font-weight: 600; text-transform: uppercase; font-size: .8em; letter-spacing: .05em; }
#summary td:nth-child(2) { white-space: nowrap; }
"""
"""The page's style: tables wider than the page scroll inside their box (``.scroll``), so
the page itself never scrolls sideways, images shrink to its width, and a header breaks
only between words."""


def _image(path: Path) -> str:
    data = Path(path).read_bytes()
    if path.suffix.lower() == ".svg":
        uri = "data:image/svg+xml;base64," + base64.b64encode(data).decode()
    else:
        uri = "data:image/png;base64," + base64.b64encode(data).decode()
    return f'<img src="{uri}" alt="{html.escape(path.stem)}">'


class _Page:
    """Renders the blocks of one page in order: each claim's card gets its summary
    anchor, and a figure shown before (a claim's figure that a later claim or the
    figures section shows again) becomes a link to where it is."""

    def __init__(self, sections: Sequence[Section]):
        self.anchors = claim_anchors(sections)
        self.shown: set[Path] = set()

    def block(self, block: Block) -> str:
        if isinstance(block, str):
            return f"<p>{html.escape(block)}</p>"
        if isinstance(block, ReportFigure):
            anchor = figure_anchor(block)
            if block.path in self.shown:
                return f'<p class="seen">See <a href="#{anchor}">{html.escape(figure_label(block))}</a> above.</p>'
            self.shown.add(block.path)
            return (f'<figure id="{anchor}">{_image(block.path)}<figcaption>{html.escape(block.caption)}'
                    "</figcaption></figure>")
        if isinstance(block, Table):
            return _table(block.rows, block.caption)
        if isinstance(block, Verdict):
            style = VERDICT_STYLES.get(block.verdict, "unknown")
            figure = self.block(block.figure) if block.figure else ""
            anchor = f' id="{self.anchors[id(block)]}"' if id(block) in self.anchors else ""
            return (f'<div class="verdict {style}"{anchor}><p><span class="tag">{html.escape(block.verdict)}</span> '
                    f"<b>{html.escape(block.claim)}</b></p><p>{html.escape(block.evidence)}</p>{figure}</div>")
        raise TypeError(f"cannot render {type(block).__name__}")


def _table(rows: Sequence[dict], caption: str = "", cells=None) -> str:
    """A table in a box that scrolls sideways where it is wider than the page, its caption
    above the box (so it wraps to the page, not to the table); a column of numbers (and
    empty cells) aligns right, any other left. ``cells`` (row, column) → HTML replaces the
    escaped text of a cell."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    cell = cells or (lambda row, column: html.escape(format_cell(row.get(column), column)))
    numeric = {c for c in columns if all(row.get(c) in (None, "") or isinstance(row.get(c), (int, float)) and
                                         not isinstance(row.get(c), bool) for row in rows)}

    def tag(name: str, column: str, text: str) -> str:
        return f'<{name} class="num">{text}</{name}>' if column in numeric else f"<{name}>{text}</{name}>"

    head = "".join(tag("th", c, html.escape(c)) for c in columns)
    body = "".join("<tr>" + "".join(tag("td", c, cell(row, c)) for c in columns) + "</tr>" for row in rows)
    caption = f'<p class="caption">{html.escape(caption)}</p>' if caption else ""
    return f'{caption}<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _summary(summary: VerdictSummary) -> str:
    """The section that opens a page with claims: the counts, and one row per claim
    linking to its card."""
    rows = [{"#": i, "verdict": row.verdict, "claim": row} for i, row in enumerate(summary.rows, start=1)]

    def cell(row, column):
        if column == "claim":
            return f'<a href="#{row["claim"].anchor}">{html.escape(row["claim"].claim)}</a>'
        return html.escape(str(row[column]))

    return (f'<section id="summary"><h2>{SUMMARY_TITLE}</h2><p>{html.escape(summary.count_line())}.</p>'
            f"{_table(rows, cells=cell)}</section>")


def write_report(path: str | Path, title: str, sections: Sequence[Section], intro: str = "") -> Path:
    """Write the page to ``path``, its Markdown twin beside it (``report.md``, see
    :mod:`depthlab.report.markdown`) and, where it judges claims, the summary of its
    verdicts (``verdicts.json``, :mod:`depthlab.report.summary`), which opens both pages;
    return the HTML page."""
    path = Path(path)
    summary = verdict_summary(sections)
    write_markdown(path.with_suffix(".md"), title, sections, intro)
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             '<meta name="viewport" content="width=device-width, initial-scale=1">'
             f"<title>{html.escape(title)}</title>",
             f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    if intro:
        parts.append(f"<p>{html.escape(intro)}</p>")
    contents = ([("summary", SUMMARY_TITLE)] if summary.rows else []) + [(f"s{i}", s.title)
                                                                         for i, s in enumerate(sections)]
    if len(contents) > 1:
        parts.append("<nav><ol>" + "".join(f'<li><a href="#{anchor}">{html.escape(name)}</a></li>'
                                           for anchor, name in contents) + "</ol></nav>")
    if summary.rows:
        parts.append(_summary(summary))
    page = _Page(sections)
    for i, section in enumerate(sections):
        parts.append(f'<section id="s{i}"><h2>{html.escape(section.title)}</h2>')
        parts.extend(page.block(b) for b in section.blocks)
        parts.append("</section>")
    parts.append("</body></html>\n")
    text = "".join(parts)
    replace_durably(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    if summary.rows:
        summary.write(path.with_name(SUMMARY_FILE))
    return path
