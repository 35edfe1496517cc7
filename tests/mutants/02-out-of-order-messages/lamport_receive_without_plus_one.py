"""Receive takes the max but does not add one: the receive event ties with the send (or with the
node's previous event), so the clock neither advances nor orders the receive after its send."""
# expect-fail: lamport_local_tick
# expect-fail: lamport_receive_takes_max
# expect-fail: lamport_respects_happens_before
# %% edit: lamport_clock
# replace:
#         """A message stamped `ts` arrives: jump past both clocks and return the receive's time."""
#         self.time = max(self.time, ts) + 1
# with:
#         self.time = max(self.time, ts)  # BUG: a receive is an event too; it must add one
