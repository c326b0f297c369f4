"""Login rate limiting: failed attempts per (username, address) and per address.

A sliding window of failure times per key, in this process's memory: cheap, and enough
for the one-process server this is (``health-advisor serve``). The per-account lock-out
that must survive restarts and span processes is in the database (:mod:`.users`). The
per-address key catches password spraying (one password tried against many usernames),
which a per-username counter never sees.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from health_advisor.security.errors import TooManyAttempts

PER_USERNAME = 5  # failures per (username, address) in the window
PER_ADDRESS = 30  # failures per address in the window, whatever the username
WINDOW_S = 300.0
MAX_KEYS = 50_000  # memory bound: the oldest keys are forgotten first


class LoginLimiter:
    """Counts failures; :meth:`check` refuses a key that had too many in the window."""

    def __init__(
        self,
        *,
        per_username: int = PER_USERNAME,
        per_address: int = PER_ADDRESS,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_username = per_username
        self.per_address = per_address
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, username: str, address: str) -> None:
        """Raise :class:`TooManyAttempts` (with the seconds to wait) when over a limit."""
        now = self._clock()
        with self._lock:
            waits = [
                self._wait(key, limit, now)
                for key, limit in (
                    ((username.casefold(), address), self.per_username),
                    (("", address), self.per_address),
                )
            ]
        wait = max(waits)
        if wait > 0:
            raise TooManyAttempts(
                "too many failed sign-ins: try again later", retry_after=math.ceil(wait)
            )

    def failure(self, username: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            for key in ((username.casefold(), address), ("", address)):
                times = self._failures.pop(key, None) or deque()
                times.append(now)
                self._failures[key] = times  # re-inserted: dict order is recency
            while len(self._failures) > MAX_KEYS:
                del self._failures[next(iter(self._failures))]

    def success(self, username: str, address: str) -> None:
        """A successful sign-in clears the username's counter (not the address's)."""
        with self._lock:
            self._failures.pop((username.casefold(), address), None)

    def _wait(self, key: tuple[str, str], limit: int, now: float) -> float:
        times = self._failures.get(key)
        if not times:
            return 0.0
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) < limit:
            return 0.0
        return times[-limit] + self.window_s - now
