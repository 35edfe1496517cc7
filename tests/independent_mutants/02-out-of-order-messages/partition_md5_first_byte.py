"""Takes only the first byte of the MD5 digest modulo n: with more than 256 partitions the high partitions never get a key, and for n not dividing 256 the low partitions get more, so keys do not "spread evenly over the partitions"."""
# expect-fail: partition_in_range_and_spread
# %% cell: partition_function
import hashlib  # noqa: F401  (available if you want it)
import zlib


def partition_for(key: str, n: int) -> int:
    """The partition of `key` among `n`: depends only on the key's text and n."""
    return hashlib.md5(key.encode("utf-8")).digest()[0] % n
