"""Tables as files: every table a study writes goes out as CSV (for machines) and
Markdown (for people), and comes back as a report :class:`~depthlab.report.document.Table`."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from depthlab.report.document import Table
from depthlab.report.markdown import escape, markdown_table
from depthlab.store.files import replace_durably


def write_table(rows: Sequence[dict[str, Any]], out_dir: str | Path, stem: str, caption: str = "") -> Table:
    """Write ``rows`` as ``stem.csv`` and ``stem.md`` into ``out_dir``; return them as a
    report :class:`~depthlab.report.document.Table`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    replace_durably(out_dir / f"{stem}.csv", lambda tmp: tmp.write_text(text.getvalue(), newline=""))
    page = (f"{escape(caption)}\n\n" if caption else "") + markdown_table(rows, columns)
    replace_durably(out_dir / f"{stem}.md", lambda tmp: tmp.write_text(page))
    return Table(list(rows), caption)
