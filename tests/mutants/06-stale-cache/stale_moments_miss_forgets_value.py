"""read_cache on an empty cache makes the actor hold nothing, so its later set_cache empties the cache."""
# expect-fail: stale_moments_cache_aside
# expect-fail: stale_moments_transactions_and_replicas
# %% edit: stale_moments
# replace:
#             if cache is not None:
#                 holds[actor] = cache
# with:
#             holds[actor] = cache
