"""A small thread-safe least-recently-used cache, for the core's per-process caches of large objects.

`functools.lru_cache` cannot forget chosen entries, and it would either hold one lock while a value
is made (one slow dataset load blocking every other) or make the same value twice at once.
"""

import collections
import threading


class BoundedCache:
    """At most `maxsize` values; the least recently used goes first.

    `get_or_create(key, factory)` makes each missing value once, even when threads ask for it at
    the same time, and makes values of different keys in parallel.
    """

    def __init__(self, maxsize):
        if not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"maxsize must be a positive integer, got {maxsize!r}.")
        self.maxsize = maxsize
        self._values = collections.OrderedDict()  # least recently used first
        self._making = {}  # key -> Event set once the thread making its value is done
        self._lock = threading.Lock()

    def get_or_create(self, key, factory):
        """The value of `key`, made by `factory()` if it is not cached. Errors of `factory` propagate
        and nothing is cached; the next call tries again."""
        while True:
            with self._lock:
                if key in self._values:
                    self._values.move_to_end(key)
                    return self._values[key]
                done = self._making.get(key)
                if done is None:
                    done = self._making[key] = threading.Event()
                    break  # this thread makes it
            done.wait()  # another thread is making it: take its value, or try again if it failed
        try:
            value = factory()
            self._put(key, value)
            return value
        finally:
            with self._lock:
                del self._making[key]
            done.set()

    def _put(self, key, value):
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self.maxsize:
                self._values.popitem(last=False)

    def forget(self, match=None):
        """Drop every entry whose key satisfies `match(key)`, or all entries when `match` is None."""
        with self._lock:
            for key in [k for k in self._values if match is None or match(k)]:
                del self._values[key]

    def keys(self):
        """The cached keys, least recently used first."""
        with self._lock:
            return list(self._values)

    def __contains__(self, key):
        with self._lock:
            return key in self._values

    def __len__(self):
        with self._lock:
            return len(self._values)
