"""Reads the replica, relying on versions: the writer upserts its version after commit, so reads hit the fresh entry, until it is evicted and a read misses to the lagging replica's old row."""
# expect-fail: strategy_safe_with_replica_lag
# %% edit: strategy
# replace:
#         return (
#             [f"get {layer}" for layer in layers]
#             + ["read primary"]
#             + [f"set_if_newer {layer}" for layer in reversed(layers)]
#         )
# with:
#         return (
#             [f"get {layer}" for layer in layers]
#             + ["read replica"]
#             + [f"set_if_newer {layer}" for layer in reversed(layers)]
#         )
# replace:
#         return ["write primary", "commit"] + [f"delete {layer}" for layer in reversed(layers)]
# with:
#         return ["write primary", "commit"] + [f"set_if_newer {layer}" for layer in reversed(layers)]
