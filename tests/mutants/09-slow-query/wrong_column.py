"""Index on the wrong column: always indexes created_at ("reports sort by date"), whatever the
query filters on, so the planner keeps its sequential scan."""
# expect-fail: index_turns_seq_scan_into_index_scan
# expect-fail: composite_index_column_order
# expect-fail: partial_index_for_fixed_predicate
# %% cell: index_for
def index_for(q: sq.SlowQuery) -> str:
    """A CREATE INDEX statement that lets PostgreSQL answer q with an index scan."""
    return f"CREATE INDEX ON {q.table} (created_at)"
