"""Returns a tuple: the right indexes, but not the plain list the instructions ask for."""
# expect-fail: stale_moments_cache_aside
# expect-fail: stale_moments_transactions_and_replicas
# %% edit: stale_moments
# replace:
#     return moments
# with:
#     return tuple(moments)
