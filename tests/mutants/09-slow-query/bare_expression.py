"""Writes an expression without its own parentheses: PostgreSQL takes a bare function call
(lower(email)) as an index column, but not another expression such as
(created_at AT TIME ZONE 'UTC')::date, which is then a syntax error."""
# expect-fail: index_turns_seq_scan_into_index_scan
# %% edit: index_for
# replace:
#     cols = [c if c.isidentifier() else f"({c})" for c in q.equal]
# with:
#     cols = [f"({c})" if c.isidentifier() else c for c in q.equal]
