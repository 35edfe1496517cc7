"""stale_moments ignores deletes: once set, the cache is treated as present forever, so writes after a delete count as stale."""
# expect-fail: stale_moments_cache_aside
# expect-fail: stale_moments_transactions_and_replicas
# %% edit: stale_moments
# replace:
#     """Indexes of the steps right after which the cache is stale and right before which it was not.
#
#     Stale: the cache holds a value, and it differs from the DB's committed value.
#     """
# with:
#
# replace:
#     pending: dict[str, int | None] = {}  # open transactions: actor -> uncommitted value
# with:
#     pending: dict[str, int | None] = {}
# replace:
#             cache = None
# with:
#             pass  # the bug: the delete is not modelled
