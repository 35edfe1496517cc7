"""Indexes lower(email) for any expression: upper(sku) and lower(coupon) keep their sequential
scan."""
# expect-fail: index_turns_seq_scan_into_index_scan
# %% edit: index_for
# replace:
#     cols = [c if c.isidentifier() else f"({c})" for c in q.equal]
# with:
#     cols = [c if c.isidentifier() else "(lower(email))" for c in q.equal]
