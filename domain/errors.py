"""The root of every error the service raises on purpose."""


class UptimeError(Exception):
    """Base class: an expected failure with a message fit for a user."""


class InvalidInputError(UptimeError):
    """Input that cannot be used at all (a missing file or required column)."""
