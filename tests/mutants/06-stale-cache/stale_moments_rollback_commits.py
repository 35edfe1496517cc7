"""Rollback treated as commit: the rolled-back write becomes the DB's committed value."""
# expect-fail: stale_moments_transactions_and_replicas
# %% edit: stale_moments
# replace:
#             pending.pop(actor)
# with:
#             value = pending.pop(actor)
#             if value is not None:
#                 db = value
