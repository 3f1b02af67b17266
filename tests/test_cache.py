import threading
import time

import pytest

from cifar_core.cache import BoundedCache


def test_evicts_the_least_recently_used_beyond_its_bound():
    cache = BoundedCache(2)
    cache.get_or_create("a", lambda: 1)
    cache.get_or_create("b", lambda: 2)
    assert cache.get_or_create("a", lambda: "made again") == 1  # a is now the most recently used
    cache.get_or_create("c", lambda: 3)
    assert cache.keys() == ["a", "c"] and len(cache) == 2 and "b" not in cache
    assert cache.get_or_create("b", lambda: "made again") == "made again"


def test_makes_each_value_once_for_concurrent_callers_and_other_keys_do_not_wait():
    cache = BoundedCache(4)
    calls, started, release = [], threading.Event(), threading.Event()

    def slow():
        calls.append("slow")
        started.set()
        release.wait(10)
        return "slow value"

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_create("slow", slow)))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    assert started.wait(10)
    begun = time.monotonic()
    assert cache.get_or_create("quick", lambda: "quick value") == "quick value"  # not blocked by "slow"
    assert time.monotonic() - begun < 5  # far below the 10 s the slow value would take
    release.set()
    for thread in threads:
        thread.join(10)
    assert results == ["slow value"] * 3 and calls == ["slow"]


def test_a_failing_factory_caches_nothing():
    cache = BoundedCache(2)

    def fail():
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        cache.get_or_create("k", fail)
    assert "k" not in cache and cache.get_or_create("k", lambda: 5) == 5


def test_forget_some_or_all():
    cache = BoundedCache(3)
    for key in (("x", 1), ("y", 1), ("x", 2)):
        cache.get_or_create(key, lambda: object())
    cache.forget(lambda key: key[0] == "x")
    assert cache.keys() == [("y", 1)]
    cache.forget()
    assert len(cache) == 0


@pytest.mark.parametrize("maxsize", [0, -1, 2.5, None])
def test_maxsize_must_be_positive(maxsize):
    with pytest.raises(ValueError, match="maxsize must be a positive integer"):
        BoundedCache(maxsize)
