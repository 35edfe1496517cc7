"""A transaction with two writes commits its first write instead of its last."""
# expect-fail: stale_moments_transactions_and_replicas
# %% edit: stale_moments
# replace:
#             if actor in pending:
#                 pending[actor] = fresh
# with:
#             if actor in pending:
#                 if pending[actor] is None:
#                     pending[actor] = fresh
