"""``python -m eag_augment``: the ``eag-augment`` command."""

import sys

from eag_augment.cli import main

sys.exit(main())
