"""The summary of a page's verdicts: its rows, its counts, the terminal's table and the
stored copy the CLI reads."""

import pytest

from depthlab.errors import DepthlabError
from depthlab.report.document import Outcome, Section, Severity, Verdict
from depthlab.report.summary import VerdictSummary, key_numbers, verdict_summary

CLAIMS = [Verdict("The top layer saturates early.", "reproduced", "Mean 0.07 at update 3000 (of 10000). Early."),
          Verdict("Tanh saturates layer after layer.", "cannot show", "Only 3 probes."),
          Verdict("Normalized init lowers the error.", "not reproduced", "z = 0.4 (n = 300): not significant.")]
SECTIONS = [Section("Claims", [CLAIMS[0], "Some text.", CLAIMS[1]]),
            Section("Diagnosis", [Verdict("slow learning", Severity.WARNING, "Error 80%.")]),
            Section("More claims", [CLAIMS[2]])]


def test_the_summary_holds_each_claim_in_page_order_and_no_finding():
    summary = verdict_summary(SECTIONS)
    assert [(row.anchor, row.claim, row.verdict) for row in summary.rows] == [
        ("claim-1", "The top layer saturates early.", Outcome.REPRODUCED),
        ("claim-2", "Tanh saturates layer after layer.", Outcome.CANNOT_SHOW),
        ("claim-3", "Normalized init lowers the error.", Outcome.NOT_REPRODUCED)]
    assert summary.counts() == {Outcome.REPRODUCED: 1, Outcome.NOT_REPRODUCED: 1, Outcome.CANNOT_SHOW: 1}
    assert summary.count_line() == "3 claims: 1 reproduced, 1 not reproduced, 1 cannot show"


@pytest.mark.parametrize("evidence, key", [
    ("Mean 0.07 at update 3000 (of 10000). Early.", "Mean 0.07 at update 3000 (of 10000)."),
    ("σ′ peaks at 0.2500 at x = 0 and is at most 0.0066 once |x| ≥ 5.", "σ′ peaks at 0.2500 at x = 0 and is at "
                                                                        "most 0.0066 once |x| ≥ 5."),
    ("Final 84.50% (reproduced at ≥ 82%). Dropout: (see below).", "Final 84.50% (reproduced at ≥ 82%)."),
])
def test_the_key_numbers_are_the_evidences_first_sentence(evidence, key):
    assert key_numbers(evidence) == key


def test_the_terminal_table_has_one_row_per_claim_with_its_verdict():
    lines = verdict_summary(SECTIONS).text(width=60).splitlines()
    assert lines[0] == "3 claims: 1 reproduced, 1 not reproduced, 1 cannot show"
    rows = [line for line in lines[2:] if not line.startswith(" ")]
    assert rows == ["reproduced      The top layer saturates early.",
                    "cannot show     Tanh saturates layer after layer.",
                    "not reproduced  Normalized init lowers the error."]
    assert "                  Mean 0.07 at update 3000 (of 10000)." in lines
    assert all(len(line) <= 60 for line in lines)


def test_a_long_claim_wraps_under_its_verdict(tmp_path):
    claim = "word " * 30
    text = verdict_summary([Section("C", [Verdict(claim.strip(), "reproduced", "x 1.")])]).text(width=50)
    lines = text.splitlines()[2:]
    assert lines[0].startswith("reproduced      word")
    assert all(line.startswith(" " * 16 + "word") for line in lines[1:-1])
    assert " ".join(" ".join(line.split()) for line in lines[:-1]) == "reproduced " + claim.strip()


def test_the_stored_summary_reads_back_as_written(tmp_path):
    summary = verdict_summary(SECTIONS)
    summary.write(tmp_path / "verdicts.json")
    assert VerdictSummary.read(tmp_path / "verdicts.json") == summary


def test_a_damaged_summary_is_one_line_naming_the_file(tmp_path):
    path = tmp_path / "verdicts.json"
    path.write_text('{"claims": [{"claim": "c", "verdict": "reproducd"}]}')
    with pytest.raises(DepthlabError, match=rf"^{path} is not a summary of verdicts .*edited by hand$"):
        VerdictSummary.read(path)
