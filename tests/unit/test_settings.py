"""The one settings object: every documented variable, its default, its checks, and secrets kept out of sight."""

from __future__ import annotations

import gc
import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from dependency_injector import providers
from pydantic import SecretStr

from entrypoints.container import STORAGE_BACKENDS, Container, build_container, make_container
from entrypoints.logging_setup import logging_resource
from entrypoints.settings import ConfigurationError, Settings, load_settings

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "pa55-w0rd"


def documented_variables() -> set[str]:
    """The variables of the README's configuration table (its first column)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Configuration") : text.index("\n## ", text.index("## Configuration") + 1)]
    names: set[str] = set()
    for row in section.splitlines():
        if row.startswith("| `"):
            names.update(re.findall(r"`([A-Z_]+)`", row.split("|")[1]))
    return names


def test_every_documented_variable_is_a_setting_and_every_setting_is_documented() -> None:
    fields = {name.upper() for name in Settings.model_fields}

    assert documented_variables() == fields


def test_the_defaults_are_those_of_the_readme() -> None:
    settings = Settings.from_environ({})

    assert settings.database_url.get_secret_value() == "sqlite:///var/store-monitor.db"
    assert (settings.storage_backend, settings.csv_dir) == ("sql", Path("data"))
    assert (settings.report_storage, settings.reports_dir) == ("filesystem", Path("var/reports"))
    assert settings.celery_broker_url.get_secret_value() == ""
    assert (settings.celery_visibility_timeout, settings.broker_dir) == (120, Path("var/broker"))
    assert (settings.report_chunk_size, settings.report_stall_seconds) == (2000, 600)
    assert (settings.lease_seconds, settings.watchdog_seconds) == (15, 5)
    assert (settings.report_retention_days, settings.poll_retention_days) == (30, 0)
    assert (settings.uploads_dir, settings.ingest_max_bytes, settings.polls_max_items) == (
        Path("var/uploads"),
        256 * 1024 * 1024,
        10000,
    )
    assert (settings.ingest_watch_dir, settings.ingest_every_minutes) == ("", 15)
    assert settings.api_token.get_secret_value() == ""
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert (settings.log_level, settings.log_format) == ("INFO", "kv")
    assert settings.prometheus_multiproc_dir is None


def test_an_empty_variable_is_its_default_and_only_the_given_mapping_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPORT_CHUNK_SIZE", "7")

    assert Settings.from_environ({"REPORT_CHUNK_SIZE": "", "PORT": ""}).report_chunk_size == 2000
    assert Settings.from_environ({"REPORT_CHUNK_SIZE": "5"}).report_chunk_size == 5


def test_names_are_read_in_capitals_and_log_settings_in_any_case() -> None:
    settings = Settings.from_environ({"report_chunk_size": "5", "LOG_LEVEL": "debug", "LOG_FORMAT": "JSON"})

    assert (settings.report_chunk_size, settings.log_level, settings.log_format) == (2000, "DEBUG", "json")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("REPORT_CHUNK_SIZE", "abc", "REPORT_CHUNK_SIZE must be a positive whole number, not 'abc'"),
        ("LEASE_SECONDS", "0", "LEASE_SECONDS must be a positive whole number, not '0'"),
        ("POLLS_MAX_ITEMS", "1e4", "POLLS_MAX_ITEMS must be a positive whole number, not '1e4'"),
        ("INGEST_EVERY_MINUTES", "²", "INGEST_EVERY_MINUTES must be a positive whole number, not '²'"),
        ("POLL_RETENTION_DAYS", "-1", "POLL_RETENTION_DAYS must be a whole number, 0 or more, not '-1'"),
        ("REPORT_STORAGE", "s3", "REPORT_STORAGE must be one of filesystem, database, not 's3'"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be one of kv, json, not 'xml'"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL must be a logging level such as INFO or DEBUG, not 'LOUD'"),
        ("PORT", "80a", "PORT must be a whole number from 0 to 65535, not '80a'"),
        ("PORT", "65536", "PORT must be a whole number from 0 to 65535, not '65536'"),
    ],
)
def test_a_bad_value_is_one_sentence_naming_its_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_environ({variable: value})

    assert str(raised.value) == message


def test_every_bad_variable_is_named_at_once() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_environ({"REPORT_CHUNK_SIZE": "x", "WATCHDOG_SECONDS": "y"})

    assert "REPORT_CHUNK_SIZE" in str(raised.value) and "WATCHDOG_SECONDS" in str(raised.value)


def test_overrides_are_checked_and_an_unknown_one_is_refused() -> None:
    assert Settings.from_environ({"REPORT_CHUNK_SIZE": "7"}, {"report_chunk_size": "9"}).report_chunk_size == 9
    with pytest.raises(ConfigurationError, match="REPORT_CHUNK_SIZE"):
        Settings.from_environ({}, {"report_chunk_size": 0})
    with pytest.raises(ConfigurationError, match="REPORT_CHUNK_SIZ"):
        Settings.from_environ({}, {"report_chunk_siz": 5})


def test_replaced_settings_are_checked_and_keep_the_rest() -> None:
    settings = Settings.from_environ({"API_TOKEN": SECRET, "LEASE_SECONDS": "9"})
    csv = settings.replaced(storage_backend="csv", csv_dir=Path("elsewhere"))

    assert (csv.storage_backend, csv.csv_dir, csv.lease_seconds) == ("csv", Path("elsewhere"), 9)
    assert csv.api_token.get_secret_value() == SECRET
    with pytest.raises(ConfigurationError, match="REPORT_STORAGE"):
        settings.replaced(report_storage="s3")


def test_secrets_stay_out_of_reprs_and_errors() -> None:
    url = f"postgresql://user:{SECRET}@db.internal/store_monitor"
    settings = Settings.from_environ(
        {"DATABASE_URL": url, "API_TOKEN": SECRET, "CELERY_BROKER_URL": f"amqp://guest:{SECRET}@mq//"}
    )
    container = make_container(settings)

    assert SECRET not in repr(settings) and SECRET not in str(settings)
    assert SECRET not in repr(container.config())
    assert container.database_url() == url
    assert container.api_token() == SECRET
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_environ({"API_TOKEN": f"{SECRET} x", "DATABASE_URL": url})
    assert SECRET not in str(raised.value) and raised.value.__cause__ is None


def test_the_container_takes_the_typed_settings() -> None:
    config = build_container({"REPORT_CHUNK_SIZE": "7", "REPORTS_DIR": "/srv/reports"}).config

    assert config.report_chunk_size() == 7
    assert config.reports_dir() == Path("/srv/reports")
    assert isinstance(config.api_token(), SecretStr)


@pytest.fixture
def own_logging() -> Iterator[None]:
    """The root logger's handlers and level, put back after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("own_logging")
