"""Polls sent as text (``POST /polls``), validated as rows of a ``store_status.csv``.

One set of rules for both ways in: the rows are written as a CSV file and
read by the same reader as an uploaded or dropped file, so a poll is valid
over HTTP exactly when it would be valid in a file.
"""

from __future__ import annotations

import bisect
import csv
import io
import tempfile
from collections.abc import Sequence
from pathlib import Path

import attrs

from adapters.csv.reader import Clock, CsvInputReader, system_clock
from domain.model.ingestion import STATUS_FILE, FileSummary
from domain.model.inputs import StatusPolls
from domain.ports.reading import PollRowReader, PollText

_HEADER = ("store_id", "status", "timestamp_utc")


class CsvPollRowReader(PollRowReader):
    """Reads polls given as text through the CSV reader; ``clock`` as the reader's."""

    def __init__(self, clock: Clock = system_clock) -> None:
        self._clock = clock

    def read(self, rows: Sequence[PollText]) -> tuple[StatusPolls, FileSummary]:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(_HEADER)
        # The physical line each row starts on: a quoted value may hold line breaks.
        first_lines: list[int] = []
        line = 2
        for row in rows:
            first_lines.append(line)
            before = text.tell()
            writer.writerow(row)
            written = text.getvalue()[before:]
            line += written.count("\n") + written.count("\r") - written.count("\r\n")
        with tempfile.TemporaryDirectory(prefix="store-monitor-polls-") as folder:
            path = Path(folder) / STATUS_FILE
            path.write_text(text.getvalue(), encoding="utf-8", newline="")
            parsed = CsvInputReader(self._clock).read(Path(folder))
        polls, summary = parsed.polls, parsed.polls_summary
        errors = tuple(
            attrs.evolve(error, line=bisect.bisect_right(first_lines, error.line)) for error in summary.errors
        )
        return polls, attrs.evolve(summary, errors=errors)
