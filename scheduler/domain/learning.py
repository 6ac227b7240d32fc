"""The one score by which the scheduler learns from its own results: evergreen's choice of tip and wording, and
``insights suggest-slots``' ranking of slots, all read it.

A choice (a tip, a wording, a weekday and hour) has the engagement rates of the posts that made it. Its score is

    shrunk mean + exploration bonus
    shrunk mean = (sum of its rates + PRIOR_POSTS x prior) / (n + PRIOR_POSTS)
    exploration bonus = EXPLORATION x prior x sqrt(ln(total + 1) / n)

where ``prior`` is the mean rate over every choice (the account's mean), ``n`` the choice's posts and ``total``
every post scored. The shrunk mean keeps one lucky post from outranking a steady record (with one post, a choice
counts for a third of its own rate); the bonus (UCB1's, scaled to the account's rate) shrinks as a choice is
tried, so a choice tried little is tried again. A choice never tried scores infinity: it is tried before any
other. Ties keep the caller's order (for evergreen: the longest-unsent tip, the next wording).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

PRIOR_POSTS = 2.0  # posts' worth of the account's mean rate every choice starts with
EXPLORATION = 0.5  # the bonus's weight, in units of the account's mean rate


@dataclass(frozen=True)
class Score:
    value: float  # what choices are ranked by (infinity: never tried)
    posts: int  # n
    mean: float | None  # the plain mean rate of its posts (None: never tried)
    shrunk: float | None  # the mean pulled toward the prior (what suggest-slots ranks by)
    bonus: float  # the exploration bonus (infinity: never tried)

    def why(self) -> str:
        if self.posts == 0:
            return "never measured: tried before the others"
        return (f"mean engagement {self.mean:.2%} over {self.posts} post{'s' if self.posts != 1 else ''}, "
                f"score {self.value:.2%} (shrunk mean {self.shrunk:.2%} + exploration {self.bonus:.2%})")


def score(rates: Sequence[float], *, prior: float, total: int) -> Score:
    """The score of one choice whose posts earned ``rates``; ``prior`` is the mean over all choices and
    ``total`` the number of posts over all of them."""
    n = len(rates)
    if n == 0:
        return Score(math.inf, 0, None, None, math.inf)
    mean = sum(rates) / n
    shrunk = (sum(rates) + PRIOR_POSTS * prior) / (n + PRIOR_POSTS)
    bonus = EXPLORATION * prior * math.sqrt(math.log(max(total, n) + 1) / n)
    return Score(shrunk + bonus, n, mean, shrunk, bonus)


def prior_of(rates_by_choice: dict[object, Sequence[float]]) -> tuple[float, int]:
    """The prior (mean rate over every post) and the total number of posts, for ``score``."""
    every = [rate for rates in rates_by_choice.values() for rate in rates]
    return (sum(every) / len(every) if every else 0.0), len(every)
