"""The front door: ``import depthlab`` is quick and gives what a user reaches for."""

import subprocess
import sys

import pytest

import depthlab
from depthlab.registry import Registry


def test_import_depthlab_imports_no_torch():
    done = subprocess.run([sys.executable, "-c", "import sys, depthlab; print('torch' in sys.modules)"],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.parametrize("name", [n for n in depthlab.__all__ if n != "__version__"])
def test_every_front_door_name_resolves_with_a_docstring(name):
    value = getattr(depthlab, name)
    assert (value.__doc__ or "").strip(), name
    if name in ("activations", "inits", "bias_inits", "costs", "optimizers", "datasets"):
        assert isinstance(value, Registry) and len(value) > 0


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'trian'"):
        depthlab.trian  # noqa: B018


def test_train_open_inspect_and_diagnose_a_run(tmp_path):
    result = depthlab.train(dataset="shapeset", depth=2, width=16, updates=40, eval_size=100, probe_size=50,
                            out=tmp_path / "run", progress=False)
    run = depthlab.open_run(result.path)
    assert (run.config.depth, run.network.widths) == (2, (1024, 16, 16, 9))
    assert run.probes.hidden_layers() == ["layer 1", "layer 2"]
    report = depthlab.inspect(run)
    assert report.path == run.path / "report" / "report.html" and report.path.is_file()
    assert [f.name for f in depthlab.diagnose(run.path)] == [f.name for f in report.findings]
    extended = depthlab.resume(run.path, updates=60, progress=False)
    assert (extended.status, extended.final["update"]) == ("completed", 60)
    assert depthlab.open_run(run.path).config.updates == 60
