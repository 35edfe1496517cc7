"""A copy of a waiting message overwrites it, arrival time included: every duplicate restarts the
wait, so a gap behind a duplicated message is given up on too late."""
# expect-fail: reorder_buffer_gap_timeout_to_dlq
# %% edit: reorder_buffer
# replace:
#         if seq >= self._next and seq not in self._waiting:
# with:
#         if seq >= self._next:  # BUG: a duplicate restarts the wait of the message it copies
