"""Terminal commands that measure and fit retrieval: `eval` (cross-validated) and `train` (the learned ranker)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from knowledge.labelled import LabelledSetError, LabelledItem, load_items, parse_item, shipped_items

SHIPPED_LABEL = "the shipped questions (knowledge/data: dev + train)"
DEFAULT_LOG = Path("data/interactions.db")
MAX_HIT3_DROP = 0.01  # train refuses a ranker whose shipped-set cross-validated hit@3 falls by more


class CommandError(RuntimeError):
    """A failure a person can fix, told in one sentence."""


def log_items(path: Path | None, guild: int | None = None, default: Path = DEFAULT_LOG) -> list[LabelledItem]:
    """The moderators' judgements in the interaction log, as labelled items."""
    path = Path(path or default)
    if not path.exists():
        raise CommandError(f"There is no interaction log at {path}: judge some answers in Discord first, "
                           "or name the file with --with-log PATH.")
    try:
        from bot.judgements.export import judged_items
    except ImportError:
        raise CommandError("This version of the bot cannot read judgements from the log.") from None
    rows = judged_items(path, guild)
    items = [parse_item(row, n) for n, row in enumerate(rows, 1)]
    return [LabelledItem(**{**item.__dict__, "id": f"log-{item.id}"}) for item in items]


def read_sets(files: list[Path]) -> list[LabelledItem]:
    """Labelled items from files, or one sentence saying what is wrong with them."""
    items: list[LabelledItem] = []
    for path in files:
        try:
            items.extend(load_items(path))
        except LabelledSetError as exc:
            raise CommandError(str(exc)) from None
    if not items:
        raise CommandError("The question files hold no questions.")
    return items


def quality_settings(args: argparse.Namespace):
    """Settings from the environment and .env with the command line's engine options."""
    from bot.cli import cli_settings

    return cli_settings(args)


def open_for_quality(args: argparse.Namespace, settings):
    """Open the engine for evaluation or training (RANKER_PATH when that file exists, else the shipped one)."""
    from bot.cli import open_engine

    return open_engine(args, settings=settings)


def cv_results(engine, items, folds: int, extra=(), on_fold=None):
    """Per-item results with every learned part fitted on the other folds."""
    from knowledge.evaluate import run_pairs
    from knowledge.training import cross_validate

    return run_pairs(cross_validate(engine, items, k=folds, extra_training=extra, on_fold=on_fold))


def print_progress(label: str):
    """A callback that reports finished folds on stderr."""
    def report(fold: int) -> None:
        print(f"  {label}: fold {fold + 1} fitted", file=sys.stderr, flush=True)
    return report


