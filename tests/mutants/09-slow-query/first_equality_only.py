"""Indexes only the first equality column (and the range): a query comparing two columns with =
reads every row of the first one's value."""
# expect-fail: composite_index_column_order
# %% edit: index_for
# replace:
#     cols = [c if c.isidentifier() else f"({c})" for c in q.equal]
# with:
#     cols = [c if c.isidentifier() else f"({c})" for c in q.equal[:1]]
