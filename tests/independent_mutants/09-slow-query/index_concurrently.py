"""Builds the index with CREATE INDEX CONCURRENTLY (as production advice says); the notebook says "no CONCURRENTLY: the checker builds it in a transaction it rolls back", where it fails."""
# expect-fail: index_turns_seq_scan_into_index_scan
# expect-fail: composite_index_column_order
# expect-fail: partial_index_for_fixed_predicate
# %% cell: index_for
def index_for(q: sq.SlowQuery) -> str:
    """A CREATE INDEX statement that lets PostgreSQL answer q with an index scan."""
    columns = list(q.equal) + ([q.range] if q.range else [])
    statement = f"CREATE INDEX CONCURRENTLY ON {q.table} ({', '.join(columns)})"
    if q.fixed:
        statement += f" WHERE {q.fixed}"
    return statement
