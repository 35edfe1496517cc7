"""offer() applies the gap timeout before adding its own message: a message that arrives exactly
at the timeout is dead-lettered instead of filling its gap."""
# expect-fail: reorder_buffer_gap_timeout_to_dlq
# %% edit: reorder_buffer
# replace:
#         if seq >= self._next and seq not in self._waiting:
#             self._waiting[seq] = (msg, now)
#         return self.tick(now)
# with:
#         out = self.tick(now)  # BUG: the arriving message must be added first
#         if seq >= self._next and seq not in self._waiting:
#             self._waiting[seq] = (msg, now)
#         return out + self.tick(now)
