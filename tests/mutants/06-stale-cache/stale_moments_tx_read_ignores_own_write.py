"""read_db inside a transaction returns the committed value, not the actor's own uncommitted write."""
# expect-fail: stale_moments_transactions_and_replicas
# %% edit: stale_moments
# replace:
#             holds[actor] = db if own is None else own
# with:
#             holds[actor] = db
