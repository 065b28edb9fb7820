"""The service's settings: every variable it reads, typed, with its default, checked once.

Each field is read from the environment variable of its name in capitals; an
empty variable takes the default. A process reads ``os.environ`` after
``load_dotenv`` has added what a ``.env`` file sets and the environment does
not (``load_settings``); a test passes a mapping of its own
(``Settings.from_environ``), so nothing else can change it. Every error names
its variable. The secrets (``API_TOKEN`` and the URLs, which may hold a
password) are ``SecretStr``: a repr or a log line shows stars instead.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

from dotenv import find_dotenv, load_dotenv
from pydantic import SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from adapters.upload_storage import DEFAULT_UPLOADS_DIR
from domain.model.errors import UptimeError
from domain.use_cases.ingest_runs import DEFAULT_MAX_UPLOAD_BYTES
from entrypoints.logging_setup import LOG_FORMATS

DEFAULT_DATABASE_URL = "sqlite:///var/store-monitor.db"
DEFAULT_REPORTS_DIR = "var/reports"
DEFAULT_BROKER_DIR = "var/broker"

ReportStorageKind = Literal["filesystem", "database"]
LogFormat = Literal["kv", "json"]

_POSITIVE = (
    "celery_visibility_timeout",
    "report_chunk_size",
    "report_stall_seconds",
    "lease_seconds",
    "watchdog_seconds",
    "ingest_max_bytes",
    "polls_max_items",
    "ingest_every_minutes",
)
# 0 days keeps forever.
_NON_NEGATIVE = ("report_retention_days", "poll_retention_days")
_MAX_PORT = 65535


class ConfigurationError(UptimeError):
    """A setting that cannot work, named with the variable that holds it."""


class EnvironmentSource(PydanticBaseSettingsSource):
    """The variables of ``environ`` named as the fields in capitals; an empty one is left to its default."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        variable = field_name.upper()
        return self._environ.get(variable) or None, variable, False

    def __call__(self) -> dict[str, Any]:
        found = {name: self.get_field_value(field, name)[0] for name, field in self.settings_cls.model_fields.items()}
        return {name: value for name, value in found.items() if value is not None}


