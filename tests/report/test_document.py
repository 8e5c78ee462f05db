"""The report document model: verdict tags are one of two closed sets, named once."""

from pathlib import Path

import pytest

from depthlab.errors import DepthlabError
from depthlab.report.document import (
    Outcome,
    ReportFigure,
    Severity,
    Verdict,
    figure_label,
    format_duration,
    key_value_table,
)


def test_a_verdict_takes_the_name_of_an_outcome_or_a_severity_as_its_member():
    assert Verdict("claim", "not reproduced", "evidence").verdict is Outcome.NOT_REPRODUCED
    assert Verdict("finding", "warning", "evidence").verdict is Severity.WARNING
    assert f"**{Outcome.CANNOT_SHOW}**" == "**cannot show**"  # written as its plain name


def test_an_unknown_verdict_is_one_line_naming_both_sets():
    with pytest.raises(DepthlabError, match=r"^unknown verdict 'reproducd' \(did you mean 'reproduced'\?\); valid "
                                            r"choices: cannot show, not reproduced, ok, problem, reproduced, "
                                            r"warning$"):
        Verdict("claim", "reproducd", "evidence")


def test_decide_gives_each_outcome_by_its_rule():
    assert Verdict.decide("c", True, "e").verdict is Outcome.REPRODUCED
    assert Verdict.decide("c", False, "e").verdict is Outcome.NOT_REPRODUCED
    shown = Verdict.decide("c", True, "Mean 0.1.", shows=False, unshown="Too short.")
    assert (shown.verdict, shown.evidence) == (Outcome.CANNOT_SHOW, "Mean 0.1. Too short.")


def test_severities_run_worst_first():
    assert Severity.names() == ("problem", "warning", "ok")


@pytest.mark.parametrize("seconds, said", [(0.4, "0 seconds"), (1.2, "1 second"), (42, "42 seconds"),
                                           (59.4, "59 seconds"), (59.6, "1 minute"), (780, "13 minutes"),
                                           (3599, "1 h 0 min"), (5040, "1 h 24 min")])
def test_a_duration_is_said_in_seconds_under_a_minute(seconds, said):
    assert format_duration(seconds) == said


@pytest.mark.parametrize("caption, label", [
    ("Figure 11 (Glorot & Bengio 2010), Shapeset-3×2 test error.", "Figure 11"),
    ("Figure 1: Shapeset-3×2 examples.", "Figure 1"),
    ("Each optimizer's path over the contours of the quadratic.", "Each optimizer's path over the contours of the "
                                                                   "quadratic"),
    ("", "figure02"),
])
def test_a_figure_shown_before_is_named_by_its_captions_start(caption, label):
    assert figure_label(ReportFigure(Path("out/figures/figure02.png"), caption)) == label


def test_a_key_value_table_has_one_row_per_set_value():
    table = key_value_table({"torch": "2.13.0", "cpu_count": 2, "cuda_device": None, "layers": [1, 2]}, "setting",
                            "Versions.")
    assert table.rows == [{"setting": "torch", "value": "2.13.0"}, {"setting": "cpu_count", "value": 2},
                          {"setting": "layers", "value": "[1, 2]"}]
    assert table.caption == "Versions."
