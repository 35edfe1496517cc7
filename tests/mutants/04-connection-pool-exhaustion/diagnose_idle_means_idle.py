"""Diagnosis confuses idle with idle in transaction: every state starting with 'idle' is reported as harmless 'idle'."""
# expect-fail: diagnose_pg_stat_activity
# %% edit: diagnose_function
# replace:
#         elif state.startswith("idle in transaction"):
#             out[name] = "idle in transaction"
# with:
#         elif state.startswith("idle"):
#             out[name] = "idle"
