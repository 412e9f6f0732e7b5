"""The user's folders: where hedgedesk keeps its config, its state and its cache.

The folders come from :mod:`platformdirs`, which on Linux and macOS honours an absolute
``$XDG_CONFIG_HOME``, ``$XDG_STATE_HOME`` and ``$XDG_CACHE_HOME``; without them, on Linux,
``~/.config/hedgedesk``, ``~/.local/state/hedgedesk`` and ``~/.cache/hedgedesk``.

* config: the user config ``config.toml`` (``$HEDGEDESK_CONFIG`` or ``--config`` name another;
  :func:`hedgedesk.core.config.resolve_config_path` picks among them);
* state: the sweep ledger ``runs.sqlite`` (``$HEDGEDESK_LEDGER`` overrides it) and the log
  ``hedgedesk.log``;
* cache: the Yahoo prices, in ``yahoo/`` (``$HEDGEDESK_CACHE`` overrides the folder);
* reports: the desk's reports (key R), ``~/hedgedesk-reports`` (``$HEDGEDESK_REPORTS``
  overrides it): a folder the user opens, so not a hidden one.

An override set to the empty string counts as unset; a leading ``~`` in one is expanded.
Nothing here creates a folder: the writers do, when they first write.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "hedgedesk"


def config_dir() -> Path:
    """The user's hedgedesk config folder (``$XDG_CONFIG_HOME/hedgedesk`` on Linux)."""
    return platformdirs.user_config_path(APP, appauthor=False)


def state_dir() -> Path:
    """The user's hedgedesk state folder (``$XDG_STATE_HOME/hedgedesk`` on Linux)."""
    return platformdirs.user_state_path(APP, appauthor=False)


def cache_dir() -> Path:
    """The user's hedgedesk cache folder (``$XDG_CACHE_HOME/hedgedesk`` on Linux)."""
    return platformdirs.user_cache_path(APP, appauthor=False)


def _override(var: str) -> Path | None:
    value = os.environ.get(var)
    return Path(value).expanduser() if value else None


def user_config_file() -> Path:
    """The user config file, ``config.toml`` in :func:`config_dir` (it may not exist)."""
    return config_dir() / "config.toml"


def ledger_file() -> Path:
    """The sweep ledger's database: ``$HEDGEDESK_LEDGER``, else ``runs.sqlite`` in
    :func:`state_dir`.
    """
    return _override("HEDGEDESK_LEDGER") or state_dir() / "runs.sqlite"


def log_file() -> Path:
    """The desk's and the command line's log, ``hedgedesk.log`` in :func:`state_dir`."""
    return state_dir() / "hedgedesk.log"


def yahoo_cache_dir() -> Path:
    """The folder of the cached Yahoo prices: ``$HEDGEDESK_CACHE``, else ``yahoo`` in
    :func:`cache_dir`.
    """
    return _override("HEDGEDESK_CACHE") or cache_dir() / "yahoo"


def reports_dir() -> Path:
    """Where the desk writes its reports (key R), one timestamped folder each:
    ``$HEDGEDESK_REPORTS``, else ``~/hedgedesk-reports``.
    """
    return _override("HEDGEDESK_REPORTS") or Path.home() / "hedgedesk-reports"
