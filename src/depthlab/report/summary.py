"""The summary of a study's verdicts, with one owner: :func:`verdict_summary` reads the
claims of a page (every :class:`~depthlab.report.document.Verdict` whose tag is an
:class:`~depthlab.report.document.Outcome`) in the order the page shows them. The HTML
page and its Markdown twin open with it (each row linking to its claim's card), it is
stored beside them as ``verdicts.json``, and ``depthlab reproduce`` prints it
(:meth:`VerdictSummary.text`) when a study ends.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from depthlab.errors import DepthlabError
from depthlab.report.document import Outcome, Section, Verdict
from depthlab.store.files import read_json, write_json

SUMMARY_TITLE = "Summary of the verdicts"
SUMMARY_FILE = "verdicts.json"
KEY_LENGTH = 240
"""The most characters of a claim's key numbers the terminal shows; the page has them all."""

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")


@dataclass(frozen=True)
class ClaimRow:
    """One claim of the summary: its card's ``anchor`` on the page, the ``claim``, its
    ``verdict`` and its ``key`` numbers (the first sentence of the verdict's evidence,
    where each rule states the numbers that decided it)."""

    anchor: str
    claim: str
    verdict: Outcome
    key: str


def key_numbers(evidence: str) -> str:
    """The first sentence of ``evidence``: the numbers that decided the verdict."""
    return _SENTENCE_END.split(evidence.strip(), maxsplit=1)[0]


@dataclass(frozen=True)
class VerdictSummary:
    """The claims of a page, in its order, and how many of each outcome."""

    rows: tuple[ClaimRow, ...]

    def counts(self) -> dict[Outcome, int]:
        """Each outcome (all three, in :class:`Outcome`'s order) → how many claims have it."""
        return {outcome: sum(row.verdict is outcome for row in self.rows) for outcome in Outcome}

    def count_line(self) -> str:
        """E.g. "9 claims: 3 reproduced, 1 not reproduced, 5 cannot show"."""
        counts = ", ".join(f"{n} {outcome}" for outcome, n in self.counts().items())
        return f"{len(self.rows)} claim{'s' if len(self.rows) != 1 else ''}: {counts}"

    def text(self, width: int = 100) -> str:
        """The summary as a table for a terminal ``width`` characters wide: the counts, then
        one row per claim, its verdict in the first column, its claim and (indented below
        it) its key numbers wrapped in the second."""
        column = max(len(o) for o in Outcome) + 2
        wrap = max(width - column, 30)
        lines = [self.count_line(), f"{'verdict':<{column}}claim (key numbers below)"]
        for row in self.rows:
            claim = textwrap.wrap(row.claim, wrap) or [""]
            key = row.key if len(row.key) <= KEY_LENGTH else row.key[:KEY_LENGTH - 1].rstrip() + "…"
            numbers = textwrap.wrap(key, wrap - 2)
            lines.append(f"{row.verdict:<{column}}{claim[0]}")
            lines += [" " * column + part for part in claim[1:]]
            lines += [" " * (column + 2) + part for part in numbers]
        return "\n".join(lines)

    def write(self, path: Path) -> None:
        """Store the summary as JSON (``verdicts.json`` beside a page)."""
        write_json(path, {"counts": {str(k): v for k, v in self.counts().items()},
                          "claims": [{**asdict(row), "verdict": str(row.verdict)} for row in self.rows]})

    @classmethod
    def read(cls, path: Path) -> VerdictSummary:
        """The summary :meth:`write` stored in ``path``; one line naming the file if it is
        not one."""
        data = read_json(path)
        try:
            return cls(tuple(ClaimRow(str(c["anchor"]), str(c["claim"]), Outcome(c["verdict"]), str(c["key"]))
                             for c in data["claims"]))
        except (KeyError, TypeError, ValueError) as error:
            raise DepthlabError(f"{path} is not a summary of verdicts ({error!r}); it was damaged or edited "
                                "by hand") from None


def claims(sections: Sequence[Section]) -> list[Verdict]:
    """The claims of a page (its verdicts tagged with an :class:`Outcome`), in order."""
    return [block for section in sections for block in section.blocks
            if isinstance(block, Verdict) and isinstance(block.verdict, Outcome)]


def claim_anchor(number: int) -> str:
    """The id of the ``number``-th claim's card (from 1)."""
    return f"claim-{number}"


def claim_anchors(sections: Sequence[Section]) -> dict[int, str]:
    """The id of each claim's card, by the claim's ``id()``: what the summary's rows link to."""
    return {id(verdict): claim_anchor(i) for i, verdict in enumerate(claims(sections), start=1)}


def verdict_summary(sections: Sequence[Section]) -> VerdictSummary:
    """The summary of the claims of a page made of ``sections``."""
    return VerdictSummary(tuple(ClaimRow(claim_anchor(i), v.claim, v.verdict, key_numbers(v.evidence))
                                for i, v in enumerate(claims(sections), start=1)))
