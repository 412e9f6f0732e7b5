"""The ``hedgedesk`` command: the Textual desk by default, headless subcommands beside it.

Headless subcommands print one JSON object on stdout with ``--json``; bad input exits 2 with a
single line on stderr, never a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from hedgedesk.core import __version__
from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.paths import log_file
from hedgedesk.tui.cli import book, data, importer, optimize, report, sweep, vol, whatif
from hedgedesk.tui.cli.common import CONFIG_HELP, Parser, make_parents

log = logging.getLogger("hedgedesk")


def build_parser() -> tuple[Parser, dict]:
    parser = Parser(
        prog="hedgedesk",
        description="Terminal workstation for traders who hedge. With no command, starts the desk.",
    )
    parser.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
    parser.add_argument("--version", action="version", version=f"hedgedesk {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")
    parents = make_parents()
    commands = {}
    for group in (data, book, optimize, sweep, report, vol, whatif, importer):
        commands.update(group.add_parsers(sub, parents))
    return parser, commands


def log_path() -> Path:
    """The log file (hedgedesk.core.paths.log_file)."""
    return log_file()


def _setup_logging() -> None:
    root = logging.getLogger()
    if any(getattr(h, "_hedgedesk", False) for h in root.handlers):
        return  # main() may run more than once in a process (tests, embedding)
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler._hedgedesk = True
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def run_desk(config: str | None) -> int:
    """The desk; a config file the loader refuses opens the recovery screen first (edit it in
    $EDITOR, or put back its last good copy), and the desk once it loads.
    """
    from hedgedesk.core.config import load_config, resolve_config_path
    from hedgedesk.tui.app import DeskApp

    path = resolve_config_path(config)
    try:
        cfg = load_config(path)
    except HedgedeskError as exc:
        if not path.is_file() or not sys.stdin.isatty():
            raise  # nothing to edit, or no one at the keyboard: exit 2 with the message
        from hedgedesk.tui.screens.recovery import RecoveryApp

        cfg = RecoveryApp(path, str(exc)).run()
        if cfg is None:
            raise
    DeskApp(cfg).run()
    return 0


def main(argv: list[str] | None = None) -> int:
    _setup_logging()
    try:
        parser, commands = build_parser()
        args = parser.parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)  # --detach re-runs it
        if args.command is None:
            return run_desk(args.config)
        key = (args.command, getattr(args, f"{args.command}_command", None))
        return commands[key](args)
    except HedgedeskError as exc:
        print(f"hedgedesk: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hedgedesk: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head & co.: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug: one line for the user, the traceback in the log
        log.exception("unexpected error")
        print(
            f"hedgedesk: internal error: {type(exc).__name__}: {exc} (traceback in {log_path()})",
            file=sys.stderr,
        )
        return 1
