"""The clock starts at 1 instead of 0: every time is one too large, so a fresh clock's first event
gets 2 (causality still holds, but the values are not the Lamport times the spec states)."""
# expect-fail: lamport_local_tick
# %% edit: lamport_clock
# replace:
#         self.time = 0
# with:
#         self.time = 1  # BUG: the clock starts at 0
