"""commit makes the value the actor currently holds the committed one, instead of its transaction's last write: after begin, write_db, read_cache, commit (or a commit without a write) the wrong value is committed ("commit: its last write becomes the DB's committed value")."""
# expect-fail: stale_moments_transactions_and_replicas
# %% cell: stale_moments
def stale_moments(schedule: list[tuple[str, str]]) -> list[int]:
    """Indexes of the steps right after which the cache is stale and right before which it was not.

    Stale: the cache holds a value, and it differs from the DB's committed value.
    """
    committed = 0  # the DB's committed value
    replica = 0
    cache = None  # empty
    fresh = 1  # the value the next write_db writes
    holds = {}  # actor -> the last value it read or wrote
    open_tx = {}  # actor -> its uncommitted write in the open transaction (None: no write yet)
    moments = []
    was_stale = False
    for i, (actor, action) in enumerate(schedule):
        if action == "read_cache":
            if cache is not None:
                holds[actor] = cache
        elif action == "read_db":
            if open_tx.get(actor) is not None:
                holds[actor] = open_tx[actor]
            else:
                holds[actor] = committed
        elif action == "read_replica":
            holds[actor] = replica
        elif action == "write_db":
            holds[actor] = fresh
            if actor in open_tx:
                open_tx[actor] = fresh
            else:
                committed = fresh
            fresh += 1
        elif action == "begin":
            open_tx[actor] = None
        elif action == "commit":
            if open_tx.pop(actor, "closed") != "closed" and actor in holds:
                committed = holds[actor]
        elif action == "rollback":
            open_tx.pop(actor, None)
        elif action == "set_cache":
            if actor in holds:
                cache = holds[actor]
        elif action == "delete_cache":
            cache = None
        elif action == "replicate":
            replica = committed
        stale = cache is not None and cache != committed
        if stale and not was_stale:
            moments.append(i)
        was_stale = stale
    return moments
