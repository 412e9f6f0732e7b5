"""The desk's market clock in replay mode: the as-of date steps through history.

Replaying moves the config's ``data.end`` (the as-of date) session by session, so prices,
betas, VaR and every alert are recomputed exactly as they would have read on that close, from
the data up to it and nothing after it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

from hedgedesk.core.config import DeskConfig
from hedgedesk.core.errors import DataError

if TYPE_CHECKING:  # the desk imports this before its first paint; pandas comes later
    from hedgedesk.core.data.market import MarketData

SPEEDS = (1.0, 2.0, 5.0, 10.0, 20.0)  # sessions per second
DEFAULT_LOOKBACK = 252  # a replay starts this many sessions before the last close


def at(cfg: DeskConfig, day: dt.date) -> DeskConfig:
    """The config with its as-of date (``data.end``) moved to ``day``."""
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, end=day))


@dataclasses.dataclass
class ReplayClock:
    """Sessions to replay (the benchmark's closes) and where the replay stands."""

    sessions: tuple[dt.date, ...]
    index: int = 0
    speed: float = SPEEDS[0]

    @classmethod
    def for_desk(
        cls, cfg: DeskConfig, market: MarketData, lookback: int = DEFAULT_LOOKBACK
    ) -> ReplayClock:
        """The benchmark's sessions within the config's range; the replay starts ``lookback``
        sessions before the last one (or at the first, when the history is shorter).
        """
        bench = market.get(cfg.data.benchmark)
        days = bench.dates
        if cfg.data.start:
            days = days[days >= np.datetime64(cfg.data.start)]
        if cfg.data.end:
            days = days[days <= np.datetime64(cfg.data.end)]
        if len(days) < 2:
            raise DataError(cfg.data.benchmark, "fewer than two sessions to replay")
        sessions = tuple(d.astype(dt.date) for d in days)
        return cls(sessions, max(0, len(sessions) - 1 - lookback))

    @property
    def day(self) -> dt.date:
        """The as-of date the replay stands at."""
        return self.sessions[self.index]

    @property
    def at_end(self) -> bool:
        """Whether the replay stands at the last session."""
        return self.index == len(self.sessions) - 1

    def step(self, sessions: int = 1) -> dt.date:
        """Move by ``sessions`` (negative: back), staying within the history."""
        self.index = min(max(self.index + sessions, 0), len(self.sessions) - 1)
        return self.day

    def faster(self) -> float:
        """Step up to the next speed in ``SPEEDS`` (sessions per second); returns it."""
        self.speed = next((s for s in SPEEDS if s > self.speed), SPEEDS[-1])
        return self.speed

    def slower(self) -> float:
        """Step down to the previous speed in ``SPEEDS`` (sessions per second); returns it."""
        self.speed = next((s for s in reversed(SPEEDS) if s < self.speed), SPEEDS[0])
        return self.speed
