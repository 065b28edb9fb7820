"""The pure core of the store monitor: no I/O, no frameworks.

Everything here computes; reading and writing happen in ``adapters`` behind the
ports of ``domain.ports``.
"""
