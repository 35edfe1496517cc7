"""Deletes before writing (the delete has no version yet, so it leaves no tombstone): a reader refills the old value between the delete and the commit, and nothing removes it; set_if_newer on the read does not help."""
# expect-fail: strategy_safe_basic_race
# %% cell: strategy
class Strategy:
    """Cache-aside for one key: which operations a read and a write perform."""

    def read(self, layers: list[str]) -> list[str]:
        """Operations of one read, e.g. ["get cache", "read primary", "set cache"]."""
        return ([f"get {x}" for x in layers] + ["read primary"]
                + [f"set_if_newer {x}" for x in reversed(layers)])

    def write(self, layers: list[str]) -> list[str]:
        """Operations of one write: one "write primary", later one "commit", and invalidation."""
        return [f"delete {x}" for x in layers] + ["write primary", "commit"]
