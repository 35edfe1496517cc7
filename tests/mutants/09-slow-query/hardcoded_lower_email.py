"""Indexes lower(email) for any expression: upper(sku) and lower(coupon) keep their sequential
scan."""
# expect-fail: index_turns_seq_scan_into_index_scan
# %% edit: index_for
# replace:
#     cols = [f"({c})" if "(" in c else c for c in q.equal]
# with:
#     cols = ["(lower(email))" if "(" in c else c for c in q.equal]
