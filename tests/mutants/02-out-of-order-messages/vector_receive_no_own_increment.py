"""receive() merges the sender's vector but does not count the receive itself: the receive's
vector equals the merged one, one short on the node's own entry."""
# expect-fail: vector_clock_orders_causal_events
# %% edit: vector_clock
# replace:
#             self.counts[n] = max(self.counts.get(n, 0), c)
#         return self.tick()
# with:
#             self.counts[n] = max(self.counts.get(n, 0), c)
#         return dict(self.counts)  # BUG: a receive is an event: add one to the own entry
