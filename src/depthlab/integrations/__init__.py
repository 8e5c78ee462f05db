"""Probing where users train: callbacks for PyTorch Lightning
(:mod:`depthlab.integrations.lightning`) and Hugging Face transformers
(:mod:`depthlab.integrations.transformers`), both on depthlab's probe schedule
(:mod:`depthlab.integrations.scheduled`). Each imports its framework when imported."""
