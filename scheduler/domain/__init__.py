"""The domain: plain values, errors, the post lifecycle, the calendar and the planner. No I/O."""
