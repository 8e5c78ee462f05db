"""The doctor's HTML page: the diagnosis, each remedy with its verdict, numbers, per-layer
table and code (also written as a file), the recommendation, theory and the depth check."""

from __future__ import annotations

import clinic_cases as cases
import torch.nn.functional as F

import depthlab


def test_the_page_shows_each_remedy_and_the_recommendation(tmp_path):
    model, optimizer = cases.dead_relu_bias(0)
    result = depthlab.doctor(model, cases.teacher_data(0), F.cross_entropy, optimizer, steps=cases.STEPS,
                             progress=False, echo=False, out=tmp_path, builder=lambda depth: cases.mlp(depth, 32,
                                                                                                     cases.nn.ReLU),
                             depths=(2, 4))
    assert result.path == tmp_path / "doctor.html"
    page = result.path.read_text()
    top = result.recommended[0]
    for outcome in result.outcomes:
        assert f"Remedy: {outcome.remedy.name}" in page and outcome.evidence in page
        assert (tmp_path / f"remedy-{outcome.remedy.name.lower().replace(' ', '-')}.py").read_text() == \
            outcome.code + "\n"
    assert f"1. {top.remedy.name}: {top.evidence}" in page
    assert f"To paste: remedy-{top.remedy.name.lower().replace(' ', '-')}.py, beside this page." in page
    def _number(trial):
        value = result.statistics(trial)["dead fraction (dead ReLUs)"]
        return "n/a" if value is None else f"{value:.2g}"

    # the summary: a short row per remedy, each baseline problem's statistic after it, as the verdict states it
    dead = [o for o in result.outcomes if "dead fraction (dead ReLUs)" in result.statistics(o.trial)]
    assert dead and "<th>dead fraction (dead ReLUs)</th>" in page and "<th>evidence</th>" not in page
    for outcome in dead:  # the same number in the table and the verdict's sentence
        after = result.statistics(outcome.trial)["dead fraction (dead ReLUs)"]
        shown = "n/a" if after is None else f"{after:.2g}"
        assert f"<td>{shown}</td>" in page
        assert f"dead fraction {_number(result.baseline)} → {shown}" in outcome.evidence
    # the per-layer table names the modules, bottom to top
    assert "<td>0</td>" in page and "<td>6</td>" in page
    assert "<img" in page and "Depth check" in page and "Mean-field theory" in page
    assert (tmp_path / "doctor.md").exists()
    assert result.text().endswith(f"wrote {result.path}")
    assert result.depth_check.rows[0]["depth"] == 2


def test_a_healthy_networks_page_says_nothing_was_tried(tmp_path):
    model, optimizer = cases.tanh_normalized(0)
    result = depthlab.doctor(model, cases.teacher_data(0), F.cross_entropy, optimizer, steps=20, progress=False,
                             echo=False, out=tmp_path)
    page = result.path.read_text()
    assert "No remedy: nothing is wrong in the trial, so nothing was tried." in page
    assert "Remedy:" not in page and not list(tmp_path.glob("remedy-*.py"))
