"""SET statement_timeout without committing, on a connection with autocommit off: when the first request is a runaway, its rollback undoes the SET and the second runaway runs for minutes ("the first request may be one of them")."""
# expect-fail: timeout_stops_runaway_keeps_workload
# %% cell: configure_session
def configure_session(conn) -> None:
    """Give this session a statement timeout that lasts for the whole session."""
    conn.execute("SET statement_timeout = '250ms'")
