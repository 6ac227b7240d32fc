"""``python -m scheduler``: the command line (scheduler.entry.main)."""

from scheduler.entry import main

main()
