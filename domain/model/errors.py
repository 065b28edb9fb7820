"""The root of every error the service raises on purpose."""


class UptimeError(Exception):
    """Base class: an expected failure with a message fit for a user."""


class InvalidInputError(UptimeError):
    """Input that cannot be used at all (a missing file or required column)."""


# A message quotes at most about this many characters of any input: a header
# line or a store id may be megabytes long, and messages are stored, logged
# and sent back.
SHOWN_INPUT_CHARS = 200


def clipped(text: str, limit: int = SHOWN_INPUT_CHARS) -> str:
    """``text`` cut to its first ``limit`` characters, saying how many more there were."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def quoted(value: str, limit: int = SHOWN_INPUT_CHARS) -> str:
    """``value`` quoted for a message as ``repr`` quotes it (so control characters show
    as escapes), at most about ``limit`` characters of it, saying how many more there were."""
    kept = min(len(value), limit)
    # Escapes make a repr longer than its text: keep fewer characters until it fits.
    while len(repr(value[:kept])) > limit + 2:
        kept //= 2
    shown = repr(value[:kept])
    if kept == len(value):
        return shown
    return f"{shown}... ({len(value) - kept} more characters)"
