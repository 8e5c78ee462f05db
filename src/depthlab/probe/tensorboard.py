"""Probe measures as TensorBoard event files: one scalar per row, tagged "stat/layer",
and one histogram per stored histogram, tagged "quantity/layer".

A histogram is written from its stored edges and counts (``add_histogram_raw``); its
sum and sum of squares, which TensorBoard asks for, are taken at the bin centres.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from depthlab.errors import DepthlabError


class TensorBoardWriter:
    """Writes probe rows and histograms under ``log_dir`` with
    ``torch.utils.tensorboard.SummaryWriter``."""

    def __init__(self, log_dir: str | Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise DepthlabError("TensorBoard logging needs the tensorboard package: "
                                "pip install 'depthlab[tensorboard]'") from None
        self.writer = SummaryWriter(str(log_dir))

    def write(self, rows: Sequence[dict[str, Any]], histograms: Sequence[dict[str, Any]], step: int) -> None:
        """Write one measure at global step ``step`` and flush it to disk."""
        for row in rows:
            self.writer.add_scalar(f"{row['stat']}/{row['layer']}", row["value"], step)
        for h in histograms:
            edges, counts = np.asarray(h["edges"]), np.asarray(h["counts"])
            if counts.sum() == 0:
                continue
            centres = (edges[:-1] + edges[1:]) / 2
            filled = np.flatnonzero(counts)
            self.writer.add_histogram_raw(
                f"{h['quantity']}/{h['layer']}", min=edges[filled[0]], max=edges[filled[-1] + 1],
                num=int(counts.sum()), sum=float(centres @ counts), sum_squares=float(centres ** 2 @ counts),
                bucket_limits=edges[1:].tolist(), bucket_counts=counts.tolist(), global_step=step,
            )
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
