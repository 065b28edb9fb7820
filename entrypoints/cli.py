"""The ``store-monitor`` command.

    store-monitor ingest DATA_DIR [--json] [--if-changed]
    store-monitor report --out FILE [--from-csv DATA_DIR] [--as-of INSTANT]
    store-monitor trend [--days N] --out FILE [--from-csv DATA_DIR] [--as-of INSTANT]
    store-monitor serve [--host H] [--port P] [--no-worker]
    store-monitor worker [--concurrency N]
    store-monitor create-db
    store-monitor db upgrade
    store-monitor purge-reports
    store-monitor purge-polls

A user mistake (a missing folder or column, a bad database URL) prints one
line on stderr and exits with status 2; it never shows a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO

from dependency_injector import providers

from adapters.csv.repositories import CsvDataFolder
from adapters.files import write_atomically
from adapters.sqlalchemy.database import require_existing
from domain.model.clock import MICROS_PER_DAY, parse_instant, to_micros
from domain.model.errors import UptimeError
from domain.model.ingestion import FileSummary, IngestSummary
from domain.model.trend import DEFAULT_TREND_DAYS, MAX_TREND_DAYS, MIN_TREND_DAYS
from domain.model.uptime import WEEK
from entrypoints.cli_maintenance import check_schema, db_upgrade, purge_polls, purge_reports, upgrade_schema_at
from entrypoints.container import Container, make_container
from entrypoints.metrics_dir import prepare_multiprocess_dir
from entrypoints.settings import Settings, load_settings, revealed

EXIT_USER_ERROR = 2
# The commands that read or write the database whatever STORAGE_BACKEND says (unless --from-csv).
_SQL_COMMANDS = frozenset({"ingest", "create-db", "purge-polls", "report", "trend"})


class TerminalProgress:
    """Shows the current step of a long run on one rewritten terminal line."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._enabled = stream.isatty()

    def __call__(self, step: str, done: int, total: int) -> None:
        if not self._enabled:
            return
        end = "\n" if done >= total else ""
        self._stream.write(f"\r\x1b[K[{done}/{total}] {step}{end}")
        self._stream.flush()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="store-monitor",
        description="Uptime and downtime of stores during their business hours.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="load a data folder's CSV files into the database")
    ingest.add_argument("data_dir", type=Path, help="folder with store_status.csv, menu_hours.csv, timezone.csv")
    ingest.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    ingest.add_argument(
        "--if-changed",
        action="store_true",
        help="ingest only if a file changed since the folder's last --if-changed ingestion "
        "(what the periodic INGEST_WATCH_DIR task does)",
    )
    ingest.add_argument(
        "--full",
        action="store_true",
        help="read every file whole (by default a status file is read from where its last ingestion ended, "
        "and unchanged hours and timezone files are not read again)",
    )

    report = commands.add_parser("report", help="write the uptime report CSV")
    report.add_argument("--out", type=Path, required=True, help="where to write the report ('-' for stdout)")
    report.add_argument(
        "--from-csv",
        type=Path,
        metavar="DATA_DIR",
        help="compute straight from a data folder, without any database",
    )
    report.add_argument(
        "--as-of",
        metavar="INSTANT",
        help="the report as of an ISO 8601 instant with its offset (2023-01-25T12:00:00Z): "
        "now is the latest poll at or before it, later polls are left out",
    )

    trend = commands.add_parser(
        "trend", help="write each store's business time, uptime and downtime for each of the last N days (CSV)"
    )
    trend.add_argument(
        "--days",
        type=_days,
        default=DEFAULT_TREND_DAYS,
        metavar="N",
        help=f"24-hour days back from now, {MIN_TREND_DAYS} to {MAX_TREND_DAYS} (default {DEFAULT_TREND_DAYS})",
    )
    trend.add_argument("--out", type=Path, required=True, help="where to write the CSV ('-' for stdout)")
    trend.add_argument(
        "--from-csv",
        type=Path,
        metavar="DATA_DIR",
        help="compute straight from a data folder, without any database",
    )
    trend.add_argument(
        "--as-of",
        metavar="INSTANT",
        help="as of an ISO 8601 instant with its offset (2023-01-25T12:00:00Z): "
        "now is the latest poll at or before it, later polls are left out",
    )

    serve = commands.add_parser("serve", help="run the HTTP API (and, on the embedded broker, a worker)")
    serve.add_argument("--host", default=None, help="address to listen on (env HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (env PORT, default 8000)")
    serve.add_argument("--processes", type=int, default=2, help="API processes (default 2)")
    serve.add_argument("--threads", type=int, default=4, help="threads per API process (default 4)")
    worker_choice = serve.add_mutually_exclusive_group()
    worker_choice.add_argument(
        "--worker", dest="with_worker", action="store_true", default=None, help="start a worker beside the API"
    )
    worker_choice.add_argument(
        "--no-worker", dest="with_worker", action="store_false", help="do not start a worker beside the API"
    )
    serve.add_argument("--worker-concurrency", type=int, default=2, help="processes of that worker (default 2)")

    worker = commands.add_parser("worker", help="run a Celery worker for report tasks")
    worker.add_argument("--concurrency", type=int, default=None, help="worker processes (default: one per CPU)")
    worker.add_argument("--loglevel", default="INFO")
    worker.add_argument(
        "--beat", action="store_true", help="also send the periodic tasks (run it on one worker only)"
    )

    commands.add_parser(
        "create-db",
        help="create the database and its tables, empty (ingest does it too; for data that only comes over HTTP)",
    )
    database = commands.add_parser("db", help="the database's schema")
    database_commands = database.add_subparsers(dest="db_command", required=True)
    database_commands.add_parser(
        "upgrade",
        help="upgrade the schema in place to this release's revision (a database of an earlier release),"
        " and print the revisions from and to",
    )
    commands.add_parser(
        "purge-reports",
        help="delete the reports finished more than REPORT_RETENTION_DAYS days ago (what the hourly task does)",
    )
    commands.add_parser(
        "purge-polls",
        help="delete the polls more than POLL_RETENTION_DAYS days older than the latest, but each store's latest"
        " of them (what the hourly task does)",
    )
    return parser


