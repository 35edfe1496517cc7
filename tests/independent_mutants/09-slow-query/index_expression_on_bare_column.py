"""Indexes the bare column inside an expression (email for lower(email)): the planner cannot use it for WHERE lower(email) = ..., so the expression query keeps its sequential scan ("an index on the compared column or expression")."""
# expect-fail: index_turns_seq_scan_into_index_scan
# %% cell: index_for
def index_for(q: sq.SlowQuery) -> str:
    """A CREATE INDEX statement that lets PostgreSQL answer q with an index scan."""
    import re

    bare = [re.sub(r"^\w+\((\w+)\)$", r"\1", e) for e in q.equal]  # lower(email) -> email
    columns = bare + ([q.range] if q.range else [])
    statement = f"CREATE INDEX ON {q.table} ({', '.join(columns)})"
    if q.fixed:
        statement += f" WHERE {q.fixed}"
    return statement
