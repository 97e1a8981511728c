"""Benchmark `flytt load` against PostgreSQL COPY of the same rows (issue #3).

    .venv/bin/python -m benchmarks.load --size 1000000

1. Generates (or reuses) a sandbox A2 SQLite database of `--size` correspondences in
   `<data-dir>/bench` (default data dir: `.flytt`).
2. Loads its correspondences and their status events with the real loader (`run_load`, dlt,
   the same settings as `flytt load`) into a fresh warehouse database, and times it.
3. Writes the same rows to CSV (not timed) and times `COPY ... FROM STDIN` of them into plain
   tables on the same server: the ingest ceiling of this machine (elt-practice §2.2).
4. Prints rows/s of both and the ratio loader/COPY. The benchmark database is dropped at the end.

The warehouse is the embedded one in `<data-dir>/pg`, or `FLYTT_WAREHOUSE_DSN`.
"""

from __future__ import annotations

import argparse
import csv
import io
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from flytt.console import out
from flytt.settings import load_settings
from flytt.warehouse import Warehouse, ensure_database, resolve_warehouse
from loaders.contract import LOAD_CONTRACTS, contract_table
from loaders.pipeline import make_pipeline, run_load
from loaders.source import a2_engine
from sandbox.a2.generate import generate_a2

TABLES = ("a2_correspondence", "a2_correspondence_status_event")


def _table_map(path: Path) -> Path:
    lines = [f"{name}:\n  enabled: false\n" for name in LOAD_CONTRACTS if name not in TABLES]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _export_csv(source: sa.Engine, name: str, folder: Path) -> tuple[Path, list[str], int]:
    table = contract_table(name)
    columns = [c.name for c in table.columns]
    path = folder / f"{name}.csv"
    rows = 0
    with source.connect() as conn, path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        result = conn.execution_options(yield_per=50_000).execute(sa.select(table))
        for row in result:
            writer.writerow(["\\N" if v is None else v for v in row])
            rows += 1
    return path, columns, rows


def _copy(warehouse: Warehouse, name: str, path: Path, columns: list[str]) -> float:
    cols = ", ".join(columns)
    with warehouse.engine.begin() as conn:
        conn.execute(sa.text("create schema if not exists bench_copy"))
        conn.execute(sa.text(f"drop table if exists bench_copy.{name}"))
        conn.execute(
            sa.text(
                f"create table bench_copy.{name} as select {cols} from a2_raw.{name} with no data"
            )
        )
        pk = ", ".join(LOAD_CONTRACTS[name].primary_key)
        conn.execute(sa.text(f"alter table bench_copy.{name} add primary key ({pk})"))
    raw = warehouse.engine.raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        with path.open("r", encoding="utf-8") as f:
            cursor.copy_expert(
                f"copy bench_copy.{name} ({cols}) from stdin with (format csv, null '\\N')",
                f,
            )
        raw.commit()
        return time.perf_counter() - started
    finally:
        raw.close()


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="correspondences")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-dir", type=Path, default=None, help="default: FLYTT_DATA_DIR")
    args = parser.parse_args(argv)
    base = load_settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    bench_dir = base.data_dir / "bench"
    bench_dir.mkdir(parents=True, exist_ok=True)
    source_url = f"sqlite:///{(bench_dir / 'a2.sqlite').resolve()}"
    settings = base.model_copy(
        update={
            "a2_source_url": source_url,
            "data_dir": bench_dir,
            "a2_table_map": _table_map(bench_dir / "table_map.yml"),
        }
    )
    generate_a2(settings, size=args.size, seed=args.seed)

    server = resolve_warehouse(base)
    database = f"flytt_bench_{int(time.time())}"
    ensure_database(server, database)
    warehouse = Warehouse(
        server.host, server.port, server.user, server.password, database, server.embedded
    )
    try:
        started = time.perf_counter()
        loaded = run_load(settings, warehouse)
        load_seconds = time.perf_counter() - started
        load_rows = sum(loaded[name] for name in TABLES)
        trace = make_pipeline(settings, warehouse).last_trace
        steps = ", ".join(
            f"{step.step} {(step.finished_at - step.started_at).total_seconds():.1f} s"
            for step in (trace.steps if trace else [])
            if step.finished_at and step.step in ("extract", "normalize", "load")
        )

        source = a2_engine(settings)
        copy_rows, copy_seconds = 0, 0.0
        with tempfile.TemporaryDirectory(dir=bench_dir) as tmp:
            for name in TABLES:
                path, columns, rows = _export_csv(source, name, Path(tmp))
                copy_seconds += _copy(warehouse, name, path, columns)
                copy_rows += rows
        source.dispose()
    finally:
        warehouse.engine.dispose()
        admin = sa.create_engine(server.sqlalchemy_url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{database}" with (force)'))
        admin.dispose()

    load_rate = load_rows / load_seconds
    copy_rate = copy_rows / copy_seconds
    report = io.StringIO()
    report.write(f"size: {args.size} correspondences; tables: {', '.join(TABLES)}\n")
    report.write(
        f"flytt load (dlt): {load_rows} rows in {load_seconds:.1f} s = {load_rate:,.0f} rows/s "
        f"({steps})\n"
    )
    report.write(
        f"PostgreSQL COPY:  {copy_rows} rows in {copy_seconds:.1f} s = {copy_rate:,.0f} rows/s\n"
    )
    report.write(f"ratio flytt load / COPY: {load_rate / copy_rate:.3f}\n")
    out.print(report.getvalue(), end="", soft_wrap=True)


if __name__ == "__main__":
    main()
