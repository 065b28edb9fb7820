"""The data's ports: the versioned repositories of polls, hours and timezones, and a report's inputs."""

from __future__ import annotations

from abc import ABC, abstractmethod

import attrs

from domain.model.errors import UptimeError
from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones


class RepositoryError(UptimeError):
    """Stored data could not be read or written (bad URL, database down...)."""


@attrs.frozen
class StoreRange:
    """Stores whose id lies in ``[first, last]``, in plain string order."""

    first: str
    last: str

    def __contains__(self, store_id: object) -> bool:
        return isinstance(store_id, str) and self.first <= store_id <= self.last


# The version of rows that were there before any ingestion: the fixed state
# of the read-only CSV backend, and in-memory repositories filled when built.
# A database has none; its snapshot is 0 until an ingestion completes.
INITIAL_VERSION = 0


class IngestionLog(ABC):
    """The numbered ingestions, and so the snapshots that reports read.

    Every ingestion gets a version, greater than any before it. Each row it
    stores carries that version; each hours or timezone row it replaces is not
    deleted but retired with that version. Snapshot ``S`` sees exactly the
    rows added at or before ``S`` and not retired at or before ``S``, so a
    report that reads snapshot ``S`` in every part sees one state of the data,
    whatever is ingested meanwhile.

    An ingestion's rows become visible all at once, when it completes: a
    report is only ever given a complete version, and ingestions take turns
    (``begin`` waits while another one runs), so every row newer than the
    latest complete version belongs to the one running, or to one that never
    completed (it failed, or its process died). The next ``begin`` discards
    the rows of the latter, and puts back what they retired, before it hands
    out a version: their rows are never visible, however many transactions
    they were written in.
    """

    @abstractmethod
    def begin(self) -> int:
        """Start an ingestion and return its version, once it is this ingestion's turn."""

    @abstractmethod
    def complete(self, version: int) -> None:
        """Make the ingestion's rows visible and end its turn.

        ``RepositoryError`` if it is no longer running (another ingestion
        took its turn and discarded it): nothing of it becomes visible.
        """

    @abstractmethod
    def abandon(self, version: int) -> None:
        """End, without completing it, an ingestion that failed; its rows stay invisible.

        Never raises: the next ``begin`` discards what it stored.
        """

    @abstractmethod
    def latest_complete(self) -> int:
        """The latest complete version: the snapshot of a report planned now."""


class StatusRepository(ABC):
    """Status polls; a poll keeps the version of the ingestion that first stored it."""

    @abstractmethod
    def add(self, polls: StatusPolls, *, version: int) -> int:
        """Store, for ingestion ``version``, the polls whose ``(store, instant)`` is not stored yet; return how many.

        A poll already stored keeps its status and its first version.
        """

    @abstractmethod
    def latest_timestamp(self, *, snapshot: int, until_us: int | None = None) -> int | None:
        """The greatest poll instant (UTC microseconds) at ``snapshot``, at or before ``until_us`` if given.

        None if there is none.
        """

    @abstractmethod
    def store_ids(self, *, snapshot: int) -> list[str]:
        """Ids of the stores with at least one poll at ``snapshot``, sorted."""

    @abstractmethod
    def polls_since(self, start_us: int, stores: StoreRange | None = None, *, snapshot: int) -> StatusPolls:
        """Every poll at ``snapshot`` at or after ``start_us``, plus each store's latest poll before it."""

    @abstractmethod
    def stored_by(self, polls: StatusPolls, *, version: int) -> int:
        """How many of ``polls`` (by store and instant) are stored with ``version``.

        After ``add``, those beyond the ones it added repeat a poll that an
        earlier batch of the same ingestion stored: duplicates within its file.
        """

    @abstractmethod
    def purge_before(self, cutoff_us: int) -> int:
        """Delete the polls before ``cutoff_us`` but each store's latest one; return how many went.

        A report at an instant ``now`` reads the polls from ``earliest_poll_needed(now)``
        on and each store's latest before that, so it is unchanged while that
        instant is at or after ``cutoff_us``. Run in an ingestion's turn.
        """


class BusinessHoursRepository(ABC):
    @abstractmethod
    def replace(self, hours: BusinessHours, *, version: int) -> int:
        """Make ``hours`` the whole set of rows of every store it lists, from ingestion ``version`` on.

        The rows it drops are retired with ``version``, so earlier snapshots
        still see them. Returns how many of its rows were not stored before
        for their store.
        """

    @abstractmethod
    def hours(self, stores: StoreRange | None = None, *, snapshot: int) -> BusinessHours:
        """The rows at ``snapshot`` (of the stores in range)."""


class TimezoneRepository(ABC):
    @abstractmethod
    def replace(self, timezones: StoreTimezones, *, version: int) -> int:
        """Set the timezone of every store listed from ingestion ``version`` on; return how many changed.

        A zone it changes is retired with ``version``, so earlier snapshots still see it.
        """

    @abstractmethod
    def timezones(self, stores: StoreRange | None = None, *, snapshot: int) -> StoreTimezones:
        """The timezones at ``snapshot`` (of the stores in range)."""


@attrs.frozen
class ReportInputs:
    """What one report (or part of one) is computed from."""

    polls: StatusPolls
    hours: BusinessHours
    timezones: StoreTimezones


class ReportInputSource(ABC):
    """Reads a report's inputs, all of one snapshot of the data."""

    @abstractmethod
    def read(self, start_us: int, stores: StoreRange | None = None, *, snapshot: int) -> ReportInputs:
        """``polls_since(start_us, stores)``, the hours and the timezones of those stores, at ``snapshot``."""
