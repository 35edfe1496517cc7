"""Reads the replica on a miss and caches it: after a write, a lagging replica's old row is served and cached."""
# expect-fail: strategy_safe_with_replica_lag
# %% cell: strategy
class Strategy:
    """Cache-aside for one key: which operations a read and a write perform."""

    def read(self, layers: list[str]) -> list[str]:
        return [f"get {la}" for la in layers] + ["read replica"] + [
            f"set_if_newer {la}" for la in reversed(layers)
        ]

    def write(self, layers: list[str]) -> list[str]:
        return ["write primary", "commit"] + [f"delete {la}" for la in reversed(layers)]
