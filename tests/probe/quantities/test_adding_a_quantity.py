"""A quantity added in one file, this one: the class and its registration below, and no
other edit, put it in a probe's rows, the run store (depthlab train's and a user's loop's),
the HTML run report and TensorBoard."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab.probe import Probe
from depthlab.probe.quantities import QUANTITIES, Need, Quantity, Reading
from depthlab.report.run_report import write_run_report
from depthlab.store import RunDir
from depthlab.training.trainer import train

# -- the quantity: all it takes ----------------------------------------------------------
ACTIVATION_MAX_ABS, ABS_ACTIVATION_HIST = "activation_max_abs", "abs_activation"

pytestmark = pytest.mark.usefixtures("reduced_on")  # each test on the host path and the device path


class MaxAbsActivation(Quantity):
    """max |a| over the probe set, of each entry with an activation; a histogram of |a|."""

    name, needs = "max_abs_activation", frozenset({Need.ACTIVATION})
    stats, histograms = (ACTIVATION_MAX_ABS,), (ABS_ACTIVATION_HIST,)

    def measure(self, entry):
        if entry.call.activation is None:
            return None
        size = entry.call.a.abs()
        return Reading({ACTIVATION_MAX_ABS: size.max().item()}, {ABS_ACTIVATION_HIST: (size, None)})


@pytest.fixture
def registered():
    QUANTITIES.register(MaxAbsActivation())
    yield
    QUANTITIES.unregister(MaxAbsActivation.name)
# -----------------------------------------------------------------------------------------


def test_a_registered_quantity_is_in_every_new_probes_rows(registered):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    x = torch.randn(20, 4)
    rows = Probe(model, x, torch.randint(0, 3, (20,)), F.cross_entropy, layer_names="positions").measure(0)
    values = {r["layer"]: r["value"] for r in rows if r["stat"] == ACTIVATION_MAX_ABS}
    with torch.no_grad():
        assert values == {"layer 1": pytest.approx(torch.tanh(model[0](x)).abs().max().item())}


def test_a_registered_quantity_reaches_the_store_the_report_and_tensorboard(registered, tmp_path, read_report):
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    run = train(dict(dataset="shapeset", depth=2, width=16, updates=20, eval_every=10, probe_every=10,
                     eval_size=100, probe_size=30, jacobian_examples=0, tensorboard=True),
                out=tmp_path / "run", progress=False).run
    stored = RunDir.open(run.path).probes
    assert stored.updates == [0, 1, 2, 5, 10, 20]
    assert stored.values_at(ACTIVATION_MAX_ABS, 20).keys() == {"layer 1", "layer 2"}
    assert {h["layer"] for h in stored.histograms_at(20) if h["quantity"] == ABS_ACTIVATION_HIST} == {"layer 1",
                                                                                                     "layer 2"}

    report = write_run_report(run.path)
    page = read_report(report.path)
    assert "More statistics" in page.headings
    text = report.path.read_text()
    assert ACTIVATION_MAX_ABS in text and ABS_ACTIVATION_HIST in text
    assert (report.path.parent / "more.png").is_file() and (report.path.parent / "more_histograms.png").is_file()

    events = accumulator.EventAccumulator(str(run.tensorboard_dir), size_guidance={"scalars": 0, "histograms": 0})
    events.Reload()
    assert [e.step for e in events.Scalars(f"{ACTIVATION_MAX_ABS}/layer 2")] == stored.updates
    assert [e.step for e in events.Histograms(f"{ABS_ACTIVATION_HIST}/layer 2")] == [0, 20]


def test_a_registered_quantity_reaches_a_users_own_run(registered, tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    probe = Probe(model, torch.randn(20, 4), torch.randint(0, 3, (20,)), F.cross_entropy).log_to(tmp_path / "mine")
    probe.measure(0)
    probe.finish()
    assert RunDir.open(tmp_path / "mine").probes.values_at(ACTIVATION_MAX_ABS, 0).keys() == {"0"}
