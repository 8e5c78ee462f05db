"""Probes: per-layer statistics, histograms and Jacobian spectra of any network.

:class:`Probe` (which imports torch) is loaded at first use, so that the quantities' name
constants (:mod:`depthlab.probe.quantities`) are read without torch.
"""

__all__ = ["LayerNaming", "Probe"]


def __getattr__(name: str):
    if name in __all__:
        from depthlab.probe import probe

        return getattr(probe, name)
    raise AttributeError(f"module 'depthlab.probe' has no attribute '{name}'")
