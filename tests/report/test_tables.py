"""Tables as files and as cells: percentages as the paper prints them, in the CSV, the
Markdown and the page alike."""

import pytest

from depthlab.errors import DepthlabError
from depthlab.report.document import format_cell
from depthlab.report.tables import write_table


def test_percentages_print_with_two_decimals_in_the_page_and_the_markdown(tmp_path):
    assert (format_cell(16.0, "Tanh ours (%)"), format_cell(14.654, "Tanh paper (%)")) == ("16.00", "14.65")
    assert format_cell(0.0123456, "lr") == "0.01235"
    write_table([{"configuration": "Tanh", "ours (%)": 16.0, "paper (%)": 27.15}], tmp_path, "t")
    assert "| Tanh | 16.00 | 27.15 |" in (tmp_path / "t.md").read_text()


def test_a_table_write_cut_short_leaves_the_old_files_whole(tmp_path, writes_cut_short):
    write_table([{"lr": 0.1, "status": "completed"}], tmp_path, "summary")
    before = {path.name: path.read_text() for path in tmp_path.iterdir()}
    writes_cut_short()
    with pytest.raises(DepthlabError, match=f"^could not write {tmp_path / 'summary.csv'}: File too large$"):
        write_table([{"lr": 0.1, "status": "completed"}, {"lr": 1.0, "status": "diverged"}], tmp_path, "summary")
    assert {path.name: path.read_text() for path in tmp_path.iterdir()} == before
    assert before["summary.csv"] == "lr,status\n0.1,completed\n"


def test_a_table_write_cut_short_leaves_no_file_where_there_was_none(tmp_path, writes_cut_short):
    writes_cut_short()
    with pytest.raises(DepthlabError, match="summary.csv: File too large$"):
        write_table([{"lr": 0.1}], tmp_path, "summary")
    assert list(tmp_path.iterdir()) == []
