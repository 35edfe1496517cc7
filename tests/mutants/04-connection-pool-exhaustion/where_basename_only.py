"""leaks() names the borrower as 'pooling.py:42' (basename, no function): not the exact '<co_filename>:<line> in <function>' the instructions ask for."""
# expect-fail: pool_leak_detection_names_borrower
# %% edit: connection_pool
# replace:
#         return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"
# with:
#         return f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno}"
