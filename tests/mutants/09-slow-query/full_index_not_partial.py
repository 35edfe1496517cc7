"""No partial index: indexes the fixed predicate's column with the others instead of WHERE-ing it,
so the index carries every row although the query only ever wants the rare pending ones."""
# expect-fail: partial_index_for_fixed_predicate
# %% cell: index_for
def index_for(q: sq.SlowQuery) -> str:
    """A CREATE INDEX statement that lets PostgreSQL answer q with an index scan."""
    cols = [f"({c})" if "(" in c else c for c in q.equal]
    if q.range is not None:
        cols.append(q.range)
    if q.fixed is not None:
        cols.insert(0, q.fixed.split("=")[0].strip())
    return f"CREATE INDEX ON {q.table} ({', '.join(cols)})"
