"""Test doubles for the ports that have no in-memory adapter of their own."""

from __future__ import annotations

from domain.ports import QueueUnavailable, ReportQueue


class RecordingQueue(ReportQueue):
    """Keeps every report id it is given, as a broker that answers would; or refuses them all."""

    def __init__(self, refuse: bool = False) -> None:
        self.submitted: list[str] = []
        self.refuse = refuse

    def submit(self, report_id: str) -> None:
        if self.refuse:
            raise QueueUnavailable("connection refused")
        self.submitted.append(report_id)

    def ping(self) -> None:
        return None
