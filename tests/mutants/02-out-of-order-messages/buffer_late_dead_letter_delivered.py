"""Only the first late copy of a dead-lettered message is dropped: the buffer forgets what it
gave up on, so a second copy of a dead-lettered number is delivered."""
# expect-fail: reorder_buffer_drops_duplicates
# %% edit: reorder_buffer
# replace:
#         if seq >= self._next and seq not in self._waiting:
#             self._waiting[seq] = (msg, now)
#         return self.tick(now)
# with:
#         if seq in self.dlq and seq not in getattr(self, "_late", set()):
#             self._late = getattr(self, "_late", set()) | {seq}
#             return []
#         if seq in self.dlq:
#             return [msg]  # BUG: a copy of a dead-lettered number is dropped too
#         if seq >= self._next and seq not in self._waiting:
#             self._waiting[seq] = (msg, now)
#         return self.tick(now)
