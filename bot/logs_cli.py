"""python -m bot logs: the interaction log in the terminal, with the same filters as /review (table, CSV or JSON)."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

from bot import review
from bot.config import SettingsError, load_settings
from bot.log.local import LOCAL_COMMAND

METADATA = Path(__file__).resolve().parents[1] / "datasette" / "metadata.json"
LOG_COMMANDS = (*review.QUESTION_COMMANDS, LOCAL_COMMAND)  # questions from Discord and from the local prompt

FORMATS = ("table", "csv", "json", "jsonl")
EPILOG = """examples:
  python -m bot logs --guild 123456789012345678 --since 7d
  python -m bot logs --unanswered --since 2025-01-01 --format csv > gaps.csv
  python -m bot logs --search "beijing summit" --format json
The csv/json columns are described in docs/review.md."""


def add_logs_parser(sub: Any) -> None:
    """Register `logs`."""
    parser = sub.add_parser(
        "logs", help="show or export the interaction log (filters as in /review)",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", type=Path, action="append",
                        help="the log database (default: DATABASE_PATH, i.e. data/interactions.db); repeat it to read "
                             "the logs of several machines together, oldest row first")
    parser.add_argument("--env-file", default=".env", help="settings file read under the environment (default .env)")
    parser.add_argument("--guild", metavar="ID", help="only this server (default: every server)")
    parser.add_argument("--user", help="only this person: a Discord id, an anon:… key, or a display name")
    parser.add_argument("--channel", metavar="ID", help="only this channel")
    parser.add_argument("--since", help="from YYYY-MM-DD, or 12h / 7d / 2w ago")
    parser.add_argument("--until", help="up to and including YYYY-MM-DD")
    parser.add_argument("--unanswered", action="store_true", help="only questions the articles didn't cover")
    parser.add_argument("--unhelpful", action="store_true", help="only answers with a 👎")
    parser.add_argument("--search", metavar="WORDS", help="only questions containing all these words (full-text)")
    parser.add_argument("--all-commands", action="store_true",
                        help="every logged command (More pages, /sources, /review, forget-me), not only questions")
    parser.add_argument("--limit", type=int, metavar="N", help="at most N rows (the oldest first are dropped)")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="table (default), csv, json (an array) or jsonl (one object a line)")
    parser.set_defaults(handler=logs_command)


def add_browse_parser(sub: Any) -> None:
    """Register `browse`."""
    parser = sub.add_parser("browse", help="browse the interaction log in Datasette on http://127.0.0.1:8001")
    parser.add_argument("--db", type=Path, help="the log database (default: DATABASE_PATH, i.e. data/interactions.db)")
    parser.add_argument("--env-file", default=".env", help="settings file read under the environment (default .env)")
    parser.add_argument("--port", type=int, default=8001, help="port on 127.0.0.1 (default 8001)")
    parser.set_defaults(handler=browse_command)


def user_filter(value: str | None, anonymize_key: str | None) -> dict[str, str]:
    """--user as a filter: an id (hashed like the bot does when anonymising), an anon: key, or a display name."""
    if not value:
        return {}
    if value.isdigit():
        return {"user": review.user_key(value, anonymize_key)}
    if value.startswith("anon:"):
        return {"user": value}
    return {"user_name": value}


def build_filters(args: argparse.Namespace, anonymize_key: str | None = None) -> review.Filters:
    """The review Filters the command-line options describe."""
    if args.guild is not None and not args.guild.isdigit():
        raise review.PeriodError(f"--guild must be a server id (a number), got {args.guild!r}.")
    since, until = review.window(args.since, args.until)
    return review.Filters(
        args.guild if args.guild else review.ALL_GUILDS,
        channel=args.channel,
        since=since,
        until=until,
        search=args.search,
        unanswered=args.unanswered,
        unhelpful=args.unhelpful,
        commands=() if args.all_commands else LOG_COMMANDS,
        **user_filter(args.user, anonymize_key),
    )


def open_log(path: Path) -> sqlite3.Connection:
    """Open an existing log for reading (never creates one)."""
    if not path.is_file():
        raise FileNotFoundError(f"There is no interaction log at {path} yet: it appears after the first question "
                                "(set DATABASE_PATH or pass --db if it is elsewhere).")
    conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
    try:
        found = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'interactions'").fetchone()
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise FileNotFoundError(f"{path} is not an interaction log ({exc}).") from None
    if not found:
        conn.close()
        raise FileNotFoundError(f"{path} is not an interaction log (it has no interactions table).")
    return conn


def logs_command(args: argparse.Namespace, stdout=None) -> int:
    """Print the matching rows, oldest first."""
    stdout = stdout or sys.stdout
    try:
        settings = load_settings(dotenv_path=args.env_file)
    except SettingsError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    key = settings.anonymize_key if settings.anonymize_users else None
    if args.limit is not None and args.limit < 1:
        print(f"--limit must be 1 or more, got {args.limit}.", file=sys.stderr)
        return 2
    records: list[dict] = []
    for path in args.db or [settings.database_path]:
        try:
            filters = build_filters(args, key)
            conn = open_log(path)
        except (review.PeriodError, FileNotFoundError) as exc:
            print(exc, file=sys.stderr)
            return 2
        try:
            records += review.export_rows(conn, filters)
        except sqlite3.Error as exc:
            print(f"Could not read the log {path}: {exc}", file=sys.stderr)
            return 1
        finally:
            conn.close()
    if args.db and len(args.db) > 1:
        records.sort(key=lambda r: r["created_at"] or "")  # one time line over the machines' logs
    if args.limit is not None:
        records = records[-args.limit:]
    stdout.write(review.render(records, args.format))
    return 0


def browse_command(args: argparse.Namespace) -> int:
    """Serve the log with Datasette and its metadata (replaces this process); one sentence when it can't."""
    try:
        settings = load_settings(dotenv_path=args.env_file)
    except SettingsError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    path = args.db or settings.database_path
    try:
        open_log(path).close()
    except (FileNotFoundError, sqlite3.Error) as exc:
        print(exc, file=sys.stderr)
        return 2
    if importlib.util.find_spec("datasette") is None:
        print("Datasette is not installed; install it with: .venv/bin/pip install -e '.[review]'", file=sys.stderr)
        return 2
    command = [sys.executable, "-m", "datasette", "serve", str(path), "--metadata", str(METADATA),
               "--host", "127.0.0.1", "--port", str(args.port)]
    print(f"Serving {path} on http://127.0.0.1:{args.port} (Ctrl-C stops it).", file=sys.stderr, flush=True)
    os.execv(sys.executable, command)
    return 0  # not reached
