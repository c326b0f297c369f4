"""Rendered plan bodies, kept per process so that reading a plan costs no rendering.

A body depends on the plan's rows, its client's id, the language and the catalog. Plans
change only through :mod:`health_advisor.plans.service`, and every change moves the
plan's ``updated_at`` (workflow transitions through the column's ``onupdate``, item
edits explicitly), so the key (plan id, ``updated_at``, status, client id, language,
catalog version) names one rendering and a changed plan is never answered from here.
Bounded (least recently used first out) and thread-safe: routes run in a thread pool.

The API keeps the JSON bytes, not the response models: bytes are one object the garbage
collector does not track, where a plan's models were some 130 tracked objects that every
young collection of a busy server traversed again (passes of 70-90 ms, each stalling
every request in the worker; see ``health_advisor_gc_pause_seconds`` in ``/metrics``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["RenderCache"]

T = TypeVar("T")


class RenderCache(Generic[T]):
    """At most ``size`` renderings by key; :meth:`get` renders on a miss."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable, render: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
        value = render()  # outside the lock: a slow render does not hold up other reads
        with self._lock:
            self.misses += 1
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def values(self) -> list[T]:
        """The renderings held now (a copy)."""
        with self._lock:
            return list(self._items.values())

    def __len__(self) -> int:
        return len(self._items)