def handle_eval(args: argparse.Namespace) -> int:
    """python -m bot eval [FILE ...]: cross-validated figures, fitted-on-everything figures and baselines."""
    from knowledge.evaluate import abstention_curve, failures, format_curve, format_table, metrics, run_baseline
    from knowledge.evaluate import run_pipeline

    settings = quality_settings(args)
    try:
        extra = log_items(args.with_log, args.guild, settings.database_path) if args.with_log is not False else []
        engine = open_for_quality(args, settings)
        if args.files:
            items = read_sets(args.files)
            known = {i.question for i in engine.memory.items}
            seen = sum(1 for i in items if i.question in known)
            print(f"{len(items)} questions from {', '.join(map(str, args.files))}, scored with the ranker as it is.")
            if seen:
                print(f"Note: {seen} of them are in the ranker's training data, so these figures are fitted on "
                      "them; `python -m bot eval` without a file gives cross-validated figures.")
            results = run_pipeline(engine, items)
            table = {"pipeline": metrics(results)}
        else:
            items = shipped_items() + extra
            label = SHIPPED_LABEL + (f" + {len(extra)} judged in the log" if extra else "")
            print(f"{len(items)} questions from {label}.")
            print(f"Cross-validated: {args.folds}-fold, follow-ups kept with their earlier question; every weight, "
                  "threshold and remembered question comes from the other folds.", flush=True)
            results = cv_results(engine, items, args.folds, on_fold=print_progress("cross-validation"))
            fitted = run_pipeline(engine.with_knowledge(memory=engine.remember(items)), items)
            table = {f"cross-validated ({args.folds}-fold)": metrics(results),
                     "fitted on everything (optimistic)": metrics(fitted)}
        table["plain BM25"] = metrics(run_baseline(engine, items, "bm25"))
        table["plain dense"] = metrics(run_baseline(engine, items, "dense"))
        print()
        print(format_table(table))
        if args.curve:
            print("\nAbstention: answered-but-unanswerable against wrongly refused, by threshold on P(answerable)")
            print(format_curve(abstention_curve(results), engine.ranker.answer_threshold))
        if args.verbose:
            print("\nWhere the pipeline went wrong:")
            print("\n".join(failures(results)) or "nowhere")
    except CommandError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def handle_train(args: argparse.Namespace) -> int:
    """python -m bot train: refit the ranker, print cross-validated figures before and after, and save it."""
    from knowledge.evaluate import format_table, metrics, run_pipeline
    from knowledge.training import train

    started = time.perf_counter()
    settings = quality_settings(args)
    try:
        judged = log_items(args.with_log, args.guild, settings.database_path) if args.with_log is not False else []
        shipped = shipped_items()
        engine = open_for_quality(args, settings)
        print(f"Training on {len(shipped)} shipped questions" + (f" and {len(judged)} judged in the log" if judged
                                                                  else "") + ".", flush=True)
        before = metrics(cv_results(engine, shipped, args.folds, on_fold=print_progress("shipped sets")))
        table = {"shipped sets, shipped data": before}
        after = before
        if judged:
            after = metrics(cv_results(engine, shipped, args.folds, extra=judged,
                                       on_fold=print_progress("shipped sets + log")))
            table["shipped sets, + log"] = after
            shipped_only = engine.with_knowledge(train(engine, shipped), engine.remember(shipped))
            table["judged set, shipped data"] = metrics(run_pipeline(shipped_only, judged))
            table["judged set, + log (cross-validated)"] = metrics(
                cv_results(engine, judged, min(args.folds, max(2, len(judged) // 2)) if len(judged) >= 4 else 2,
                           extra=shipped, on_fold=print_progress("judged set")))
        print()
        print(format_table({k: {m: v for m, v in t.items() if "latency" not in m} for k, t in table.items()}))
        drop = before["hit@3"] - after["hit@3"]
        if drop > MAX_HIT3_DROP:
            print(f"\nNot saved: with the log's judgements the shipped sets' cross-validated hit@3 falls by "
                  f"{drop:.3f} (more than {MAX_HIT3_DROP}); the ranker in use stays.", file=sys.stderr)
            return 1
        everything = shipped + judged
        ranker = train(engine, everything)
        ranker = ranker.with_training(remember=[i.to_json() for i in judged],
                                      cross_validated={k: round(v, 4) for k, v in after.items()
                                                       if "latency" not in k})
        output = Path(args.output or settings.ranker_path)
        try:
            ranker.save(output)
        except OSError as exc:
            raise CommandError(f"Cannot write the ranker to {output}: {exc.strerror or exc}.") from None
        print(f"\nSaved the ranker to {output} (trained on {len(everything)} questions, "
              f"hash {ranker.training['hash']}) in {time.perf_counter() - started:.0f} s.")
        print("A running bot picks it up with /articles reload (owners), or at its next start.")
    except CommandError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def add_log_options(parser: argparse.ArgumentParser) -> None:
    """--with-log and --guild."""
    parser.add_argument("--with-log", nargs="?", type=Path, const=None, default=False, metavar="DB",
                        help="add the moderators' judgements from the interaction log (default: DATABASE_PATH)")
    parser.add_argument("--guild", type=int, default=None, help="only that server's judgements")
    parser.add_argument("--folds", type=int, default=5, choices=range(2, 11), metavar="K",
                        help="cross-validation folds (2-10, default 5)")


def add_eval_parser(sub) -> None:
    """Register `eval`."""
    from bot.cli import engine_options

    parser = sub.add_parser("eval", help="measure retrieval quality (cross-validated over the shipped questions)")
    parser.add_argument("files", type=Path, nargs="*", metavar="FILE",
                        help="questions in the format of shared/eval/dev.jsonl (default: cross-validate the "
                             "shipped questions)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list the pipeline's misses")
    parser.add_argument("--curve", action="store_true", help="print the abstention trade-off curve")
    add_log_options(parser)
    engine_options(parser)
    parser.set_defaults(handler=handle_eval)


def add_train_parser(sub) -> None:
    """Register `train`."""
    from bot.cli import engine_options

    parser = sub.add_parser("train", help="refit the learned ranker and print cross-validated figures")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the ranker (default: RANKER_PATH, data/ranker.json)")
    add_log_options(parser)
    engine_options(parser)
    parser.set_defaults(handler=handle_train)


def json_line(item: LabelledItem) -> str:
    """One item as a JSON line of the eval format."""
    return json.dumps(item.to_json(), ensure_ascii=False)
