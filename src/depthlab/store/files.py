"""The two ways a run writes a file: JSON replaced atomically (a crash leaves the old
file or the new one, never half of one), and JSONL appended one record per line (a crash
loses at most the line in progress, which reading skips)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from depthlab.errors import DepthlabError


def write_json(path: Path, obj: Any) -> None:
    """Replace ``path`` by ``obj`` as indented JSON, through a temporary file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def append_jsonl(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a JSONL log; a last line cut short by a crash is skipped, any other
    unreadable line is an error naming the file and line."""
    if not path.is_file():
        return []
    lines = path.read_text().splitlines(keepends=True)
    rows = []
    for number, line in enumerate(lines, start=1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines) and not line.endswith("\n"):
                break
            raise DepthlabError(f"{path}:{number}: not a JSON record") from None
    return rows


def rewrite_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Replace the JSONL file ``path`` by ``rows``, atomically."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    os.replace(tmp, path)
