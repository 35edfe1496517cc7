"""The partition comes from one byte of an MD5 digest: only 256 values, so with more than 256
partitions most partitions are never used."""
# expect-fail: partition_in_range_and_spread
# %% edit: partition_function
# replace:
#     return zlib.crc32(key.encode("utf-8")) % n
# with:
#     return hashlib.md5(key.encode("utf-8")).digest()[0] % n  # BUG: 256 values only
