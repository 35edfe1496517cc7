"""Writes the example's predicate instead of q.fixed: WHERE status = 'pending' for every partial
index, which the planner cannot use for 'refunded', 'on_hold' or flagged."""
# expect-fail: partial_index_for_fixed_predicate
# %% edit: index_for
# replace:
#     where = f" WHERE {q.fixed}" if q.fixed else ""
# with:
#     where = " WHERE status = 'pending'" if q.fixed else ""
