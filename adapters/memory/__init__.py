"""In-memory implementations of every port: for tests, and as the query engine
of the read-only CSV backend. A module per port module of ``domain.ports``:

- ``data``: the versioned repositories of polls, hours and timezones, and the
  ingestion log that numbers their versions;
- ``poll_columns``: polls as numpy columns sorted by ``(store, instant)``, the
  computations the status repository and the CSV backend share;
- ``reading``: the fingerprints of watched folders and the read positions;
- ``reports``: the report runs' registry and their files;
- ``uploads``: the registry of ingestion runs;
- ``work``: the ledger of units of work and the workers' heartbeats.
"""
