"""Index on the bare column for an expression: lower(email) = ... cannot use an index on email."""
# expect-fail: index_turns_seq_scan_into_index_scan
# %% edit: index_for
# replace:
#     # An index on an expression needs its own parentheses: CREATE INDEX ON t ((lower(email))).
#     cols = [c if c.isidentifier() else f"({c})" for c in q.equal]
#     # Equality columns first: the range then scans one contiguous slice of the index.
# with:
#     cols = [c.removeprefix("lower(").removesuffix(")") for c in q.equal]
