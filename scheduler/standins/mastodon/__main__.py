"""``python -m scheduler.standins.mastodon``: run the stand-in Mastodon server in the foreground."""

import sys

from scheduler.standins.mastodon import main

sys.exit(main())
