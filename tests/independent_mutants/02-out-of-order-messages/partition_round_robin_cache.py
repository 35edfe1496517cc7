"""Assigns partitions round-robin in the order keys are first seen and remembers them: same key, same partition and a perfect spread within one process, but another process (or a restart) that sees keys in a different order disagrees, so it does not "depend only on the key's text and n"."""
# expect-fail: partition_stable_across_processes
# %% cell: partition_function
import hashlib  # noqa: F401  (available if you want it)
import zlib


_assigned: dict[tuple[str, int], int] = {}
_counter: dict[int, int] = {}


def partition_for(key: str, n: int) -> int:
    """The partition of `key` among `n`: depends only on the key's text and n."""
    if (key, n) not in _assigned:
        _assigned[(key, n)] = _counter.get(n, 0) % n  # perfectly even spread
        _counter[n] = _counter.get(n, 0) + 1
    return _assigned[(key, n)]
