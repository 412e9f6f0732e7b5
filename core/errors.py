"""Errors the user can act on. Each message names where the problem is and what was expected."""

from __future__ import annotations


class HedgedeskError(Exception):
    """Base class: bad input or a request the data cannot satisfy (CLI exit code 2)."""


class DataError(HedgedeskError):
    """A market-data file, series or request is invalid.

    ``where`` is a file path, optionally with a line (``prices.csv:14``), or a series name.
    """

    def __init__(self, where: str, problem: str, line: int | None = None):
        self.where = where
        self.line = line
        self.problem = problem
        loc = f"{where}:{line}" if line is not None else where
        super().__init__(f"{loc}: {problem}")


class ConfigError(HedgedeskError):
    """An invalid configuration value: names the file, the key, the value and what was expected."""

    def __init__(self, file: str, key: str, problem: str):
        self.file = file
        self.key = key
        self.problem = problem
        super().__init__(f"{file}: {key}: {problem}")
