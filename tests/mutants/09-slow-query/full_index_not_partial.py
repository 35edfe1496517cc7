"""No partial index: indexes the fixed predicate's column with the others instead of WHERE-ing it,
so the index carries every row although the query only ever wants the rare pending ones."""
# expect-fail: partial_index_for_fixed_predicate
# %% edit: index_for
# replace:
#     # An index on an expression needs its own parentheses: CREATE INDEX ON t ((lower(email))).
# with:
#
# replace:
#     # Equality columns first: the range then scans one contiguous slice of the index.
# with:
#
# replace:
#     where = f" WHERE {q.fixed}" if q.fixed else ""
#     return f"CREATE INDEX ON {q.table} ({', '.join(cols)}){where}"
# with:
#     if q.fixed is not None:
#         cols.insert(0, q.fixed.split("=")[0].strip())
#     return f"CREATE INDEX ON {q.table} ({', '.join(cols)})"
