"""A rolled-back write gives its number back: the next write_db reuses it."""
# expect-fail: stale_moments_transactions_and_replicas
# %% edit: stale_moments
# replace:
#             pending.pop(actor)
# with:
#             if pending.pop(actor) is not None:
#                 fresh -= 1
