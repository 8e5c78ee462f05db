"""Tables as files and as cells: percentages as the paper prints them, in the CSV, the
Markdown and the page alike."""

from depthlab.report.document import format_cell
from depthlab.report.tables import write_table


def test_percentages_print_with_two_decimals_in_the_page_and_the_markdown(tmp_path):
    assert (format_cell(16.0, "Tanh ours (%)"), format_cell(14.654, "Tanh paper (%)")) == ("16.00", "14.65")
    assert format_cell(0.0123456, "lr") == "0.01235"
    write_table([{"configuration": "Tanh", "ours (%)": 16.0, "paper (%)": 27.15}], tmp_path, "t")
    assert "| Tanh | 16.00 | 27.15 |" in (tmp_path / "t.md").read_text()
