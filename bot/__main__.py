"""Entry point: python -m bot run | sync | ask | index | eval | logs | judgements."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line parser with one sub-command per job."""
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    from bot import cli, logs_cli, runner

    runner.add_run_parser(sub)
    runner.add_sync_parser(sub)
    cli.add_ask_parser(sub)
    cli.add_index_parser(sub)
    cli.add_eval_parser(sub)
    logs_cli.add_logs_parser(sub)
    from bot.judgements import cli as judgements_cli

    judgements_cli.add_judgements_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the chosen sub-command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
