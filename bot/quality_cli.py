"""Terminal commands that measure and fit retrieval: `eval` (cross-validated) and `train` (the learned ranker)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from knowledge.embeddings import ADAPTED_SUFFIX, DEFAULT_MODEL, SMALL_MODEL
from knowledge.engine import open_ranker
from knowledge.labelled import LabelledSetError, LabelledItem, items_hash, load_items, parse_item, shipped_items

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


def adapted(engine) -> bool:
    """Whether the engine's model is the packaged one fine-tuned on the labelled questions."""
    from knowledge.embeddings import ADAPTED_SUFFIX

    return ADAPTED_SUFFIX in engine.embedder.model_name


def wants_adapted(settings) -> bool:
    """Whether EMBEDDING_MODEL (default: the fine-tuned packaged model) is one that training fine-tunes."""
    from knowledge.embeddings import ADAPTED_SUFFIX, DEFAULT_MODEL

    return (settings.embedding_model or DEFAULT_MODEL).endswith(ADAPTED_SUFFIX)


def ranker_file(settings):
    """The ranker file in use: RANKER_PATH when it exists, else the shipped one."""
    from bot.client import ranker_path

    return ranker_path(settings)


def stored_tunings(settings) -> Path:
    """Where fine-tuned models are kept between runs (beside the index), so `eval` then `train` fine-tune once."""
    return Path(settings.index_path).parent / "fine-tunes"


def crossfit_results(engine, items, folds: int, settings, *, final: bool = False, fold_of=None, tune_on=None,
                     keep: bool = True, base_name: str | None = None):
    """Per-item results with the model, the ranker and the memory fitted on the other folds (and the fit itself).

    With `keep`, fine-tuned models are kept on disk and reused; pass False when the model learns from judged
    questions (the log's), which a moderator may later delete. `base_name` is the model fine-tuned (default: the
    engine's).
    """
    from knowledge.crossfit import cross_fit
    from knowledge.evaluate import run_pairs

    fitted = cross_fit(engine, items, k=folds, knowledge_dir=settings.knowledge_dir, final=final, fold_of=fold_of,
                       tune_on=tune_on, stored=stored_tunings(settings) if keep else None,
                       base_name=base_name or engine.embedder.base_name,
                       on_step=lambda message: print(f"  {message}", file=sys.stderr, flush=True))
    return run_pairs(fitted.pairs), fitted


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
            if adapted(engine) and not args.fixed_model:
                print(f"Cross-validated: {args.folds}-fold, follow-ups kept with their earlier question; the fine-tuned "
                      "model, every weight, threshold and remembered question come from the other folds "
                      f"({args.folds} fine-tunings: up to ten minutes each on two cores).", flush=True)
                results, _ = crossfit_results(engine, items, args.folds, settings, keep=not extra)
            else:
                print(f"Cross-validated: {args.folds}-fold, follow-ups kept with their earlier question; every weight, "
                      "threshold and remembered question comes from the other folds"
                      + ("; the model stays as it is, fine-tuned on these questions, so these figures are optimistic."
                         if adapted(engine) else "."), flush=True)
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
    """python -m bot train: refit the model and the ranker, print cross-validated figures, and save them."""
    started = time.perf_counter()
    settings = quality_settings(args)
    try:
        judged = log_items(args.with_log, args.guild, settings.database_path) if args.with_log is not False else []
        shipped = shipped_items()
        fine_tuning = wants_adapted(settings)
        base_name = (settings.embedding_model or DEFAULT_MODEL).removesuffix(ADAPTED_SUFFIX)
        if fine_tuning:  # the engine only needs to locate answers: the small packaged model, whatever file is beside
            settings = dataclasses.replace(settings, embedding_model=SMALL_MODEL)
        engine = open_for_quality(args, settings)
        if fine_tuning:
            engine.ranker = open_ranker(ranker_file(settings))
        print(f"Training on {len(shipped)} shipped questions" + (f" and {len(judged)} judged in the log" if judged
                                                                  else "") + ".", flush=True)
        output = Path(args.output or settings.ranker_path)
        if fine_tuning:
            ranker, weights, after = fit_adapted(engine, shipped, judged, args.folds, settings, base_name)
        else:
            ranker, weights, after = fit_fixed_model(engine, shipped, judged, args.folds)
        ranker = ranker.with_training(remember=[i.to_json() for i in judged], folds=args.folds,
                                      cross_validated={k: round(v, 4) for k, v in after.items() if "latency" not in k})
        save(ranker, weights, output, base_name)
        print(f"\nSaved the ranker to {output}" + (" and the fine-tuned model beside it" if weights else "")
              + f" (trained on {len(shipped) + len(judged)} questions, hash {ranker.training['hash']}) "
              f"in {time.perf_counter() - started:.0f} s.")
        print("A running bot picks it up with /articles reload (owners), or at its next start.")
    except Refused as exc:
        print(exc, file=sys.stderr)
        return 1
    except CommandError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def print_table(table: dict) -> None:
    """The figures without the latency rows (training measures quality, not speed)."""
    from knowledge.evaluate import format_table

    print()
    print(format_table({k: {m: v for m, v in t.items() if "latency" not in m} for k, t in table.items()}))


