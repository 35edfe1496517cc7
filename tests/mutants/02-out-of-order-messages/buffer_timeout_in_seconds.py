"""gap_timeout read as seconds while the times are milliseconds: the buffer waits a thousand
times too long before giving up on a gap."""
# expect-fail: reorder_buffer_gap_timeout_to_dlq
# %% edit: reorder_buffer
# replace:
#             if not any(now - t >= self.gap_timeout for _, t in self._waiting.values()):
# with:
#             if not any(now - t >= self.gap_timeout * 1000 for _, t in self._waiting.values()):
