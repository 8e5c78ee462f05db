"""The run store: a run directory, wholly (its files, typed reading, probe measures) and
the queries studies and reports ask of stored runs."""

from depthlab.store.probes import ProbeLog
from depthlab.store.queries import (
           RunState,
           best_by_validation,
           final_test_error,
           run_problem,
           run_state,
           usable_runs,
)
from depthlab.store.run import Network, RunDir, Status

__all__ = ["Network", "ProbeLog", "RunDir", "RunState", "Status", "best_by_validation", "final_test_error",
           "run_problem", "run_state", "usable_runs"]
