"""The wall clock: the protocol's `Clock` port over the system time."""

from __future__ import annotations

import time


class SystemClock:
    def now(self) -> int:
        return int(time.time())

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000
