"""The report document model: verdict tags are one of two closed sets, named once."""

import pytest

from depthlab.errors import DepthlabError
from depthlab.report.document import Outcome, Severity, Verdict


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
