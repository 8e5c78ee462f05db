"""depthlab: why is a deep network hard to train, and what fixes it?

Train deep feedforward networks as Glorot & Bengio (2010) did, look inside any network
layer by layer while it trains, compare with mean-field theory, and reproduce the
sources' studies. What a user reaches for is here, imported when first used (so that
``import depthlab`` is quick)::

    import depthlab

    result = depthlab.train(dataset="shapeset", depth=5, width=1000, activation="tanh",
                            init="normalized", updates=20_000, out="runs/tanh-N")
    run = depthlab.open_run(result.path)      # config, network, metrics, probes
    report = depthlab.inspect(run)            # report.html, with a diagnosis
    depthlab.reproduce("glorot2010", budget="smoke", out="results/smoke")

- :func:`train`, :func:`resume`: one run into one run directory
  (:mod:`depthlab.training.trainer`); :func:`train_stacked`: runs of one shape trained as
  one stack, each into its own (:mod:`depthlab.training.stacked_runs`);
- :func:`open_run`: a stored run, typed (:class:`depthlab.store.RunDir`);
- :class:`Probe`: per-layer statistics of any PyTorch model (:mod:`depthlab.probe`);
- :func:`inspect`, :func:`diagnose`: a run's report page; the findings in plain words for
  a stored run or for any model (``diagnose(model, inputs, targets, loss_fn)``);
- :func:`doctor`: the remedies a diagnosis calls for, each tried on a copy of a model
  and its data, with what each changed and which to use (:mod:`depthlab.clinic`);
- :func:`reproduce`: a study end to end (the names: ``depthlab.studies.STUDIES``);
- :func:`sweep`: a user's grid file of runs, locally or on Ray (:mod:`depthlab.sweeps`);
- :mod:`theory`: mean-field predictions (:mod:`depthlab.theory`);
- the registries, to look names up or add one's own: :data:`activations`, :data:`inits`,
  :data:`bias_inits`, :data:`costs`, :data:`optimizers`, :data:`datasets`
  (:mod:`depthlab.registry`).
"""

import importlib

from depthlab.threads import choose_wait_policy

choose_wait_policy()  # before torch is imported: OpenMP reads it once (depthlab.threads)

__version__ = "0.1.0"

_EXPORTS = {
    "train": "depthlab.training.trainer:train",
    "resume": "depthlab.training.trainer:resume",
    "train_stacked": "depthlab.training.stacked_runs:train_stacked",
    "open_run": "depthlab.store.run:RunDir.open",
    "Probe": "depthlab.probe.probe:Probe",
    "inspect": "depthlab.report.run_report:write_run_report",
    "diagnose": "depthlab.report.diagnosis:findings_for",
    "doctor": "depthlab.clinic.doctor:doctor",
    "reproduce": "depthlab.studies:reproduce",
    "sweep": "depthlab.sweeps.sweep:sweep",
    "theory": "depthlab.theory:",
    "activations": "depthlab.nets.activations:ACTIVATIONS",
    "inits": "depthlab.nets.init:INITS",
    "bias_inits": "depthlab.nets.init:BIAS_INITS",
    "costs": "depthlab.training.costs:COSTS",
    "optimizers": "depthlab.training.optim:OPTIMIZERS",
    "datasets": "depthlab.data.registry:DATASETS",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    """Import a front-door name at its first use (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'depthlab' has no attribute '{name}'")
    module, _, path = _EXPORTS[name].partition(":")
    value = importlib.import_module(module)
    for attribute in filter(None, path.split(".")):
        value = getattr(value, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
