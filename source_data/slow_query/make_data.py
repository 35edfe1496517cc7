"""Create and fill the chapter 09 shop (customers, orders, ex_orders) in a PostgreSQL database.

Synthetic and seeded: PostgreSQL's ``setseed`` drives ``random()`` inside one ``generate_series``
insert per table, so the same seed and sizes give the same rows. The SQL lives in
``gotchalab.slowquery.load_shop`` (the chapter and the graders call it too); this script is the
command-line way to (re)generate the data in any database.

    python source_data/slow_query/make_data.py                  # an embedded throwaway server
    python source_data/slow_query/make_data.py postgresql://USER@HOST:PORT/DB --seed 9
"""

from __future__ import annotations

import argparse

from gotchalab.slowquery import SHOP_CUSTOMERS, SHOP_ORDERS, SHOP_SEED, load_shop


def main() -> None:
    """Parse the arguments, load the shop, print what was made and how long it took."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dsn", nargs="?", help="libpq URL; default: a throwaway embedded server")
    ap.add_argument("--seed", type=int, default=SHOP_SEED)
    ap.add_argument("--orders", type=int, default=SHOP_ORDERS)
    ap.add_argument("--customers", type=int, default=SHOP_CUSTOMERS)
    ap.add_argument("--force", action="store_true", help="reload even if the same data is there")
    args = ap.parse_args()
    from gotchalab.services import postgres

    with postgres(args.dsn) as pg:
        info = load_shop(
            pg, seed=args.seed, orders=args.orders, customers=args.customers, force=args.force
        )
        rows = {
            t: pg.query(f"SELECT count(*) FROM {t}")[0][0]
            for t in ("customers", "orders", "ex_orders")
        }
    print(f"{'loaded' if info['loaded'] else 'already there'} in {info['seconds']:.2f} s: {rows}")


if __name__ == "__main__":
    main()
