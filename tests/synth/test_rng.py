"""Counter-based draws: a client's numbers do not depend on who is drawn with it."""

from __future__ import annotations

import numpy as np

from health_advisor.synth.rng import KeyedRandom


def test_draws_depend_only_on_keys() -> None:
    rng = KeyedRandom(7)
    everyone = rng.uniform("x", np.arange(100)[:, None], np.arange(5)[None, :])
    some = rng.uniform("x", np.array([42, 3])[:, None], np.arange(5)[None, :])
    np.testing.assert_array_equal(some, everyone[[42, 3]])


def test_streams_and_seeds_differ() -> None:
    keys = np.arange(1000)
    a = KeyedRandom(1).uniform("a", keys)
    assert not np.array_equal(a, KeyedRandom(1).uniform("b", keys))
    assert not np.array_equal(a, KeyedRandom(2).uniform("a", keys))


def test_distributions() -> None:
    rng = KeyedRandom(3)
    u = rng.uniform("u", np.arange(200_000))
    assert u.min() > 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.005
    z = rng.normal("z", np.arange(200_000))
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    picks = rng.choice("c", [1.0, 3.0], np.arange(100_000))
    assert abs(picks.mean() - 0.75) < 0.01
    assert set(np.unique(rng.integers("i", 4, np.arange(1000)))) == {0, 1, 2, 3}
