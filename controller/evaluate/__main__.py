"""``python -m controller.evaluate ARGS`` = ``treadguard evaluate ARGS``."""

import sys

from controller.evaluate.cli import main

sys.exit(main())
