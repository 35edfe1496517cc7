"""The hash is masked with n - 1, which is a modulo only when n is a power of two: for n = 3 or 7
some partitions never get a key."""
# expect-fail: partition_in_range_and_spread
# %% edit: partition_function
# replace:
#     return zlib.crc32(key.encode("utf-8")) % n
# with:
#     return zlib.crc32(key.encode("utf-8")) & (n - 1)  # BUG: & (n - 1) is % n for 2**k only
