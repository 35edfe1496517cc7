"""Uses the built-in hash() after setting PYTHONHASHSEED in os.environ, which only affects child processes: str hashes stay salted per process, so other processes disagree ("they must all agree, today and after a restart")."""
# expect-fail: partition_stable_across_processes
# %% cell: partition_function
import hashlib  # noqa: F401  (available if you want it)
import os
import zlib

os.environ["PYTHONHASHSEED"] = "0"  # make hash() deterministic


def partition_for(key: str, n: int) -> int:
    """The partition of `key` among `n`: depends only on the key's text and n."""
    return hash(key) % n
