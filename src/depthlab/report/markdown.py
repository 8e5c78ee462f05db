"""The Markdown twin of a report page: the same document (:mod:`depthlab.report.document`)
as :mod:`depthlab.report.html` renders, with figures as relative links to their PNG files, so a
study's results read on GitHub or in any editor; and :func:`publish`, which copies the
Markdown page and the images it shows into a folder of their own (``docs/results/``).
Every text of a page and of a table (:func:`markdown_table`, which
:mod:`depthlab.report.tables` writes too) goes through :func:`escape`: a value shows as
written, never as markup.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from depthlab.errors import DepthlabError
from depthlab.report.document import (
    Block,
    ReportFigure,
    Section,
    Table,
    Verdict,
    figure_anchor,
    figure_label,
    format_cell,
)
from depthlab.report.summary import SUMMARY_TITLE, VerdictSummary, claim_anchors, verdict_summary
from depthlab.store.files import replace_durably

_LINK = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")
_MARKUP = re.compile(r"[\\`]|<(?=[A-Za-z/!?])|&(?=#?\w+;)")
"""What CommonMark reads as markup rather than text, of what could carry raw HTML or hide
it: ``<`` opening a tag, a comment, a declaration, a processing instruction or an
autolink; ``&`` opening a character reference; a backslash escape; a backtick opening a
code span, in which entities show as written (CommonMark spec, sections 6.6, 6.5, 2.5,
2.4 and 6.1)."""
_ESCAPED = {"<": "&lt;", "&": "&amp;", "\\": "\\\\", "`": "\\`"}


def escape(text: str) -> str:
    """``text`` shown as itself in Markdown, as ``html.escape`` shows it in HTML: any raw
    HTML, autolink, character reference, backslash or backtick in it (from a grid value,
    say) escaped, while a ``<`` or ``&`` that starts no markup ("Glorot & Bengio",
    "a < b") stays as written."""
    return _MARKUP.sub(lambda match: _ESCAPED[match.group()], text)


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """``rows`` as a Markdown table, its columns those of the rows in order unless given."""
    columns = list(dict.fromkeys(k for row in rows for k in row)) if columns is None else columns
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(format_cell(row.get(c), c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """A table cell's text, escaped, on one line, its bars not ending the cell."""
    return " ".join(escape(text).replace("|", "\\|").splitlines())


def _figure(figure: ReportFigure, page: Path) -> str:
    png = figure.path.with_suffix(".png")
    shown = png if png.exists() else figure.path
    return f"![{escape(figure.path.stem)}]({Path(os.path.relpath(shown, page.parent)).as_posix()})\n\n" \
           f"*{escape(figure.caption)}*"


class _Page:
    """Renders the blocks of one page in order, as :mod:`depthlab.report.html` does: each
    claim's card gets its summary anchor, and a figure shown before becomes a link to it."""

    def __init__(self, sections: Sequence[Section], path: Path):
        self.anchors = claim_anchors(sections)
        self.shown: set[Path] = set()
        self.path = path
        figures = [f for s in sections for b in s.blocks for f in (b, getattr(b, "figure", None))
                   if isinstance(f, ReportFigure)]
        self.repeated = {f.path for f in figures if sum(g.path == f.path for g in figures) > 1}

    def block(self, block: Block) -> str:
        """One block as Markdown, every text in it through :func:`escape`."""
        if isinstance(block, str):
            return escape(block)
        if isinstance(block, ReportFigure):
            anchor = figure_anchor(block)
            if block.path in self.shown:
                return f"See [{escape(figure_label(block))}](#{anchor}) above."
            self.shown.add(block.path)
            return (f'<a id="{anchor}"></a>\n\n' if block.path in self.repeated else "") + _figure(block, self.path)
        if isinstance(block, Table):
            return (f"*{escape(block.caption)}*\n\n" if block.caption else "") + markdown_table(block.rows).rstrip()
        if isinstance(block, Verdict):
            anchor = f'<a id="{self.anchors[id(block)]}"></a>' if id(block) in self.anchors else ""
            text = f"{anchor}**{block.verdict}**: {escape(block.claim)}\n\n{escape(block.evidence)}"
            return text + (f"\n\n{self.block(block.figure)}" if block.figure else "")
        raise TypeError(f"cannot render {type(block).__name__}")


def summary_markdown(summary: VerdictSummary) -> str:
    """The section that opens a page with claims: the counts, and one row per claim
    linking to its card."""
    rows = "\n".join(f"| {i} | {row.verdict} | [{_cell(row.claim)}](#{row.anchor}) |"
                     for i, row in enumerate(summary.rows, start=1))
    return f"## {SUMMARY_TITLE}\n\n{summary.count_line()}.\n\n| # | verdict | claim |\n|---|---|---|\n{rows}"


def write_markdown(path: str | Path, title: str, sections: Sequence[Section], intro: str = "") -> Path:
    """Write the page as Markdown to ``path`` and return it; a page that judges claims
    opens with their summary (:func:`~depthlab.report.summary.verdict_summary`)."""
    path = Path(path)
    parts = [f"# {escape(title)}"] + ([escape(intro)] if intro else [])
    summary = verdict_summary(sections)
    if summary.rows:
        parts.append(summary_markdown(summary))
    page = _Page(sections, path)
    for section in sections:
        parts.append(f"## {escape(section.title)}")
        parts.extend(page.block(block) for block in section.blocks)
    text = "\n\n".join(parts) + "\n"
    replace_durably(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


def publish(page: str | Path, folder: str | Path) -> Path:
    """Copy the Markdown ``page`` and every image it links into ``folder`` (their relative
    places kept), replacing what a previous publication left there; return the new page.
    The copy is made beside ``folder`` and renamed into place, so a failure leaves the
    previous publication whole (and an OS error is one line)."""
    page, folder = Path(page), Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    try:
        text = page.read_text(encoding="utf-8")
        for link in dict.fromkeys(_LINK.findall(text)):
            target = staging / link
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(page.parent / link, target)
        (staging / page.name).write_text(text, encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise DepthlabError(f"could not publish {page} into {folder}: {error}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder / page.name
