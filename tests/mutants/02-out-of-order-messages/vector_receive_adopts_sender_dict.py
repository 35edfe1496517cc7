"""receive() merges into the sender's dict and adopts it as its own: the message's timestamp,
which belongs to the sender, is changed by the receiver."""
# expect-fail: vector_clock_orders_causal_events
# %% edit: vector_clock
# replace:
#         for n, c in ts.items():
#             self.counts[n] = max(self.counts.get(n, 0), c)
#         return self.tick()
# with:
#         for n, c in self.counts.items():
#             ts[n] = max(ts.get(n, 0), c)
#         self.counts = ts  # BUG: the sender's dict becomes this clock's state
#         return self.tick()
