"""A file's header: where each required column is, what it is called, and where
the rows start (or go on from a resume point)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Sequence
from typing import BinaryIO

import attrs

from adapters.csv.rules import _ASCII_SPACE, _BOM, _SHOWN_CHARS, _SHOWN_HEADER_CHARS, ColumnNames
from domain.model.errors import InvalidInputError, quoted
from domain.model.ingestion import ResumePoint


@attrs.frozen
class Layout:
    """A file's header: the position of each required column (by its first name) among
    ``width`` columns, its name as written, and where the rows start."""

    file_name: str
    width: int
    positions: dict[str, int]
    labels: dict[str, str]
    data: ResumePoint
    # False when the header line has no line break yet: a later read starts over.
    complete: bool
    size: int


def read_layout(file: BinaryIO, file_name: str, columns: Sequence[ColumnNames], size: int) -> Layout:
    """The first line that is not blank, read as the header."""
    begin = len(_BOM) if file.read(len(_BOM)) == _BOM else 0
    file.seek(begin)
    # A header may hold a name of any length.
    csv.field_size_limit(max(csv.field_size_limit(), size))
    text = io.TextIOWrapper(file, encoding="utf-8", errors="surrogateescape", newline="")
    taken: list[str] = []

    def lines() -> Iterator[str]:
        for line in text:
            taken.append(line)
            yield line

    reader = csv.reader(lines())
    header: list[str] = []
    line = 0
    try:
        for row in reader:
            if not is_blank(row):
                header = row
                break
            line = reader.line_num
    except csv.Error as error:
        raise InvalidInputError(f"{file_name}: the header on line {line + 1} cannot be read: {error}") from error
    finally:
        text.detach()
    found = _locate(file_name, header, columns)
    labels = {name: header[i].strip() for name, i in found.items()}
    offset = begin + sum(len(line.encode("utf-8", "surrogateescape")) for line in taken)
    last = taken[-1] if taken else ""
    complete = last.endswith("\n") or (last.endswith("\r") and offset < size)
    return Layout(file_name, len(header), found, labels, ResumePoint(offset, reader.line_num + 1), complete, size)


def rows_start(file: BinaryIO, layout: Layout, resume: ResumePoint | None) -> ResumePoint:
    """Where the read starts: the first row, or ``resume`` after checking that it starts a line."""
    if resume is None or resume.offset <= layout.data.offset:
        return layout.data
    if resume.offset > layout.size:
        raise InvalidInputError(
            f"{layout.file_name} has {layout.size} bytes, fewer than the {resume.offset} read before: "
            "it was replaced or cut"
        )
    if os.pread(file.fileno(), 1, resume.offset - 1) not in (b"\n", b"\r"):
        raise InvalidInputError(
            f"{layout.file_name}: byte {resume.offset} does not start a line; was the file replaced?"
        )
    return resume


def _locate(file_name: str, header: Sequence[str], columns: Sequence[ColumnNames]) -> dict[str, int]:
    """Position of each required column in the header, by its first name."""
    positions: dict[str, int] = {}
    for i, name in enumerate(header):
        positions.setdefault(name.strip().casefold(), i)
    found: dict[str, int] = {}
    missing: list[str] = []
    for names in columns:
        position = next((positions[n.casefold()] for n in names if n.casefold() in positions), None)
        if position is None:
            missing.append(" or ".join(repr(n) for n in names))
        else:
            found[names[0]] = position
    if missing:
        present = _header_names(header) if header else "none: the file has no header row"
        what = "column" if len(missing) == 1 else "columns"
        raise InvalidInputError(
            f"{file_name} has no {what} {', '.join(missing)} (its columns: {present}); nothing was loaded from it"
        )
    return found


def _header_names(header: Sequence[str]) -> str:
    """The header's names for a message: as many as fit in about ``_SHOWN_HEADER_CHARS``."""
    shown: list[str] = []
    length = 0
    for name in header:
        text = quoted(name.strip(), _SHOWN_CHARS)
        if shown and length + len(text) > _SHOWN_HEADER_CHARS:
            shown.append(f"and {len(header) - len(shown)} more")
            break
        shown.append(text)
        length += len(text) + 2
    return ", ".join(shown)


def is_blank(fields: Sequence[str]) -> bool:
    return len(fields) <= 1 and not "".join(fields).strip(_ASCII_SPACE)

