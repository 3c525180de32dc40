"""Write the copy of UCI Online Retail that ships with recutils (maintainers only).

    python tools/bundle_online_retail.py SOURCE

SOURCE is any file ``load("online-retail")`` accepts (the official ``Online Retail.xlsx`` or
its zip, or the course's ``online_retail.csv.gz``). The script reads it, checks that it holds
the official rows (:func:`recutils.datasets.online_retail.verify_content`), writes
``recutils/datasets/bundled/online_retail.parquet`` with
:func:`~recutils.datasets.online_retail.write_compact_table`, reads it back, checks that the
table is identical, and prints the SHA-256 to put into ``PARQUET_SHA256``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from recutils.datasets import online_retail as retail
from recutils.files import sha256_of


def read_source(path: Path) -> pd.DataFrame:
    if path.name.endswith(".csv.gz") or path.suffix == ".csv":
        return retail.read_csv_source(path)
    if path.suffix == ".parquet":
        return retail.read_compact_table(path)
    return retail.read_official_source(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="the official xlsx/zip or online_retail.csv.gz")
    parser.add_argument("--output", type=Path, default=retail.BUNDLED_FILE)
    args = parser.parse_args()
    raw = read_source(args.source)
    retail.verify_content(raw, args.source)
    retail.write_compact_table(raw, args.output)
    back = retail.read_compact_table(args.output)
    pd.testing.assert_frame_equal(back, raw)
    print(f"{args.output.name}: {args.output.stat().st_size:,} bytes, {len(back):,} rows")
    print(f'PARQUET_SHA256 = "{sha256_of(args.output)}"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
