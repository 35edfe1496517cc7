"""Leak detector compares ages the wrong way round: connections borrowed just now count as leaks of any age and old ones are missed."""
# expect-fail: pool_leak_detection_names_borrower
# %% edit: connection_pool
# replace:
#                 if now - since >= older_than
# with:
#                 if now - since <= older_than
