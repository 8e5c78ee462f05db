"""What a report says, apart from how it is shown: a page is a list of :class:`Section`,
each holding blocks in order (text, a :class:`ReportFigure`, a :class:`Table` or a
:class:`Verdict`). :mod:`depthlab.report.html` and :mod:`depthlab.report.markdown` render
the same document; :mod:`depthlab.report.tables` writes its tables as files. This module
imports no renderer, and nothing here knows about any particular study.
"""

from __future__ import annotations

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
