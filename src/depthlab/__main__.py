"""``python -m depthlab`` runs the ``depthlab`` command."""

import sys

from depthlab.cli import main

sys.exit(main())
