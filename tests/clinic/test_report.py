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
