"""Cache populated before commit: the writer stores its value before committing, so readers see an uncommitted value and a rollback leaves it behind."""
# expect-fail: strategy_safe_basic_race
# expect-fail: strategy_safe_before_commit
# expect-fail: strategy_safe_with_replica_lag
# expect-fail: strategy_safe_with_two_layers
# %% cell: strategy
class Strategy:
    """Cache-aside for one key: which operations a read and a write perform."""

    def read(self, layers: list[str]) -> list[str]:
        return [f"get {la}" for la in layers] + ["read primary"] + [
            f"set_if_newer {la}" for la in reversed(layers)
        ]

    def write(self, layers: list[str]) -> list[str]:
        return ["write primary"] + [f"set_if_newer {la}" for la in reversed(layers)] + ["commit"]
