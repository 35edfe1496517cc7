"""The missing numbers of a gap go to the DLQ from the highest down: the DLQ is not in increasing
order when a gap is more than one number wide."""
# expect-fail: reorder_buffer_gap_timeout_to_dlq
# %% edit: reorder_buffer
# replace:
#             while self._next < first:
#                 self.dlq.append(self._next)
#                 self._next += 1
# with:
#             self.dlq.extend(reversed(range(self._next, first)))  # BUG: increasing order
#             self._next = first
