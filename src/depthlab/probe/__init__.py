"""Probes: per-layer statistics, histograms and Jacobian spectra of any network."""

from depthlab.probe.probe import Probe

__all__ = ["Probe"]
