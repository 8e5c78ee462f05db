"""The Markdown twin of a report page: the same document (:mod:`depthlab.report.document`)
as :mod:`depthlab.report.html` renders, with figures as relative links to their PNG files, so a
study's results read on GitHub or in any editor; and :func:`publish`, which copies the
Markdown page and the images it shows into a folder of their own (``docs/results/``).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from depthlab.errors import DepthlabError
from depthlab.report.document import Block, ReportFigure, Section, Table, Verdict
from depthlab.report.tables import markdown_table
from depthlab.store.files import replace_durably

_LINK = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")


def _figure(figure: ReportFigure, page: Path) -> str:
    png = figure.path.with_suffix(".png")
    shown = png if png.exists() else figure.path
    return f"![{figure.path.stem}]({Path(os.path.relpath(shown, page.parent)).as_posix()})\n\n*{figure.caption}*"


def render_block(block: Block, page: Path) -> str:
    if isinstance(block, str):
        return block
    if isinstance(block, ReportFigure):
        return _figure(block, page)
    if isinstance(block, Table):
        return (f"*{block.caption}*\n\n" if block.caption else "") + markdown_table(block.rows).rstrip()
    if isinstance(block, Verdict):
        text = f"**{block.verdict}**: {block.claim}\n\n{block.evidence}"
        return text + (f"\n\n{_figure(block.figure, page)}" if block.figure else "")
    raise TypeError(f"cannot render {type(block).__name__}")


def write_markdown(path: str | Path, title: str, sections: Sequence[Section], intro: str = "") -> Path:
    """Write the page as Markdown to ``path`` and return it."""
    path = Path(path)
    parts = [f"# {title}"] + ([intro] if intro else [])
    for section in sections:
        parts.append(f"## {section.title}")
        parts.extend(render_block(block, path) for block in section.blocks)
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
