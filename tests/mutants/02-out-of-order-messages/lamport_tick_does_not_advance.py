"""A local event reads the clock without advancing it: two events on one node share a time."""
# expect-fail: lamport_local_tick
# expect-fail: lamport_respects_happens_before
# %% edit: lamport_clock
# replace:
#         """A local event: advance the clock and return the event's time."""
# with:
#         return self.time  # BUG: a local event must advance the clock
#
#     def send(self) -> int:
# replace:
#     def send(self) -> int:
#         """A send event: advance the clock and return the timestamp to put on the message."""
#         return self.tick()
# with:
#
