"""From diagnosis to a verified fix: ``depthlab.doctor(model, data, loss_fn,
optimizer=..., steps=...)`` tries the remedies the diagnosis calls for on copies of the
user's model and data, and shows what each changed (:func:`depthlab.clinic.doctor.doctor`).

- :mod:`depthlab.clinic.doctor`: probe, trial, diagnose, remedies, verdicts, ranking;
- :mod:`depthlab.clinic.remedies`: each remedy as data, with the PyTorch code to paste;
- :mod:`depthlab.clinic.trial`: the short training trial on replayed batches;
- :mod:`depthlab.clinic.theory`: mean-field theory beside a plain stack;
- :mod:`depthlab.clinic.depth`: the depth-and-width check;
- :mod:`depthlab.clinic.report`: the HTML report.
"""

from depthlab.clinic.doctor import COST_MARGIN, DoctorResult, RemedyOutcome, doctor
from depthlab.clinic.remedies import REMEDIES, Remedy

__all__ = ["COST_MARGIN", "REMEDIES", "DoctorResult", "Remedy", "RemedyOutcome", "doctor"]

