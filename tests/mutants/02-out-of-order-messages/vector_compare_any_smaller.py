"""compare() says "before" as soon as one entry of a is smaller than b's: incomparable vectors
(one entry smaller, another larger) come out "before" instead of "concurrent"."""
# expect-fail: vector_clock_detects_concurrency
# %% edit: vector_clock
# replace:
#     a_le_b = all(a.get(n, 0) <= b.get(n, 0) for n in nodes)
# with:
#     a_le_b = any(a.get(n, 0) < b.get(n, 0) for n in nodes) or a == b  # BUG: all, not any
