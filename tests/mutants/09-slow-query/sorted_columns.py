"""Sorts the index columns by name ("a canonical order"): the range column can land before an
equality column (amount before courier_id, channel before created_at before store_id)."""
# expect-fail: composite_index_column_order
# %% edit: index_for
# replace:
#     where = f" WHERE {q.fixed}" if q.fixed else ""
# with:
#     cols.sort()
#     where = f" WHERE {q.fixed}" if q.fixed else ""
