"""Receive without max: on receive the clock only ticks, ignoring the timestamp on the message."""
# expect-fail: lamport_receive_takes_max
# expect-fail: lamport_respects_happens_before
# %% edit: lamport_clock
# replace:
#         """A message stamped `ts` arrives: jump past both clocks and return the receive's time."""
#         self.time = max(self.time, ts) + 1
#         return self.time
# with:
#         return self.tick()  # BUG: the sender's clock never pulls this one forward
