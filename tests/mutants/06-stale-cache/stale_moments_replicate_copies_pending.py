"""replicate copies a write still inside a transaction, not only the committed value."""
# expect-fail: stale_moments_transactions_and_replicas
# %% edit: stale_moments
# replace:
#             replica = db
# with:
#             uncommitted = [v for v in pending.values() if v is not None]
#             replica = uncommitted[-1] if uncommitted else db
