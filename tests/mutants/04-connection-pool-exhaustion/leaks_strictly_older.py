"""leaks(older_than) uses > instead of >=: a connection lent for exactly older_than seconds is left out, though the rule is 'at least'."""
# expect-fail: pool_leak_detection_names_borrower
# %% edit: connection_pool
# replace:
#                 if now - since >= older_than
# with:
#                 if now - since > older_than
