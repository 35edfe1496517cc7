"""Index on the wrong column: always indexes created_at ("reports sort by date"), whatever the
query filters on, so the planner keeps its sequential scan."""
# expect-fail: index_turns_seq_scan_into_index_scan
# expect-fail: composite_index_column_order
# expect-fail: partial_index_for_fixed_predicate
# %% edit: index_for
# replace:
#     # An index on an expression needs its own parentheses: CREATE INDEX ON t ((lower(email))).
#     cols = [c if c.isidentifier() else f"({c})" for c in q.equal]
#     # Equality columns first: the range then scans one contiguous slice of the index.
#     if q.range is not None:
#         cols.append(q.range)
#     where = f" WHERE {q.fixed}" if q.fixed else ""
#     return f"CREATE INDEX ON {q.table} ({', '.join(cols)}){where}"
# with:
#     return f"CREATE INDEX ON {q.table} (created_at)"
