"""Writes the example's predicate WHERE status = 'pending' for every query that has a fixed predicate instead of q.fixed; other fixed predicates get a partial index the planner cannot use ("hidden tests add more queries of each shape")."""
# expect-fail: partial_index_for_fixed_predicate
# %% cell: index_for
def index_for(q: sq.SlowQuery) -> str:
    """A CREATE INDEX statement that lets PostgreSQL answer q with an index scan."""
    columns = list(q.equal) + ([q.range] if q.range else [])
    statement = f"CREATE INDEX ON {q.table} ({', '.join(columns)})"
    if q.fixed:
        statement += " WHERE status = 'pending'"
    return statement