def _summary_text(summary: IngestSummary) -> str:
    lines = [f"{'file':<18}{'rows':>10}{'new':>10}{'already_stored':>16}{'duplicates':>12}{'rejected':>10}"]
    files: list[tuple[str, FileSummary]] = [
        ("store_status.csv", summary.store_status),
        ("menu_hours.csv", summary.menu_hours),
        ("timezone.csv", summary.timezone),
    ]
    for name, counts in files:
        lines.append(
            f"{name:<18}{counts.rows:>10}{counts.new:>10}{counts.already_stored:>16}"
            f"{counts.duplicates:>12}{counts.rejected:>10}"
        )
    for name, counts in files:
        if counts.rejected:
            listed = len(counts.errors)
            more = f" (first {listed} listed)" if listed < counts.rejected else ""
            lines.append(f"rejected rows of {name}{more}:")
            lines.extend(f"  line {error.line}: {error.reason}" for error in counts.errors)
    return "\n".join(lines)


def _ingest(container: Container, data_dir: Path, as_json: bool, if_changed: bool = False, full: bool = False) -> int:
    progress = TerminalProgress(sys.stderr)
    if if_changed:
        changed = container.watched_folder_ingestion().ingest_if_changed(data_dir, progress)
        if changed is None:
            message = f"{data_dir}: no file changed since its last ingestion; skipped"
            print(json.dumps({"skipped": message}) if as_json else message)
            return 0
        summary = changed
    else:
        summary = container.ingest_service().ingest(data_dir, progress, full=full)
    if as_json:
        print(json.dumps(summary.to_dict()))
    else:
        print(_summary_text(summary))
    return 0


def _as_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_instant(text)
    except ValueError as error:
        raise UptimeError(f"--as-of {text!r} {error}") from None


def _days(text: str) -> int:
    """The ``--days`` option: a whole number of days a trend can span."""
    if not (text.isascii() and text.isdigit()) or not MIN_TREND_DAYS <= int(text) <= MAX_TREND_DAYS:
        raise argparse.ArgumentTypeError(f"must be a whole number from {MIN_TREND_DAYS} to {MAX_TREND_DAYS}, not {text!r}")
    return int(text)


def _report(container: Container, out: Path, as_of: datetime | None = None) -> int:
    progress = TerminalProgress(sys.stderr)
    progress("computing the report", 0, 1)
    # In parts of REPORT_CHUNK_SIZE stores, written as they come: memory holds one part.
    pieces = container.report_service().csv_pieces(as_of, container.config.report_chunk_size.as_int()())
    _write(out, pieces, "the report")
    progress("done", 1, 1)
    return 0


