"""receive() takes max + 1 and then ticks as well: the receive event counts twice, so it returns
max(local, ts) + 2 instead of max(local, ts) + 1."""
# expect-fail: lamport_receive_takes_max
# %% edit: lamport_clock
# replace:
#         self.time = max(self.time, ts) + 1
#         return self.time
# with:
#         self.time = max(self.time, ts) + 1
#         return self.tick()  # BUG: the receive is one event, not two
