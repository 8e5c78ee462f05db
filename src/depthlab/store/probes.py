"""Probe measures as data: what :class:`depthlab.probe.Probe` measured, in memory or read
back from a run's probe file.

A measure at one update (a :class:`Measure`) gives rows ``{"update", "layer", "stat",
"value"}`` and histograms ``{"update", "layer", "quantity", "edges", "counts"}`` (the
statistics and histograms are the quantities' of :mod:`depthlab.probe.quantities`). On
disk each measure is one JSONL line ``{"update", "rows", "histograms"}``, so a crash
loses at most the line in progress.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from depthlab.errors import unknown_choice
from depthlab.store.files import damaged, is_number, is_update, read_jsonl, shown

Row = dict[str, Any]


@dataclass(frozen=True)
class Measure(Sequence):
    """One probe measure: its ``update``, ``rows`` and ``histograms``, and ``layers``, the
    probed entries ``{"layer", "module", "kind", "activation"}`` bottom to top. It reads
    as its rows (``for row in probe.measure(update)``)."""

    update: int
    rows: list[Row]
    histograms: list[Row] = field(default_factory=list)
    layers: list[Row] = field(default_factory=list)

    def __getitem__(self, index):
        return self.rows[index]

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class ProbeLog:
    """Probe rows and histograms over training, with the queries figures and claims ask."""

    rows: list[Row] = field(default_factory=list)
    histograms: list[Row] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.rows)

    def add(self, rows: Sequence[Row], histograms: Sequence[Row] = ()) -> None:
        self.rows += rows
        self.histograms += histograms

    @property
    def updates(self) -> list[int]:
        """The updates at which a measure was taken, in order."""
        return sorted({row["update"] for row in self.rows})

    @property
    def layers(self) -> list[str]:
        """Every probed layer, in the order first measured (bottom to top)."""
        return list(dict.fromkeys(row["layer"] for row in self.rows))

    def hidden_layers(self) -> list[str]:
        """The hidden layers, bottom to top ("layer 1", "layer 2", …)."""
        names = {row["layer"] for row in self.rows if row["layer"].startswith("layer ")}
        return sorted(names, key=lambda name: int(name.split()[1]))

    def has(self, stat: str) -> bool:
        return any(row["stat"] == stat for row in self.rows)

    def series(self, stat: str, layer: str) -> tuple[np.ndarray, np.ndarray]:
        """Updates and values of ``stat`` for ``layer``, in update order; an unknown
        statistic or layer is a one-line error naming the valid ones."""
        if self.rows and not self.has(stat):
            raise unknown_choice("probe statistic", stat, {row["stat"] for row in self.rows})
        if self.rows and layer not in self.layers:
            raise unknown_choice("probe layer", layer, self.layers)
        points = sorted((row["update"], row["value"]) for row in self.rows
                        if row["stat"] == stat and row["layer"] == layer)
        return np.array([p[0] for p in points], dtype=int), np.array([p[1] for p in points], dtype=float)

    def values_at(self, stat: str, update: int) -> dict[str, float]:
        """Layer → value of ``stat`` at the measure of ``update``."""
        return {row["layer"]: row["value"] for row in self.rows if row["stat"] == stat and row["update"] == update}

    def histograms_at(self, update: int) -> list[Row]:
        """The histograms measured at ``update``."""
        return [h for h in self.histograms if h["update"] == update]


def append_measure(path: Path, rows: Sequence[Row], histograms: Sequence[Row] = ()) -> None:
    """Append one measure (its rows and histograms, all of one update) to the probe file."""
    if not rows and not histograms:
        return
    update = (rows or histograms)[0]["update"]
    with open(path, "a") as f:
        f.write(json.dumps({"update": update, "rows": list(rows), "histograms": list(histograms)}) + "\n")


def read_records(path: Path) -> list[dict[str, Any]]:
    """The probe file ``path``'s records ``{"update", "rows", "histograms"}``, each
    checked as :func:`append_measure` writes it (empty when there is none); a last line
    cut short by a crash is skipped. Files written before rows said ``update`` (they said
    ``step``) read the same. Anything else is one line naming the file, the line and the
    row. (Measures may probe different layers: a statistic chosen alone, such as
    update_ratio or a Jacobian's, has no rows at some updates or layers.)"""
    records = []
    for number, record in enumerate(read_jsonl(path), start=1):
        where = f"{path}:{number}"
        if "step" in record and "update" not in record:
            record["update"] = record.pop("step")
        rows, histograms = record.get("rows"), record.get("histograms")
        if not (is_update(record.get("update")) and isinstance(rows, list) and isinstance(histograms, list)):
            raise damaged(where, 'not a probe record (it needs "update", a whole number, and "rows" and '
                                 '"histograms", lists)')
        _check_entries(where, record["update"], rows, "row", "stat", _check_row)
        _check_entries(where, record["update"], histograms, "histogram", "quantity", _check_histogram)
        records.append(record)
    return records


def _check_entries(where: str, update: int, entries: list, kind: str, what: str, check) -> None:
    """Each of a record's rows (or histograms) an object of the record's update, with a
    "layer" and ``what`` (a statistic or quantity) named once, checked by ``check``."""
    seen = set()
    for k, entry in enumerate(entries, start=1):
        at = f"{where}: {kind} {k}"
        if not isinstance(entry, dict):
            raise damaged(at, f"{shown(entry)} is not an object")
        if "step" in entry and "update" not in entry:
            entry["update"] = entry.pop("step")
        if not is_update(entry.get("update")) or entry["update"] != update:
            raise damaged(at, f'"update" is {shown(entry.get("update"))}, not its record\'s {update}')
        if not (isinstance(entry.get("layer"), str) and isinstance(entry.get(what), str)):
            raise damaged(at, f'it needs "layer" and "{what}", names')
        key = (entry["layer"], entry[what])
        if key in seen:
            raise damaged(at, f"a second {kind} of {entry[what]} at {entry['layer']}")
        seen.add(key)
        check(at, entry)


def _check_row(at: str, row: Row) -> None:
    if row.get("value") is not None and not is_number(row.get("value")):
        raise damaged(at, f'"value" is {shown(row.get("value"))}, not a number')


def _check_histogram(at: str, histogram: Row) -> None:
    edges, counts = histogram.get("edges"), histogram.get("counts")
    if not (isinstance(edges, list) and isinstance(counts, list) and len(edges) == len(counts) + 1
            and all(map(is_number, edges)) and all(map(is_number, counts))):
        raise damaged(at, '"edges" and "counts" must be lists of numbers, one more edge than counts')


def read_measures(path: Path) -> ProbeLog:
    """Every measure of the probe file ``path`` (see :func:`read_records`)."""
    log = ProbeLog()
    for record in read_records(path):
        log.add(record["rows"], record["histograms"])
    return log
