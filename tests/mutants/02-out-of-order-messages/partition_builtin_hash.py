"""Partition via the built-in hash(): stable inside one process, but str hashes are salted per
process (PYTHONHASHSEED), so two producers send the same key to different partitions."""
# expect-fail: partition_stable_across_processes
# %% edit: partition_function
# replace:
# import hashlib  # noqa: F401  (available if you want it)
# import zlib
# with:
#
# replace:
#     """The partition of `key` among `n`: depends only on the key's text and n."""
#     if n < 1:
#         raise ValueError(f"n must be >= 1, got {n!r}")
#     # crc32 of the UTF-8 bytes is fixed by the standard, unlike the salted built-in hash().
#     return zlib.crc32(key.encode("utf-8")) % n
# with:
#     return hash(key) % n  # BUG: hash(str) changes from one process to the next