def _trend(container: Container, out: Path, days: int, as_of: datetime | None = None) -> int:
    progress = TerminalProgress(sys.stderr)
    progress("computing the trend", 0, 1)
    # In parts of REPORT_CHUNK_SIZE stores, as the report: memory holds one part.
    pieces = container.report_service().trend_pieces(days, as_of, container.config.report_chunk_size.as_int()())
    _write(out, pieces, "the trend")
    progress("done", 1, 1)
    return 0


def _read_folder(container: Container, folder: Path, as_of: datetime | None, days: int | None) -> None:
    """Make the CSV folder leave out the polls after ``as_of``, and keep those of a trend's ``days`` back."""
    until = None if as_of is None else to_micros(as_of)
    span = WEEK if days is None else max(WEEK, days * MICROS_PER_DAY)
    container.csv_folder.override(providers.Singleton(CsvDataFolder, folder, container.reader, until, span))


def _write(out: Path, pieces: Iterator[str], what: str) -> None:
    """Write ``pieces`` to ``out`` as they come (``-``: standard output); a file appears whole or not at all."""
    if str(out) == "-":
        sys.stdout.writelines(pieces)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(out, lambda file: file.writelines(piece.encode("utf-8") for piece in pieces))
    except OSError as error:
        raise UptimeError(f"cannot write {what} to {out}: {error.strerror or error}") from error


def _serve(arguments: argparse.Namespace, settings: Settings) -> int:
    from entrypoints.server import serve

    embedded = not revealed(settings.celery_broker_url)
    with_worker = embedded if arguments.with_worker is None else arguments.with_worker
    serve(
        settings,
        host=arguments.host or settings.host,
        port=arguments.port or settings.port,
        processes=arguments.processes,
        threads=arguments.threads,
        with_worker=with_worker,
        worker_concurrency=arguments.worker_concurrency,
    )
    return 0


def _worker(arguments: argparse.Namespace) -> int:
    from entrypoints.worker import run_worker

    run_worker(concurrency=arguments.concurrency, loglevel=arguments.loglevel, beat=arguments.beat)
    return 0


def _command_settings(arguments: argparse.Namespace, settings: Settings) -> Settings:
    """The settings a command runs with: the report and trend of --from-csv read that folder alone."""
    if getattr(arguments, "from_csv", None) is not None:
        return settings.replaced(storage_backend="csv", csv_dir=arguments.from_csv)
    if arguments.command in _SQL_COMMANDS:
        return settings.replaced(storage_backend="sql")
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    container: Container | None = None
    try:
        settings = load_settings()
        if arguments.command in ("serve", "worker"):
            # Before prometheus_client is imported: its processes share their figures there.
            prepare_multiprocess_dir(settings.prometheus_multiproc_dir)
        container = make_container(_command_settings(arguments, settings))
        container.logs.init()
        return _run(arguments, settings, container)
    except UptimeError as error:
        print(f"store-monitor: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130
    finally:
        if container is not None:
            container.shutdown_resources()


def _run(arguments: argparse.Namespace, settings: Settings, container: Container) -> int:
    from_csv: Path | None = getattr(arguments, "from_csv", None)
    if arguments.command not in ("ingest", "create-db") and from_csv is None:
        # Only an ingestion creates a SQLite database; anything else on a missing one is a mistake.
        database_url = container.database_url()
        require_existing(database_url)
        if arguments.command == "db":
            return db_upgrade(database_url)
        # Only an ingestion, create-db or db upgrade changes the schema: the service refuses
        # to start on one of another release (a database without tables gets this one's).
        check_schema(database_url)
    if arguments.command == "serve":
        return _serve(arguments, settings)
    if arguments.command == "worker":
        return _worker(arguments)
    if arguments.command == "ingest":
        upgrade_schema_at(container.database_url())
        return _ingest(container, arguments.data_dir, arguments.json, arguments.if_changed, arguments.full)
    if arguments.command == "create-db":
        # Makes the file and the tables, or upgrades those of an earlier release.
        upgrade_schema_at(container.database_url())
        container.engine()
        print("the database is ready")
        return 0
    if arguments.command == "purge-reports":
        return purge_reports(container)
    if arguments.command == "purge-polls":
        return purge_polls(container)
    as_of = _as_of(arguments.as_of)
    trend_days: int | None = arguments.days if arguments.command == "trend" else None
    if from_csv is not None:
        if not from_csv.is_dir():
            raise UptimeError(f"data folder not found: {from_csv}")
        _read_folder(container, from_csv, as_of, trend_days)
    if trend_days is not None:
        return _trend(container, arguments.out, trend_days, as_of)
    return _report(container, arguments.out, as_of)


if __name__ == "__main__":
    sys.exit(main())
