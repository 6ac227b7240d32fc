"""``python -m scheduler.standins.x``: run the stand-in X API in the foreground."""

import sys

from scheduler.standins.x import main

sys.exit(main())
