"""depthlab: why is a deep network hard to train, and what fixes it?

Train deep feedforward networks as Glorot & Bengio (2010) did, look inside them layer by
layer while they train, compare with mean-field theory, and reproduce the paper.
"""

__version__ = "0.1.0"
