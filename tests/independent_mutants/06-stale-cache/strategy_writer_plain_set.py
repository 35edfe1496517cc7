"""Readers use set_if_newer, but the writer overwrites the cache with a plain set after commit: with two writers the slower, older one sets its value last and leaves a stale value ("a version is what lets a cache refuse an old value")."""
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
        return ["write primary", "commit"] + [f"set {x}" for x in layers]
