"""Off by one: the modulus is n + 1, so some keys land on partition n, which does not exist."""
# expect-fail: partition_in_range_and_spread
# %% cell: partition_function
import zlib


def partition_for(key: str, n: int) -> int:
    return zlib.crc32(key.encode("utf-8")) % (n + 1)  # BUG: range(n + 1) has one too many
