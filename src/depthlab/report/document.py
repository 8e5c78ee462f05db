"""What a report says, apart from how it is shown: a page is a list of :class:`Section`,
each holding blocks in order (text, a :class:`ReportFigure`, a :class:`Table` or a
:class:`Verdict`). :mod:`depthlab.report.html` and :mod:`depthlab.report.markdown` render
the same document; :mod:`depthlab.report.tables` writes its tables as files. This module
imports no renderer, and nothing here knows about any particular study.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from depthlab.errors import unknown_choice
from depthlab.registry import Choice


class Outcome(Choice, kind="verdict"):
    """What a study's data say of a paper's claim: it holds, it does not, or the budget
    was too small (or a run missing) for the claim to show."""

    REPRODUCED = "reproduced"
    NOT_REPRODUCED = "not reproduced"
    CANNOT_SHOW = "cannot show"


class Severity(Choice, kind="severity"):
    """How much a diagnosis of one run should worry its reader, worst first.

    A separate set from :class:`Outcome`: a finding says how a run is doing, a verdict
    whether a paper's claim holds, and neither word belongs to the other (a claim is
    never "warning", a run never "reproduced"). Both are the tag of a :class:`Verdict`."""

    PROBLEM = "problem"
    WARNING = "warning"
    OK = "ok"


@dataclass
class ReportFigure:
    """An image file to embed (PNG or SVG), with its caption."""

    path: Path
    caption: str


@dataclass
class Table:
    """Rows of a table: every row a mapping from column name to value."""

    rows: Sequence[dict[str, Any]]
    caption: str = ""


@dataclass
class Verdict:
    """A claim of a paper and what our data say of it (an :class:`Outcome`), or a
    finding of a diagnosis and how serious it is (a :class:`Severity`); ``evidence``
    states the numbers that decided it. A plain name is taken for its member."""

    claim: str
    verdict: Outcome | Severity
    evidence: str
    figure: ReportFigure | None = None

    def __post_init__(self):
        if not isinstance(self.verdict, (Outcome, Severity)):
            if self.verdict in Outcome.names():
                self.verdict = Outcome(self.verdict)
            elif self.verdict in Severity.names():
                self.verdict = Severity(self.verdict)
            else:
                raise unknown_choice("verdict", self.verdict, (*Outcome.names(), *Severity.names()))

    @classmethod
    def decide(cls, claim: str, holds: bool, evidence: str, shows: bool = True, unshown: str = "") -> Verdict:
        """The verdict of a stated rule: reproduced when it ``holds``, not reproduced when
        not, and "cannot show" when the budget cannot decide it (``shows`` False),
        ``unshown`` then saying why after the evidence."""
        if not shows:
            return cls(claim, Outcome.CANNOT_SHOW, f"{evidence} {unshown}".strip())
        return cls(claim, Outcome.REPRODUCED if holds else Outcome.NOT_REPRODUCED, evidence)


Block = Union[str, ReportFigure, Table, Verdict]
"""One block of a section, rendered in order."""


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


def format_cell(value: Any, column: str = "") -> str:
    """A table cell as text: a percentage (its column named "… (%)") with two decimals, as
    the paper prints them, any other float with four significant digits, None empty."""
    if isinstance(value, float):
        return f"{value:.2f}" if column.endswith("(%)") else f"{value:.4g}"
    return "" if value is None else str(value)


def figure_anchor(figure: ReportFigure) -> str:
    """The id of a figure on its page, from its file's name (``figure-figure11``)."""
    return f"figure-{Path(figure.path).stem}"


def figure_label(figure: ReportFigure) -> str:
    """How a link to a figure shown earlier names it: its caption up to the first comma,
    colon or parenthesis ("Figure 11"), or its file's name where the caption has none."""
    label = re.split(r"[,:(]", figure.caption, maxsplit=1)[0].strip().rstrip(".")
    if len(label) > 80:
        label = label[:80].rsplit(" ", 1)[0] + "…"
    return label or Path(figure.path).stem


def format_duration(seconds: float) -> str:
    """A time span as a reader says it: "40 seconds" under a minute, "12 minutes" under
    an hour, "1 h 24 min" beyond."""
    if seconds < 59.5:
        return f"{seconds:.0f} second{'s' if round(seconds) != 1 else ''}"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{minutes // 60} h {minutes % 60} min"


def key_value_table(mapping: dict[str, Any], key: str, caption: str) -> Table:
    """``mapping`` as a two-column table, one row per entry (``key``, "value"), leaving out
    the empty ones: many settings read down a page, where one row of them runs off it."""
    return Table([{key: name, "value": value if isinstance(value, (int, float, str)) else str(value)}
                  for name, value in mapping.items() if value not in (None, {}, [])], caption)
