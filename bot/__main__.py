"""Entry point: python -m bot run | sync | ask | index | eval | train | logs | browse | judgements."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line parser with one sub-command per job."""
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    from bot import cli, logs_cli, quality_cli, runner

    runner.add_run_parser(sub)
    runner.add_sync_parser(sub)
    cli.add_ask_parser(sub)
    cli.add_index_parser(sub)
    quality_cli.add_eval_parser(sub)
    quality_cli.add_train_parser(sub)
    logs_cli.add_logs_parser(sub)
    logs_cli.add_browse_parser(sub)
    from bot.judgements import cli as judgements_cli

    judgements_cli.add_judgements_parser(sub)
    return parser


def interruptible() -> None:
    """Make Ctrl-C interrupt, whatever the parent left: an ignored or blocked SIGINT is inherited across exec."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the chosen sub-command; a known failure is one sentence, Ctrl-C a clean exit."""
    from bot.problems import Problem

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    interruptible()
    try:
        return int(args.handler(args) or 0)
    except Problem as problem:
        print(problem, file=sys.stderr)
        return problem.code
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
