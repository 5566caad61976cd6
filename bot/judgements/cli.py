"""python -m bot judgements export: moderators' judgements as eval/training items (JSON Lines, as dev.jsonl)."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path
from typing import Any

from bot.config import SettingsError, load_settings
from bot.judgements.export import judged_items, to_jsonl

EPILOG = """examples:
  python -m bot judgements export --output data/judged.jsonl
  python -m bot judgements export --guild 123456789012345678 > judged.jsonl
Each line: {"id", "question", "answer_contains", "source", "kind", "previous"?}, as in ../shared/eval/dev.jsonl."""


def add_judgements_parser(sub: Any) -> None:
    """Register `judgements export`."""
    parser = sub.add_parser("judgements", help="export moderators' judgements (python -m bot judgements export)",
                            description=__doc__)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    export = actions.add_parser("export", help="write the judged questions as JSON Lines", description=__doc__,
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    export.add_argument("--guild", metavar="ID", help="only this server's judgements (default: every server)")
    export.add_argument("--db", type=Path, help="the log database (default: DATABASE_PATH, i.e. data/interactions.db)")
    export.add_argument("--env-file", default=".env", help="settings file read under the environment (default .env)")
    export.set_defaults(handler=export_command)
    parser.set_defaults(handler=lambda args: (parser.print_help(), 2)[1])


def export_command(args: argparse.Namespace, stdout=None) -> int:
    """Write the items; say on stderr how many and of which kinds."""
    stdout = stdout or sys.stdout
    if args.guild is not None and not args.guild.isdigit():
        print(f"--guild must be a server id (a number), got {args.guild!r}.", file=sys.stderr)
        return 2
    path = args.db
    if path is None:
        try:
            path = load_settings(dotenv_path=args.env_file).database_path
        except SettingsError as exc:
            print(f"Configuration error: {exc}", file=sys.stderr)
            return 2
    try:
        items = judged_items(path, args.guild)
    except FileNotFoundError:
        print(f"There is no interaction log at {path} (set DATABASE_PATH or pass --db).", file=sys.stderr)
        return 2
    except sqlite3.Error as exc:
        print(f"Could not read the log: {exc}", file=sys.stderr)
        return 1
    text = to_jsonl(items)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    else:
        stdout.write(text)
    kinds = {k: sum(i["kind"] == k for i in items) for k in ("fact", "followup", "out_of_scope")}
    where = f" to {args.output}" if args.output else ""
    print(f"{len(items)} judged question(s){where}: {kinds['fact']} answered, {kinds['followup']} follow-ups, "
          f"{kinds['out_of_scope']} out of scope.", file=sys.stderr)
    return 0
