"""Versioned tombstones (delete after commit, set_if_newer on a miss) are safe, but the miss reads the lagging replica: a read that starts after a write finished misses and returns the old version ("no old reads")."""
# expect-fail: strategy_safe_with_replica_lag
# %% cell: strategy
class Strategy:
    """Cache-aside for one key: which operations a read and a write perform."""

    def read(self, layers: list[str]) -> list[str]:
        """Operations of one read, e.g. ["get cache", "read primary", "set cache"]."""
        return ([f"get {x}" for x in layers] + ["read replica"]
                + [f"set_if_newer {x}" for x in reversed(layers)])

    def write(self, layers: list[str]) -> list[str]:
        """Operations of one write: one "write primary", later one "commit", and invalidation."""
        return ["write primary", "commit"] + [f"delete {x}" for x in layers]
