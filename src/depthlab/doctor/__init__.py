"""From diagnosis to a verified fix: ``depthlab.doctor(model, data, loss_fn,
optimizer=..., steps=...)`` tries the remedies the diagnosis calls for on copies of the
user's model and data, and shows what each changed (:func:`depthlab.doctor.doctor.doctor`;
this package is callable as that function).

- :mod:`depthlab.doctor.doctor`: probe, trial, diagnose, remedies, verdicts, ranking;
- :mod:`depthlab.doctor.remedies`: each remedy as data, with the PyTorch code to paste;
- :mod:`depthlab.doctor.trial`: the short training trial on replayed batches;
- :mod:`depthlab.doctor.theory`: mean-field theory beside a plain stack;
- :mod:`depthlab.doctor.depth`: the depth-and-width check;
- :mod:`depthlab.doctor.report`: the HTML report.
"""

import sys
import types

from depthlab.doctor.doctor import COST_MARGIN, DoctorResult, RemedyOutcome, doctor
from depthlab.doctor.remedies import REMEDIES, Remedy

__all__ = ["COST_MARGIN", "REMEDIES", "DoctorResult", "Remedy", "RemedyOutcome", "doctor"]


class _Callable(types.ModuleType):
    """``depthlab.doctor(...)`` calls :func:`doctor`, however the package was imported."""

    def __call__(self, *args, **kwargs) -> DoctorResult:
        return doctor(*args, **kwargs)


sys.modules[__name__].__class__ = _Callable