def refuse_if_worse(before: dict, after: dict) -> None:
    """Stop when the log's judgements make the shipped sets' cross-validated hit@3 fall by more than allowed."""
    drop = before["hit@3"] - after["hit@3"]
    if drop > MAX_HIT3_DROP:
        raise Refused(f"Not saved: with the log's judgements the shipped sets' cross-validated hit@3 falls by "
                      f"{drop:.3f} (more than {MAX_HIT3_DROP}); the ranker in use stays.")


class Refused(CommandError):
    """Training finished but its result is worse than what is in use."""


def fit_adapted(engine, shipped, judged, k: int, settings, base_name: str):
    """Fine-tune the model and fit the ranker on out-of-fold rows.

    The model learns from the shipped questions only; the judged ones (in folds of their own) teach the ranker and
    the memory. So the figures with and without the log share their fine-tuned models, and differ only by what
    the judgements changed.
    """
    from knowledge.evaluate import metrics
    from knowledge.labelled import folds

    before = metrics(crossfit_results(engine, shipped, k, settings, base_name=base_name)[0]) if judged else None
    fold_of = folds(shipped, k) + (folds(judged, k) if len(judged) >= k else [n % k for n in range(len(judged))])
    results, fitted = crossfit_results(engine, shipped + judged, k, settings, final=True, fold_of=fold_of,
                                       tune_on={i.id for i in shipped}, base_name=base_name)
    after = metrics(results[: len(shipped)])
    if before is None:
        print_table({"shipped sets, shipped data": after})
    else:
        print_table({"shipped sets, shipped data": before, "shipped sets, + log": after,
                     "judged set, + log (cross-validated)": metrics(results[len(shipped):])})
        refuse_if_worse(before, after)
    return fitted.ranker, fitted.weights, after


def fit_fixed_model(engine, shipped, judged, k: int):
    """Refit only the ranker for the model in use (a plain packaged model or a model folder)."""
    from knowledge.evaluate import metrics, run_pipeline
    from knowledge.training import train

    before = metrics(cv_results(engine, shipped, k, on_fold=print_progress("shipped sets")))
    table = {"shipped sets, shipped data": before}
    after = before
    if judged:
        after = metrics(cv_results(engine, shipped, k, extra=judged, on_fold=print_progress("shipped sets + log")))
        table["shipped sets, + log"] = after
        shipped_only = engine.with_knowledge(train(engine, shipped), engine.remember(shipped))
        table["judged set, shipped data"] = metrics(run_pipeline(shipped_only, judged))
        table["judged set, + log (cross-validated)"] = metrics(
            cv_results(engine, judged, min(k, max(2, len(judged) // 2)) if len(judged) >= 4 else 2,
                       extra=shipped, on_fold=print_progress("judged set")))
    print_table(table)
    refuse_if_worse(before, after)
    return train(engine, shipped + judged), None, after


def save(ranker, weights, output: Path, base_name: str) -> None:
    """Write the fine-tuned model (when there is one) and then the ranker, each atomically."""
    from knowledge.adaptation import save_adaptation
    from knowledge.embeddings import adaptation_file, file_id

    try:
        if weights is not None:
            shipped = shipped_items()  # what the model learns from (judgements teach the ranker and the memory)
            path = save_adaptation(weights, output.with_name(adaptation_file(base_name)),
                                   {"tuned_on": items_hash(shipped), "items": len(shipped), "base": base_name})
            ranker = ranker.with_training(model=f"{base_name}{ADAPTED_SUFFIX}@{file_id(path)}")
        ranker.save(output)
    except OSError as exc:
        raise CommandError(f"Cannot write the ranker to {output}: {exc.strerror or exc}.") from None


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
    parser.add_argument("--fixed-model", action="store_true",
                        help="keep the model as it is instead of fine-tuning it per fold (seconds, not minutes; "
                             "optimistic for a model fine-tuned on these questions)")
    add_log_options(parser)
    engine_options(parser)
    parser.set_defaults(handler=handle_eval)


def add_train_parser(sub) -> None:
    """Register `train`."""
    from bot.cli import engine_options

    parser = sub.add_parser("train", help="fine-tune the model, refit the learned ranker, and print "
                                             "cross-validated figures")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the ranker, with the fine-tuned model beside it "
                             "(default: RANKER_PATH, data/ranker.json)")
    add_log_options(parser)
    engine_options(parser)
    parser.set_defaults(handler=handle_train)


def json_line(item: LabelledItem) -> str:
    """One item as a JSON line of the eval format."""
    return json.dumps(item.to_json(), ensure_ascii=False)
