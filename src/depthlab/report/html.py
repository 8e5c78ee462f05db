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
    format_cell,
)
from depthlab.report.markdown import write_markdown
from depthlab.store.files import replace_durably

VERDICT_STYLES = {Outcome.REPRODUCED: "ok", Outcome.NOT_REPRODUCED: "bad", Outcome.CANNOT_SHOW: "unknown",
                  Severity.OK: "ok", Severity.PROBLEM: "bad", Severity.WARNING: "unknown"}
"""The colour of a verdict's border, by its tag."""


CSS = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.7em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: .92em; }
table { border-collapse: collapse; margin: 1em 0; font-size: .92em; max-width: 100%; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; overflow-wrap: anywhere; }
code, pre { white-space: pre-wrap; overflow-wrap: anywhere; }
th:first-child, td:first-child { text-align: left; }
caption { caption-side: top; text-align: left; color: #555; padding-bottom: .3em; }
.verdict { border-left: 5px solid #999; padding: .4em .9em; margin: 1em 0; background: #fafafa; }
.verdict.ok { border-color: #2a9d3a; } .verdict.bad { border-color: #c0392b; } .verdict.unknown { border-color: #d4a017; }
.tag { font-weight: 600; text-transform: uppercase; font-size: .8em; letter-spacing: .05em; }
"""


def _image(path: Path) -> str:
    data = Path(path).read_bytes()
    if path.suffix.lower() == ".svg":
        uri = "data:image/svg+xml;base64," + base64.b64encode(data).decode()
    else:
        uri = "data:image/png;base64," + base64.b64encode(data).decode()
    return f'<img src="{uri}" alt="{html.escape(path.stem)}">'


def render_block(block: Block) -> str:
    if isinstance(block, str):
        return f"<p>{html.escape(block)}</p>"
    if isinstance(block, ReportFigure):
        return f"<figure>{_image(block.path)}<figcaption>{html.escape(block.caption)}</figcaption></figure>"
    if isinstance(block, Table):
        columns = list(dict.fromkeys(k for row in block.rows for k in row))
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(format_cell(row.get(c), c))}</td>" for c in columns) + "</tr>"
                       for row in block.rows)
        caption = f"<caption>{html.escape(block.caption)}</caption>" if block.caption else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(block, Verdict):
        style = VERDICT_STYLES.get(block.verdict, "unknown")
        figure = render_block(block.figure) if block.figure else ""
        return (f'<div class="verdict {style}"><p><span class="tag">{html.escape(block.verdict)}</span> '
                f"<b>{html.escape(block.claim)}</b></p><p>{html.escape(block.evidence)}</p>{figure}</div>")
    raise TypeError(f"cannot render {type(block).__name__}")


def write_report(path: str | Path, title: str, sections: Sequence[Section], intro: str = "") -> Path:
    """Write the page to ``path`` and its Markdown twin beside it (``report.md``, see
    :mod:`depthlab.report.markdown`); return the HTML page."""
    write_markdown(Path(path).with_suffix(".md"), title, sections, intro)
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>",
             f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    if intro:
        parts.append(f"<p>{html.escape(intro)}</p>")
    if len(sections) > 1:
        parts.append("<nav><ol>" + "".join(f'<li><a href="#s{i}">{html.escape(s.title)}</a></li>'
                                           for i, s in enumerate(sections)) + "</ol></nav>")
    for i, section in enumerate(sections):
        parts.append(f'<section id="s{i}"><h2>{html.escape(section.title)}</h2>')
        parts.extend(render_block(b) for b in section.blocks)
        parts.append("</section>")
    parts.append("</body></html>\n")
    path = Path(path)
    text = "".join(parts)
    replace_durably(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path
