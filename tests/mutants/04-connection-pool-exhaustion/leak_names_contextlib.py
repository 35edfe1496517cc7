"""Leak report names the immediate caller: for `with pool.connection()` that is contextlib, not the borrower."""
# expect-fail: pool_leak_detection_names_borrower
# %% edit: connection_pool
# replace:
#         while frame is not None and frame.f_code.co_filename in skip:
#             frame = frame.f_back
# with:
#         frame = frame.f_back
