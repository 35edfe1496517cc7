"""The partition is the sum of the key's character codes modulo n: stable and in range, but
similar keys have similar sums, so with many partitions most of them stay empty."""
# expect-fail: partition_in_range_and_spread
# %% edit: partition_function
# replace:
#     return zlib.crc32(key.encode("utf-8")) % n
# with:
#     return sum(key.encode("utf-8")) % n  # BUG: a sum is not a well-mixed hash
