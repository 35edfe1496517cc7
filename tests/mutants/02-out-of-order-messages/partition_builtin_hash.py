"""Partition via the built-in hash(): stable inside one process, but str hashes are salted per
process (PYTHONHASHSEED), so two producers send the same key to different partitions."""
# expect-fail: partition_stable_across_processes
# %% cell: partition_function
def partition_for(key: str, n: int) -> int:
    return hash(key) % n  # BUG: hash(str) changes from one process to the next
