"""Ingestions of uploaded files and fingerprints of input files, as their stores keep them (``domain.ingest_runs`` runs them)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs

from domain.model.report import ReportStatus


def _str_tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen
class IngestRun:
    """One ingestion of uploaded files, as the registry keeps it.

    ``files`` names the uploaded files; ``summary`` is the ingestion summary
    (``IngestSummary.to_dict()``, the JSON ``store-monitor ingest --json``
    prints) once complete; ``error`` the reason once failed. ``updated_at``
    moves with every step of the ingestion, so a run whose work was lost can
    be told from a slow one.
    """

    ingest_id: str
    # The same three states as a report run.
    status: ReportStatus
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    files: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    summary: dict[str, Any] | None = None
    error: str | None = None
    # Where the files come from, when the upload named it: the files of one
    # source are read from where its last ingestion of them ended.
    source: str | None = None

    @property
    def is_running(self) -> bool:
        return self.status is ReportStatus.RUNNING


@attrs.frozen
class FileFingerprint:
    """What identifies one input file's content: its size and SHA-256 (and when it last changed)."""

    name: str
    size: int
    mtime_ns: int
    sha256: str

    @property
    def content(self) -> tuple[str, int, str]:
        return (self.name, self.size, self.sha256)


def _fingerprint_tuple(values: Iterable[FileFingerprint]) -> tuple[FileFingerprint, ...]:
    return tuple(sorted(values, key=lambda fingerprint: fingerprint.name))


@attrs.frozen
class FolderFingerprints:
    """The input files present in a folder; ``location`` names the folder the same way every time."""

    location: str
    files: tuple[FileFingerprint, ...] = attrs.field(default=(), converter=_fingerprint_tuple)

    def same_content(self, stored: Iterable[FileFingerprint]) -> bool:
        """Whether the same files hold the same bytes as ``stored`` (times aside)."""
        return {f.content for f in self.files} == {f.content for f in stored}
