"""tick() adds two: still strictly increasing and consistent with causality, but not the value
the spec states (previous time + 1)."""
# expect-fail: lamport_local_tick
# %% edit: lamport_clock
# replace:
#         self.time += 1
# with:
#         self.time += 2  # BUG: an event adds exactly one
