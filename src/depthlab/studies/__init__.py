"""The studies, one package each, found through one registry: ``depthlab reproduce NAME``
runs ``STUDIES.get(NAME)`` with :func:`depthlab.studies.study.reproduce`.

A study is added by one package that declares its :class:`~depthlab.studies.study.Study`
in its ``__init__`` and one entry in the list below.
"""

from depthlab.registry import Registry
from depthlab.studies import d2l_mlp, fc_training, glorot2010, init_statistics, nielsen, trainable_depth
from depthlab.studies.study import Study, reproduce

STUDIES: Registry[Study] = Registry("study", [glorot2010.STUDY, nielsen.STUDY, init_statistics.STUDY, d2l_mlp.STUDY,
                                           fc_training.STUDY, trainable_depth.STUDY])

__all__ = ["STUDIES", "Study", "reproduce"]
