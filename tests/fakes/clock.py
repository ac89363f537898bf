"""The one test clock: every tier's `Clock`, set and moved by the test."""

from __future__ import annotations

START = 1_700_000_000


class FakeClock:
    """A clock that moves when told to; seconds and milliseconds always agree.

    With `tick_ms`, each millisecond reading also moves it on by that much, so that requests
    made one after another through a real app are ordered, as on a real clock. Without it (the
    unit tier) readings never move it, so a test can predict every timestamp.
    """

    def __init__(self, now: int = START, *, tick_ms: int = 0) -> None:
        self.current_ms = now * 1000
        self.tick_ms = tick_ms

    def now(self) -> int:
        return self.current_ms // 1000

    def now_ms(self) -> int:
        self.current_ms += self.tick_ms
        return self.current_ms

    def set(self, seconds: int) -> None:
        self.current_ms = seconds * 1000

    def advance(self, seconds: float) -> None:
        self.current_ms += int(seconds * 1000)

    def advance_ms(self, milliseconds: int) -> None:
        self.current_ms += milliseconds
