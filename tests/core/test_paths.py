"""The user's folders (hedgedesk.core.paths): platformdirs with the XDG variables on Linux, the
HEDGEDESK_* overrides, and every caller that locates a user file going through it.
"""

from __future__ import annotations

import sys

import pytest

from hedgedesk.core import paths
from hedgedesk.core.config import resolve_config_path, user_config_path
from hedgedesk.core.data.yahoo import cache_dir
from hedgedesk.core.demo import demo_config_path
from hedgedesk.core.sweep.ledger import Ledger, default_path

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG layout: Linux")


@pytest.fixture
def xdg(tmp_path, monkeypatch):
    """XDG_CONFIG_HOME, XDG_STATE_HOME and XDG_CACHE_HOME under tmp_path; no HEDGEDESK_*."""
    for var in ("CONFIG", "STATE", "CACHE"):
        monkeypatch.setenv(f"XDG_{var}_HOME", str(tmp_path / var.lower()))
    for var in ("HEDGEDESK_CONFIG", "HEDGEDESK_LEDGER", "HEDGEDESK_CACHE", "HEDGEDESK_REPORTS"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@linux
def test_folders_follow_the_xdg_variables(xdg):
    assert paths.config_dir() == xdg / "config" / "hedgedesk"
    assert paths.state_dir() == xdg / "state" / "hedgedesk"
    assert paths.cache_dir() == xdg / "cache" / "hedgedesk"
    assert paths.user_config_file() == xdg / "config" / "hedgedesk" / "config.toml"
    assert paths.ledger_file() == xdg / "state" / "hedgedesk" / "runs.sqlite"
    assert paths.log_file() == xdg / "state" / "hedgedesk" / "hedgedesk.log"
    assert paths.yahoo_cache_dir() == xdg / "cache" / "hedgedesk" / "yahoo"


@linux
def test_without_xdg_the_folders_are_under_home(tmp_path, monkeypatch):
    for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.config_dir() == tmp_path / ".config" / "hedgedesk"
    assert paths.state_dir() == tmp_path / ".local" / "state" / "hedgedesk"
    assert paths.cache_dir() == tmp_path / ".cache" / "hedgedesk"


@linux
def test_a_relative_xdg_value_is_ignored(tmp_path, monkeypatch):
    """The XDG spec: relative paths are invalid and ignored (platformdirs follows it)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_STATE_HOME", "relative/state")
    assert paths.state_dir() == tmp_path / ".local" / "state" / "hedgedesk"


def test_the_overrides_win_and_expand_home(xdg, monkeypatch):
    monkeypatch.setenv("HOME", str(xdg))
    monkeypatch.setenv("HEDGEDESK_LEDGER", "~/ledgers/desk.sqlite")
    monkeypatch.setenv("HEDGEDESK_CACHE", str(xdg / "prices"))
    monkeypatch.setenv("HEDGEDESK_REPORTS", "~/committee")
    assert paths.ledger_file() == xdg / "ledgers" / "desk.sqlite"
    assert paths.yahoo_cache_dir() == xdg / "prices"
    assert paths.reports_dir() == xdg / "committee"
    # the log has no override: it stays in the state folder
    assert paths.log_file() == paths.state_dir() / "hedgedesk.log"


def test_empty_overrides_count_as_unset(xdg, monkeypatch):
    monkeypatch.setenv("HEDGEDESK_LEDGER", "")
    monkeypatch.setenv("HEDGEDESK_CACHE", "")
    monkeypatch.setenv("HEDGEDESK_REPORTS", "")
    monkeypatch.setenv("HOME", str(xdg))
    assert paths.reports_dir() == xdg / "hedgedesk-reports"  # a visible folder, not XDG's
    assert paths.ledger_file() == paths.state_dir() / "runs.sqlite"
    assert paths.yahoo_cache_dir() == paths.cache_dir() / "yahoo"


def test_nothing_is_created_by_asking(xdg):
    for where in (paths.user_config_file, paths.ledger_file, paths.log_file, paths.yahoo_cache_dir):
        assert xdg in where().parents
    assert list(xdg.iterdir()) == []


@linux
def test_every_caller_lands_in_the_xdg_folders(xdg):
    from hedgedesk.tui.cli.main import log_path

    assert user_config_path() == xdg / "config" / "hedgedesk" / "config.toml"
    assert default_path() == xdg / "state" / "hedgedesk" / "runs.sqlite"
    assert log_path() == xdg / "state" / "hedgedesk" / "hedgedesk.log"
    assert cache_dir() == xdg / "cache" / "hedgedesk" / "yahoo"
    # the ledger opened without a path creates its database there
    with Ledger() as ledger:
        assert ledger.path == xdg / "state" / "hedgedesk" / "runs.sqlite"
    assert ledger.path.is_file()
    # a user config placed there is the one the desk resolves
    assert resolve_config_path() == demo_config_path()
    user_config_path().parent.mkdir(parents=True)
    user_config_path().write_text("", encoding="utf-8")
    assert resolve_config_path() == xdg / "config" / "hedgedesk" / "config.toml"


def test_every_caller_goes_through_core_paths(tmp_path, monkeypatch):
    """Moving core.paths' folders moves every caller's file with them."""
    from hedgedesk.tui.cli.main import log_path

    monkeypatch.delenv("HEDGEDESK_LEDGER", raising=False)
    monkeypatch.delenv("HEDGEDESK_CACHE", raising=False)
    monkeypatch.setattr(paths, "config_dir", lambda: tmp_path / "c")
    monkeypatch.setattr(paths, "state_dir", lambda: tmp_path / "s")
    monkeypatch.setattr(paths, "cache_dir", lambda: tmp_path / "k")
    assert user_config_path() == tmp_path / "c" / "config.toml"
    assert default_path() == tmp_path / "s" / "runs.sqlite"
    assert log_path() == tmp_path / "s" / "hedgedesk.log"
    assert cache_dir() == tmp_path / "k" / "yahoo"
