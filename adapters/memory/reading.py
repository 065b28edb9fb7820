"""In-memory records of what was read: each watched folder's fingerprints, and
how far each source file was ingested."""

from __future__ import annotations

from collections.abc import Iterable

from domain.model.ingestion import ReadPosition
from domain.model.upload_runs import FileFingerprint
from domain.ports.reading import FingerprintStore, ReadPositions


class InMemoryFingerprintStore(FingerprintStore):
    """Each folder's recorded fingerprints."""

    def __init__(self) -> None:
        self.folders: dict[str, tuple[FileFingerprint, ...]] = {}

    def load(self, location: str) -> tuple[FileFingerprint, ...]:
        return self.folders.get(location, ())

    def replace(self, location: str, fingerprints: Iterable[FileFingerprint]) -> None:
        self.folders[location] = tuple(sorted(fingerprints, key=lambda fingerprint: fingerprint.name))


class InMemoryReadPositions(ReadPositions):
    """How far each source file was ingested, in a dict."""

    def __init__(self) -> None:
        self.positions: dict[str, ReadPosition] = {}

    def get(self, source: str) -> ReadPosition | None:
        return self.positions.get(source)

    def put(self, position: ReadPosition) -> None:
        self.positions[position.source] = position