def test_the_logs_resource_sets_logging_up_once_and_shutdown_removes_it() -> None:
    container = build_container({"LOG_LEVEL": "WARNING", "LOG_FORMAT": "json", "API_TOKEN": SECRET})
    handler = container.logs()

    assert isinstance(handler, logging.StreamHandler) and handler in logging.getLogger().handlers
    assert logging.getLogger().level == logging.WARNING
    assert container.logs() is handler
    stream = io.StringIO()
    handler.setStream(stream)
    logging.getLogger("store_monitor.test").warning("token %s", SECRET)
    assert SECRET not in stream.getvalue() and '"level": "WARNING"' in stream.getvalue()

    container.shutdown_resources()
    assert handler not in logging.getLogger().handlers


@pytest.mark.usefixtures("own_logging")
def test_a_dropped_container_leaves_the_logging_it_set_up() -> None:
    # A forked pool process drops its parent's container and keeps its logging.
    resource = logging_resource("INFO", "kv")
    handler = next(resource)
    del resource
    gc.collect()

    assert handler in logging.getLogger().handlers


def test_a_storage_backend_the_container_has_no_adapters_for_is_one_sentence_naming_it() -> None:
    with pytest.raises(ConfigurationError) as raised:
        make_container(Settings.from_environ({"STORAGE_BACKEND": "SQL"}))

    assert str(raised.value) == "STORAGE_BACKEND must be one of sql, csv, not 'SQL'"


def test_every_storage_selector_chooses_among_exactly_the_named_backends() -> None:
    selectors = (
        Container.status_repository,
        Container.hours_repository,
        Container.timezone_repository,
        Container.ingestion_log,
        Container.report_inputs,
    )
    for selector in selectors:
        assert isinstance(selector, providers.Selector)
        assert tuple(selector.providers) == STORAGE_BACKENDS


def test_a_dotenv_file_in_the_working_directory_fills_what_the_environment_does_not_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Recorded as absent, so that what load_dotenv adds to os.environ is taken back afterwards.
    for variable in ("REPORT_CHUNK_SIZE", "LEASE_SECONDS"):
        monkeypatch.setenv(variable, "")
        monkeypatch.delenv(variable)
    monkeypatch.setenv("LEASE_SECONDS", "9")
    (tmp_path / ".env").write_text("REPORT_CHUNK_SIZE=7\nLEASE_SECONDS=3\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    settings = load_settings()

    assert (settings.report_chunk_size, settings.lease_seconds) == (7, 9)
