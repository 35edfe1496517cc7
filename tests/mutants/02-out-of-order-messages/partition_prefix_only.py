"""Only the first eight characters are hashed (to save time): keys that share a long prefix all
land on one partition."""
# expect-fail: partition_in_range_and_spread
# %% edit: partition_function
# replace:
#     return zlib.crc32(key.encode("utf-8")) % n
# with:
#     return zlib.crc32(key[:8].encode("utf-8")) % n  # BUG: hash all of the key