class Settings(BaseSettings):
    """Every setting of the service (README, "Configuration"); built by ``from_environ`` or ``load_settings``."""

    # Unknown names are refused: an override with a typo would otherwise do nothing.
    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    database_url: SecretStr = SecretStr(DEFAULT_DATABASE_URL)
    # One of the backends the container selects among (its STORAGE_BACKENDS), checked there.
    storage_backend: str = "sql"
    csv_dir: Path = Path("data")
    report_storage: ReportStorageKind = "filesystem"
    reports_dir: Path = Path(DEFAULT_REPORTS_DIR)
    # Empty: the embedded file broker under broker_dir.
    celery_broker_url: SecretStr = SecretStr("")
    celery_result_backend: SecretStr = SecretStr("")
    celery_visibility_timeout: int = 120
    broker_dir: Path = Path(DEFAULT_BROKER_DIR)
    report_chunk_size: int = 2000
    report_stall_seconds: int = 600
    lease_seconds: int = 15
    watchdog_seconds: int = 5
    report_retention_days: int = 30
    poll_retention_days: int = 0
    uploads_dir: Path = Path(DEFAULT_UPLOADS_DIR)
    ingest_max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    polls_max_items: int = 10000
    # Empty: no folder is watched.
    ingest_watch_dir: str = ""
    ingest_every_minutes: int = 15
    # Empty: the API is open to anyone who reaches it.
    api_token: SecretStr = SecretStr("")
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_format: LogFormat = "kv"
    # None: serve and worker use var/metrics (entrypoints/metrics_dir.py).
    prometheus_multiproc_dir: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment comes in as a mapping (``from_environ``, ``load_settings``), read by
        # ``EnvironmentSource`` alone: neither pydantic's own reader nor its .env reader may add to it.
        return (init_settings,)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None) -> Settings:
        """The settings of ``environ`` (variables), then ``overrides`` (field names).

        ``ConfigurationError`` names every variable whose value cannot work.
        """
        return cls._checked({**EnvironmentSource(cls, environ)(), **(overrides or {})})

    def replaced(self, **changes: Any) -> Settings:
        """These settings with ``changes`` (field names), checked as the environment's are."""
        return self._checked({**self.model_dump(), **changes})

    @classmethod
    def _checked(cls, values: Mapping[str, Any]) -> Settings:
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            # Not chained: pydantic's own message would show the value, and a value may be a secret.
            raise ConfigurationError(_explained(error)) from None

    @field_validator(*_POSITIVE, mode="before")
    @classmethod
    def _positive(cls, value: object, info: ValidationInfo) -> int:
        return _whole_number(value, _variable(info), 1, "a positive whole number")

    @field_validator(*_NON_NEGATIVE, mode="before")
    @classmethod
    def _non_negative(cls, value: object, info: ValidationInfo) -> int:
        return _whole_number(value, _variable(info), 0, "a whole number, 0 or more")

    @field_validator("port", mode="before")
    @classmethod
    def _port(cls, value: object) -> int:
        port = _whole_number(value, "PORT", 0, f"a whole number from 0 to {_MAX_PORT}")
        if port > _MAX_PORT:
            raise ValueError(f"PORT must be a whole number from 0 to {_MAX_PORT}, not {value!r}")
        return port

    @field_validator("report_storage", mode="before")
    @classmethod
    def _choice(cls, value: object, info: ValidationInfo) -> object:
        allowed = get_args(cls.model_fields[str(info.field_name)].annotation)
        return one_of(value, _variable(info), allowed)

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value: object) -> object:
        return one_of(value.lower() if isinstance(value, str) else value, "LOG_FORMAT", LOG_FORMATS)

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: object) -> str:
        level = str(value).upper()
        if not isinstance(logging.getLevelName(level), int):
            raise ValueError(f"LOG_LEVEL must be a logging level such as INFO or DEBUG, not {value!r}")
        return level

    @field_validator("api_token", mode="before")
    @classmethod
    def _token(cls, value: object) -> object:
        token = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        # Sent in a header: printable ASCII only. The message never shows the value: it is a secret.
        if token and not all("!" <= character <= "~" for character in token):
            raise ValueError(
                "API_TOKEN must be printable ASCII without spaces (letters, digits, punctuation); "
                "its value is not shown"
            )
        return value


def load_settings() -> Settings:
    """This process's settings: its environment, completed by a ``.env`` file (a variable already set wins)."""
    # The working directory's .env (or its parents'), wherever the package is installed.
    load_dotenv(find_dotenv(usecwd=True))
    return Settings.from_environ(os.environ)


def revealed(secret: SecretStr | str) -> str:
    """The text of a secret, for the one place that uses it (a test may configure a plain string)."""
    return secret.get_secret_value() if isinstance(secret, SecretStr) else secret


def _variable(info: ValidationInfo) -> str:
    return str(info.field_name).upper()


def _whole_number(value: object, variable: str, minimum: int, wording: str) -> int:
    text = str(value)
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()) or int(text) < minimum:
        raise ValueError(f"{variable} must be {wording}, not {value!r}")
    return int(text)


def one_of(value: object, variable: str, allowed: tuple[Any, ...]) -> object:
    if value not in allowed:
        raise ValueError(f"{variable} must be one of {', '.join(map(str, allowed))}, not {value!r}")
    return value


def _explained(error: ValidationError) -> str:
    """Each problem in one sentence naming its variable, never the value pydantic would show."""
    reasons: list[str] = []
    for problem in error.errors(include_input=False, include_url=False):
        cause = problem.get("ctx", {}).get("error")
        if isinstance(cause, ValueError):
            reasons.append(str(cause))
        else:
            variable = ".".join(str(part) for part in problem["loc"]).upper()
            reasons.append(f"{variable}: {problem['msg']}")
    return "; ".join(reasons)
