"""The two ways a run writes a file: JSON replaced atomically (a crash leaves the old
file or the new one, never half of one), and JSONL appended one record per line (a crash
loses at most the line in progress, which reading skips). A write that fails (a full
disk, say) leaves the previous state as it was and is one line naming the file; what
must survive a power loss (:func:`replace_durably`) is synced before and after its rename.
Reading a file that is not what a run writes is one line naming the file too."""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from depthlab.errors import DepthlabError


def write_failed(path: Path, error: OSError) -> DepthlabError:
    """The one line for a write to ``path`` that failed."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return DepthlabError(f"disk full while writing {path}: the run keeps its previous state; free some space "
                             "and --resume it")
    return DepthlabError(f"could not write {path}: {error.strerror or error}")


TEMPORARY = re.compile(r"^(?P<name>.+?)(\.\d+-[0-9a-f]{8})?\.tmp$")
"""A temporary file :func:`replace_durably` writes (``NAME.PID-TOKEN.tmp``), or one of
the ``NAME.tmp`` runs written before #27 left."""


def stored_name(name: str) -> str:
    """The file a temporary file was to become (a process killed while it wrote it left
    it behind), else ``name`` itself."""
    match = TEMPORARY.match(name)
    return match["name"] if match else name


def replace_durably(path: Path, write: Callable[[Path], None], durable: bool = False) -> None:
    """Write ``path`` through ``write(temporary path)`` and a rename; with ``durable``, the
    file and the rename are synced to disk. On failure the old file stays and the
    temporary one is removed. Every file depthlab writes whole goes through here (a run's
    JSON, a report's pages, tables and figures): it is there whole or not at all."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")  # one per writer (TEMPORARY)
    try:
        write(tmp)
        if durable:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if durable:
            directory = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise write_failed(path, error) from None
    except BaseException:  # a writer's own failure, a Ctrl-C: no temporary file left either
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> None:
    """Replace ``path`` by ``obj`` as indented JSON, atomically."""
    text = json.dumps(obj, indent=2, default=str) + "\n"
    replace_durably(path, lambda tmp: tmp.write_text(text))


def read_json(path: Path) -> Any:
    """The JSON in ``path``; one line naming the file when it is not JSON."""
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DepthlabError(f"{path} is not valid JSON ({error}); it was damaged or edited by hand") from None


def read_object(path: Path) -> dict[str, Any]:
    """The JSON object (mapping) in ``path``; one line naming the file otherwise."""
    value = read_json(path)
    if not isinstance(value, dict):
        raise DepthlabError(f"{path} holds a JSON {type(value).__name__}, not the object a run writes; it was "
                            "damaged or edited by hand")
    return value


def append_jsonl(path: Path, row: dict[str, Any]) -> None:
    """Append ``row`` as one line; a failed write is cut off again, so the file keeps
    only whole lines."""
    with open(path, "a") as f:
        size = f.tell()
        try:
            f.write(json.dumps(row) + "\n")
            f.flush()
        except OSError as error:
            f.truncate(size)
            raise write_failed(path, error) from None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a JSONL log of objects; a last line cut short by a crash is skipped, any other
    line that is not a JSON object in UTF-8 is an error naming the file and line."""
    if not path.is_file():
        return []
    lines = path.read_bytes().split(b"\n")
    rows = []
    for number, line in enumerate(lines, start=1):
        if number == len(lines) and not line:  # the end of the last whole line
            break
        try:
            row = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            if number == len(lines):  # cut short by a crash
                break
            what = "not UTF-8 text" if isinstance(error, UnicodeDecodeError) else "not a JSON record"
            raise DepthlabError(f"{path}:{number}: {what}") from None
        if not isinstance(row, dict):
            raise damaged(f"{path}:{number}", f"a JSON {type(row).__name__}, not the object a run writes")
        rows.append(row)
    return rows


def damaged(where: str, what: str) -> DepthlabError:
    """The one line for a run file (``where``: its path, and line) that does not hold what
    a run writes."""
    return DepthlabError(f"{where}: {what}; the file was damaged or edited by hand")


def shown(value: Any) -> str:
    """``value`` as a message quotes it, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_update(value: Any) -> bool:
    """Whether ``value`` counts updates: a whole number, 0 or more."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_record(where: str, record: dict[str, Any], texts: tuple[str, ...] = (), needs_update: bool = True) \
        -> dict[str, Any]:
    """``record`` (from ``where``) as a run writes its numbers: an "update" (a whole
    number, needed with ``needs_update``), the values of ``texts`` strings, every other
    value a number or null; else one line naming ``where`` and the key."""
    if "update" not in record and needs_update:
        raise damaged(where, 'a record without "update"')
    for key, value in record.items():
        if key == "update":
            if not is_update(value):
                raise damaged(where, f'"update" is {shown(value)}, not a whole number of updates')
        elif key in texts:
            if not isinstance(value, str):
                raise damaged(where, f'"{key}" is {shown(value)}, not a string')
        elif value is not None and not is_number(value):
            raise damaged(where, f'"{key}" is {shown(value)}, not a number')
    return record


def rewrite_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Replace the JSONL file ``path`` by ``rows``, atomically."""
    text = "".join(json.dumps(r) + "\n" for r in rows)
    replace_durably(path, lambda tmp: tmp.write_text(text))
