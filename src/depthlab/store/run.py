"""A run directory: everything one run wrote, readable without the code that wrote it.

    config.json    the resolved configuration
    env.json       versions, seed, device, engine and its kernel, threads, start time
    status.json    running | completed | diverged | interrupted, with the update reached
    metrics.jsonl  one JSON object per line: training cost, validation and test error
    probes.jsonl   per-layer probe statistics (see depthlab.probe)
    final.json     the final numbers (written when the run stops)
    checkpoint.pt  model, optimizer and progress, for --resume

Only the run itself writes into its directory. JSON files are replaced atomically, so a
crash never leaves one half-written; JSONL files are appended line by line.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

from depthlab.errors import DepthlabError

STATUSES = ("running", "completed", "diverged", "interrupted")


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def environment(seed: int, device: str) -> dict[str, Any]:
    """What produced the numbers: versions, machine, seed and device."""
    import numpy

    from depthlab import __version__

    return {
        "depthlab": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "seed": seed,
        "device": device,
        "cuda_device": torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else None,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(sys.argv),
    }


class RunDir:
    """Reads and writes one run directory."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def create(cls, path: str | Path, config: dict[str, Any], env: dict[str, Any]) -> RunDir:
        """Make a new run directory; refuse one that already holds anything."""
        run = cls(path)
        if run.path.exists() and any(run.path.iterdir()):
            raise DepthlabError(f"run directory {run.path} already exists and is not empty; "
                                "choose another --out or --resume it")
        run.path.mkdir(parents=True, exist_ok=True)
        _write_json(run.path / "config.json", config)
        _write_json(run.path / "env.json", env)
        run.set_status("running", update=0)
        return run

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        run = cls(path)
        if not (run.path / "config.json").is_file():
            raise DepthlabError(f"{run.path} is not a run directory (no config.json)")
        return run

    # -- reading -------------------------------------------------------------------------
    def _read(self, name: str) -> Any:
        return json.loads((self.path / name).read_text())

    @property
    def config(self) -> dict[str, Any]:
        return self._read("config.json")

    @property
    def env(self) -> dict[str, Any]:
        return self._read("env.json")

    @property
    def status(self) -> dict[str, Any]:
        return self._read("status.json")

    @property
    def final(self) -> dict[str, Any] | None:
        return self._read("final.json") if (self.path / "final.json").is_file() else None

    def metrics(self) -> list[dict[str, Any]]:
        return read_jsonl(self.path / "metrics.jsonl")

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """(updates, values) of one metric, e.g. ``series("test_error")``."""
        rows = [r for r in self.metrics() if key in r]
        return [r["update"] for r in rows], [r[key] for r in rows]

    # -- writing -------------------------------------------------------------------------
    def set_status(self, status: str, **info: Any) -> None:
        assert status in STATUSES, status
        _write_json(self.path / "status.json", {"status": status, **info})

    def write_final(self, numbers: dict[str, Any]) -> None:
        _write_json(self.path / "final.json", numbers)

    def update_env(self, **info: Any) -> None:
        _write_json(self.path / "env.json", {**self.env, **info})

    def append_metrics(self, row: dict[str, Any]) -> None:
        append_jsonl(self.path / "metrics.jsonl", row)

    def truncate_after(self, update: int) -> None:
        """Drop what was logged after the checkpoint taken at ``update`` (used when
        resuming, so no row is written twice): metrics past ``update``, and probes from
        ``update`` on (the probe at an update is taken after its checkpoint)."""
        for name, keep_row in (("metrics.jsonl", lambda r: r["update"] <= update),
                               ("probes.jsonl", lambda r: r["step"] < update)):
            path = self.path / name
            if path.is_file():
                keep = [r for r in read_jsonl(path) if keep_row(r)]
                tmp = path.with_suffix(".tmp")
                tmp.write_text("".join(json.dumps(r) + "\n" for r in keep))
                os.replace(tmp, path)

    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoint.pt"

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        tmp = self.checkpoint_path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.checkpoint_path)

    def load_checkpoint(self) -> dict[str, Any]:
        if not self.checkpoint_path.is_file():
            raise DepthlabError(f"{self.path} has no checkpoint.pt to resume from")
        return torch.load(self.checkpoint_path, weights_only=False)


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
