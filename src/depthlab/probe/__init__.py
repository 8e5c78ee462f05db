"""Probes: per-layer statistics, histograms and Jacobian spectra of any network."""

from depthlab.probe.stats import Probe

__all__ = ["Probe"]
