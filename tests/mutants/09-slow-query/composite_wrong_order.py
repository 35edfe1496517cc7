"""Composite index in the wrong order: the range column first, then the equality column, so the
scan walks every entry in the range and throws most of them away."""
# expect-fail: composite_index_column_order
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
#         cols.append(q.range)
# with:
#         cols.insert(0, q.range)
