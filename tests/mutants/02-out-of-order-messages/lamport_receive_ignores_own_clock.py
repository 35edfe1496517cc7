"""receive() jumps to the sender's timestamp + 1, forgetting its own clock: when the receiver is
ahead of the sender its clock goes backwards."""
# expect-fail: lamport_receive_takes_max
# %% edit: lamport_clock
# replace:
#         self.time = max(self.time, ts) + 1
# with:
#         self.time = ts + 1  # BUG: max(own, ts) + 1
