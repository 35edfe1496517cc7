"""Off by one: the modulus is n + 1, so some keys land on partition n, which does not exist."""
# expect-fail: partition_in_range_and_spread
# %% edit: partition_function
# replace:
# import hashlib  # noqa: F401  (available if you want it)
# with:
#
# replace:
#     """The partition of `key` among `n`: depends only on the key's text and n."""
#     if n < 1:
#         raise ValueError(f"n must be >= 1, got {n!r}")
#     # crc32 of the UTF-8 bytes is fixed by the standard, unlike the salted built-in hash().
#     return zlib.crc32(key.encode("utf-8")) % n
# with:
#     return zlib.crc32(key.encode("utf-8")) % (n + 1)  # BUG: range(n + 1) has one too many
