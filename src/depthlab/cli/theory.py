"""``depthlab theory``: mean-field predictions for a deep random network.

Fixed points q* and c*, χ₁, the depth scales ξ_q and ξ_c, the trainable depth 6 ξ_c and
the phase (Poole et al. 2016; Schoenholz et al. 2017), then per layer the predicted
pre-activation variance and back-propagated gradient variance (Glorot & Bengio 2010).
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from depthlab.cli.common import choices
from depthlab.errors import DepthlabError
from depthlab.limits import MAX_DEPTH, check_at_most
from depthlab.nets.activations import ACTIVATIONS
from depthlab.nets.init import INITS
from depthlab.theory import (
    activation_moments,
    chi1,
    classify_phase,
    correlation_fixed_point,
    depth_scales,
    fixed_point,
    init_sigma_w2,
    plot_phase_diagram,
    predict_layers,
)
from depthlab.theory.phase import PLOT_FORMATS


def add_parser(sub) -> None:
    p = sub.add_parser("theory", help="mean-field predictions: fixed points, depth scales, phase, per-layer variances",
                       description="Mean-field theory of a deep random network (Poole et al. 2016; Schoenholz "
                                   "et al. 2017): q*, c*, chi1, depth scales, trainable depth, phase, and per "
                                   "layer the predicted pre-activation and gradient variances.")
    p.add_argument("--activation", default="tanh",
                   help=f"{choices(ACTIVATIONS)} (default tanh)")
    scale = p.add_mutually_exclusive_group()
    scale.add_argument("--sigma-w2", type=float, help="σ_w² = n_in Var[W]")
    scale.add_argument("--init", help=f"the init scheme that sets σ_w², {choices(INITS)} (without --sigma-w2: "
                                      "normalized; lsuv and constant have no fixed σ_w²)")
    p.add_argument("--width", type=int, default=1000, help="width of every layer, for --init (default 1000)")
    p.add_argument("--sigma-b2", type=float, default=0.0, help="bias variance σ_b² (default 0)")
    p.add_argument("--depth", type=int, default=10, help="number of layers in the table (default 10)")
    p.add_argument("--q0", type=float, default=1.0, help="second moment E[x²] of the input (default 1)")
    p.add_argument("--json", action="store_true",
                   help="print JSON instead of text (infinite values, e.g. ξ_c at criticality, as null)")
    p.add_argument("--plot", metavar="FILE", help="also draw the phase diagram (.png, .svg or .pdf)")
    p.set_defaults(run=run)


def predictions(activation: str, sigma_w2: float, sigma_b2: float, depth: int, width: int,
                init: str | None, q0: float) -> dict:
    """Everything the command prints, as a dict (non-finite numbers as None)."""
    def number(x) -> float | None:
        return float(x) if math.isfinite(x) else None

    layers = predict_layers([width] * (depth + 1), activation, init or sigma_w2, sigma_b2, q0)
    chi = float(chi1(activation, sigma_w2, sigma_b2))
    scales = depth_scales(activation, sigma_w2, sigma_b2)
    return {
        "activation": activation, "init": init, "sigma_w2": sigma_w2, "sigma_b2": sigma_b2, "q0": q0,
        "q_star": number(fixed_point(activation, sigma_w2, sigma_b2, q0=layers.q[0])),
        "c_star": number(correlation_fixed_point(activation, sigma_w2, sigma_b2)),
        "chi1": number(chi), "xi_q": number(scales.xi_q), "xi_c": number(scales.xi_c),
        "trainable_depth": number(scales.trainable_depth), "phase": classify_phase(chi),
        "layers": [{"layer": i + 1, "q": number(q), "grad_var_ratio": number(r)}
                   for i, (q, r) in enumerate(zip(layers.q, layers.grad_var_ratio))],
    }


def format_text(report: dict) -> str:
    """The report as an aligned summary and a per-layer table."""
    def show(x) -> str:
        return "inf" if x is None else f"{x:.6g}"

    source = f" (init {report['init']})" if report["init"] else ""
    lines = [f"{report['activation']}: sigma_w2 = {report['sigma_w2']:g}{source}, "
             f"sigma_b2 = {report['sigma_b2']:g}, q0 = {report['q0']:g}"]
    for key in ("q_star", "c_star", "chi1", "xi_q", "xi_c"):
        lines.append(f"{key:<16} {show(report[key])}")
    lines.append(f"{'trainable_depth':<16} {show(report['trainable_depth'])} (6 xi_c)")
    lines.append(f"{'phase':<16} {report['phase']}")
    lines += ["", f"{'layer':>5}  {'q (predicted)':>14}  {'grad var / top':>14}"]
    lines += [f"{row['layer']:>5}  {show(row['q']):>14}  {show(row['grad_var_ratio']):>14}"
              for row in report["layers"]]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    ACTIVATIONS.get(args.activation)
    if args.init:
        INITS.get(args.init)
    if args.plot and not args.plot.lower().endswith(PLOT_FORMATS):
        raise DepthlabError(f"--plot {args.plot}: the file must end in {', '.join(PLOT_FORMATS)}")
    for flag, value, smallest in (("--depth", args.depth, 1), ("--width", args.width, 1)):
        if value < smallest:
            raise DepthlabError(f"{flag} {value} must be at least {smallest}")
    check_at_most("--depth", args.depth, MAX_DEPTH, "layers of the table")
    for flag, value in (("--sigma-w2", args.sigma_w2), ("--sigma-b2", args.sigma_b2), ("--q0", args.q0)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise DepthlabError(f"{flag} {value} must be a finite number >= 0")
    activation_moments(args.activation)
    init = args.init or ("normalized" if args.sigma_w2 is None else None)
    sigma_w2 = args.sigma_w2 if init is None else init_sigma_w2(init, args.width, args.width)
    report = predictions(args.activation, sigma_w2, args.sigma_b2, args.depth, args.width, init, args.q0)
    print(json.dumps(report, indent=2) if args.json else format_text(report))
    if args.plot:
        path = plot_phase_diagram(args.plot, args.activation, point=(sigma_w2, args.sigma_b2))
        print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    return 0
