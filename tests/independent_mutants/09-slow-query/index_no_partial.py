"""Ignores q.fixed and builds a full index on the compared columns; "a query with a fixed predicate must get a partial index"."""
# expect-fail: partial_index_for_fixed_predicate
# %% cell: index_for
def index_for(q: sq.SlowQuery) -> str:
    """A CREATE INDEX statement that lets PostgreSQL answer q with an index scan."""
    columns = list(q.equal) + ([q.range] if q.range else [])
    statement = f"CREATE INDEX ON {q.table} ({', '.join(columns)})"
    return statement
