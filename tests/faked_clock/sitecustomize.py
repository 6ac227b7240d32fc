"""The faked wall clock of tests/faked_clock.sh: every Python process of a test run (pytest, its xdist workers, the
CLI and `scheduler serve` subprocesses it starts) reads the wall clock as real time plus FAKED_CLOCK_OFFSET
seconds, ticking at the real rate. One offset for all processes, so they agree with each other as real processes
on one machine do. The monotonic clock stays real, so every sleep, timeout and wait keeps its length.

Python finds this module as ``sitecustomize`` when this folder is on PYTHONPATH; without the variable it does
nothing. The variable's name starts with neither SCHEDULER_ nor X_: the tests' CLI helpers pass the environment on
to their subprocesses without those.
"""

import os
import time

if os.environ.get("FAKED_CLOCK_OFFSET"):
    import time_machine

    time_machine.travel(time.time() + float(os.environ["FAKED_CLOCK_OFFSET"]), tick=True).start()
