"""The ports that read input files: the folder reader, read positions, polls as text, fingerprints."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from domain.model.ingestion import (
    START,
    BatchCounts,
    FileSummary,
    Fingerprint,
    ParsedInput,
    ReadPosition,
    ResumePoint,
    StatusBatch,
)
from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.model.upload_runs import FileFingerprint, FolderFingerprints


class InputReader(ABC):
    """Reads and validates a data folder of the three CSV files."""

    @abstractmethod
    def read(self, folder: Path) -> ParsedInput:
        """Raises ``InvalidInputError`` for a missing folder, status file or column."""

    # A reader that streams overrides the methods below; these read the whole folder.

    def status_batches(self, folder: Path, resume: ResumePoint | None = None) -> Iterator[StatusBatch]:
        """The folder's ``store_status.csv`` a batch at a time, from ``resume`` (else its first row) on.

        Raises ``InvalidInputError`` at once (before any batch) for a missing
        folder, file or column.
        """
        parsed = self.read(folder)
        counts = BatchCounts(parsed.polls_summary.rows, parsed.polls_summary.duplicates,
                             parsed.polls_summary.rejected, parsed.polls_summary.errors)
        return iter([StatusBatch(parsed.polls, counts, START)])

    def hours(self, folder: Path) -> tuple[BusinessHours, FileSummary] | None:
        """The distinct valid rows of its ``menu_hours.csv`` (as large as the fleet, not its history); None without one."""
        parsed = self.read(folder)
        return parsed.hours, parsed.hours_summary

    def timezones(self, folder: Path) -> tuple[StoreTimezones, FileSummary] | None:
        """Each store's first valid timezone in its ``timezone.csv``; None without one."""
        parsed = self.read(folder)
        return parsed.timezones, parsed.timezones_summary

    def fingerprint(self, folder: Path, name: str, length: int | None = None) -> Fingerprint | None:
        """The size and a checksum of the file's first ``length`` bytes (all of them when None);
        None when the file is absent, shorter, or (as here) not fingerprinted: it is then read whole."""
        return None


class ReadPositions(ABC):
    """Where each source file was read up to, so that the next ingestion reads only what was appended."""

    @abstractmethod
    def get(self, source: str) -> ReadPosition | None: ...

    @abstractmethod
    def put(self, position: ReadPosition) -> None:
        """Remember ``position`` for its source (replacing the one before)."""


# A poll as a poller sends it: store id, status and UTC timestamp, as text.
PollText = tuple[str, str, str]


class PollRowReader(ABC):
    """Validates polls given as text, by exactly the rules of a ``store_status.csv`` row."""

    @abstractmethod
    def read(self, rows: Sequence[PollText]) -> tuple[StatusPolls, FileSummary]:
        """The valid, distinct polls and the counts; a rejected row's ``line`` is its position in ``rows``, from 1."""


class FileFingerprinter(ABC):
    """Fingerprints the input files of a folder."""

    @abstractmethod
    def fingerprints(self, folder: Path) -> FolderFingerprints:
        """The input files present in ``folder`` (none if it does not exist), each with its SHA-256."""


class FingerprintStore(ABC):
    """The fingerprints of each folder's files at its last successful ingestion."""

    @abstractmethod
    def load(self, location: str) -> tuple[FileFingerprint, ...]:
        """The recorded fingerprints of the folder at ``location``, by name; none if never recorded."""

    @abstractmethod
    def replace(self, location: str, fingerprints: Iterable[FileFingerprint]) -> None:
        """Make ``fingerprints`` the whole record of the folder at ``location``."""
