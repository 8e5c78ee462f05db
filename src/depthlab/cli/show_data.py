"""``depthlab show-data``: draw a labelled grid of examples (the paper's Figure 1)."""

from __future__ import annotations

import argparse

from depthlab.cli.common import choices
from depthlab.data.figure import check_grid, draw_grid
from depthlab.data.registry import DATASETS
from depthlab.errors import DepthlabError


def add_parser(sub) -> None:
    p = sub.add_parser("show-data", help="draw a labelled grid of example images",
                       description="Draw a labelled grid of training examples of a data set "
                                   "(Glorot & Bengio 2010, Figure 1 for Shapeset-3x2).")
    p.add_argument("dataset", help=choices(DATASETS))
    p.add_argument("--out", required=True, help="image file to write (.png or .svg)")
    p.add_argument("--rows", type=int, default=4)
    p.add_argument("--cols", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_grid(args.out, args.rows, args.cols)  # before loading any data
    dataset = DATASETS.get(args.dataset).load(args.data_dir)
    if dataset.regression:
        raise DepthlabError(f"{dataset.name} holds real-valued targets, not labelled images: show-data draws the "
                            "image data sets")
    x, y = next(dataset.train_batches(args.rows * args.cols, args.seed))
    names = getattr(dataset, "class_names", None) or [str(i) for i in range(dataset.num_classes)]
    draw_grid(x, y, names, args.out, rows=args.rows, cols=args.cols)
    print(f"wrote {args.out}")
    return 0
