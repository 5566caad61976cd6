"""Terminal commands over the knowledge engine: ask (one, batch, interactive), index, eval."""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import IO, Iterable

from knowledge.models import Answer, Quote, Turn

BOLD, DIM, RESET = "\033[1m", "\033[2m", "\033[0m"
HELP_LINE = "Type a question. 'more' shows further quotes, 'new' starts over, 'quit' or Ctrl-D leaves."


def engine_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that opens the engine."""
    parser.add_argument("--knowledge-dir", type=Path, default=None,
                        help="folder of article files (default: KNOWLEDGE_DIR or the packaged articles)")
    parser.add_argument("--index", type=Path, default=None,
                        help="embedding cache database (default: INDEX_PATH or data/index.db)")
    parser.add_argument("--model", default=None, help="embedding model (default: EMBEDDING_MODEL or all-MiniLM-L6-v2)")


def open_engine(args: argparse.Namespace, progress: bool = False, ranker_path=None, remembered=None):
    """Open the engine with options, falling back to the environment and .env."""
    from dotenv import load_dotenv

    load_dotenv(override=False)
    from knowledge import Engine

    knowledge_dir = args.knowledge_dir or os.environ.get("KNOWLEDGE_DIR") or None
    index = args.index or os.environ.get("INDEX_PATH") or "data/index.db"
    model = args.model or os.environ.get("EMBEDDING_MODEL") or None
    if ranker_path is None and os.environ.get("RANKER_PATH") and Path(os.environ["RANKER_PATH"]).exists():
        ranker_path = os.environ["RANKER_PATH"]
    engine = Engine.open(knowledge_dir, index, model, progress=progress, ranker_path=ranker_path,
                         remembered=remembered)
    for warning in engine.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return engine


def source_line(quote: Quote) -> str:
    """Title — outlet, author, date, url (whatever is known)."""
    parts = [quote.title] + [p for p in (quote.outlet, quote.author, quote.date) if p]
    line = " — ".join([parts[0], ", ".join(parts[1:])]) if len(parts) > 1 else parts[0]
    return f"{line} <{quote.url}>" if quote.url else line


def render_answer(answer: Answer, color: bool = False, width: int = 100) -> str:
    """Readable terminal text: each quote with its answering sentence marked, and its source."""
    if answer.abstained:
        return f"The articles don't cover this. ({answer.reason})"
    blocks = []
    for n, quote in enumerate(answer.quotes, 1):
        a, b = quote.highlight
        mark_on, mark_off = (BOLD, RESET) if color else ("**", "**")
        text = quote.text[:a] + mark_on + quote.text[a:b] + mark_off + quote.text[b:]
        body = "\n".join(
            textwrap.fill(para, width=width, initial_indent="  > ", subsequent_indent="  > ")
            for para in text.split("\n") if para.strip()
        )
        meta = f"{DIM}{source_line(quote)}  [score {quote.score:.2f}]{RESET}" if color else \
            f"{source_line(quote)}  [score {quote.score:.2f}]"
        blocks.append(f"{n}. {body.lstrip()}\n   — {meta}")
    return "\n\n".join(blocks)


def answer_json(answer: Answer, item_id: object = None) -> dict:
    """The machine-readable form of an answer (the batch format)."""
    data: dict = {}
    if item_id is not None:
        data["id"] = item_id
    data["question"] = answer.question
    data["abstained"] = answer.abstained
    if answer.abstained:
        data["reason"] = answer.reason
    data["passages"] = [
        {"text": q.text, "article": q.title, "url": q.url, "score": q.score, "highlight": list(q.highlight),
         "passage_id": q.passage_id, "article_id": q.article_id, "outlet": q.outlet, "date": q.date}
        for q in answer.quotes
    ]
    return data


def previous_list(value: object) -> list[str]:
    """A batch line's `previous`: a string or a list, oldest first."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    return [str(v) for v in value if str(v).strip()]


def run_batch(engine, lines: Iterable[str], out: IO[str]) -> int:
    """Answer each JSONL line in order; a bad line gets an error line, never stops the rest."""
    failures = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("question"), str):
                raise ValueError("each line needs a JSON object with a string 'question'")
            answer = engine.ask(item["question"], previous=previous_list(item.get("previous")))
            out.write(json.dumps(answer_json(answer, item.get("id")), ensure_ascii=False) + "\n")
        except (ValueError, TypeError) as exc:
            failures += 1
            out.write(json.dumps({"line": number, "error": str(exc)}) + "\n")
        out.flush()
    return 1 if failures else 0


def interactive(engine, *, stdin: IO[str] = sys.stdin, stdout: IO[str] = sys.stdout, color: bool | None = None) -> int:
    """A question prompt: follow-ups continue the conversation, 'more', 'new', 'quit'."""
    color = stdout.isatty() if color is None else color
    turns: list[Turn] = []
    last: tuple[str, list[Turn], set[str]] | None = None
    print(f"Ask about the {len(engine.articles)} articles. {HELP_LINE}", file=stdout)
    while True:
        print("\n? ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            print(file=stdout)
            return 0
        text = line.strip()
        command = text.lower()
        if not text:
            continue
        if command in {"quit", "exit", "q"}:
            return 0
        if command in {"new", "reset"}:
            turns, last = [], None
            print("New conversation.", file=stdout)
            continue
        if command in {"help", "?"}:
            print(HELP_LINE, file=stdout)
            continue
        if command in {"more", "m"}:
            if last is None:
                print("Ask a question first.", file=stdout)
                continue
            question, previous, shown = last
            answer = engine.ask(question, previous=previous, exclude=shown)
            if answer.abstained:
                print("No more quotes on this question.", file=stdout)
                continue
            shown.update(answer.passage_ids)
            turns[-1] = Turn(question, tuple(shown))
        else:
            answer = engine.ask(text, previous=turns)
            last = (text, list(turns), set(answer.passage_ids))
            turns.append(Turn(text, answer.passage_ids))
        print(render_answer(answer, color=color), file=stdout)


def handle_ask(args: argparse.Namespace) -> int:
    """python -m bot ask: one question, a batch file, or the interactive prompt."""
    engine = open_engine(args)
    if args.batch:
        if str(args.batch) == "-":
            return run_batch(engine, sys.stdin, sys.stdout)
        try:
            with open(args.batch, encoding="utf-8") as handle:
                return run_batch(engine, handle, sys.stdout)
        except OSError as exc:
            print(f"Cannot read {args.batch}: {exc.strerror}", file=sys.stderr)
            return 2
    if not args.question:
        return interactive(engine)
    question = " ".join(args.question)
    answer = engine.ask(question, previous=args.previous or [], limit=args.limit)
    if args.json:
        print(json.dumps(answer_json(answer), ensure_ascii=False, indent=2))
    else:
        print(render_answer(answer, color=sys.stdout.isatty()))
    return 0


def handle_index(args: argparse.Namespace) -> int:
    """python -m bot index: build or refresh the embedding index and report what changed."""
    started = time.perf_counter()
    engine = open_engine(args, progress=True)
    report = engine.index.report
    print(f"{report.articles} articles, {report.passages} passages, {report.sentences} sentences.")
    if report.embedded:
        changed = ", ".join(report.changed_articles) or "none"
        print(f"Embedded {report.embedded} new texts (changed or new articles: {changed}); "
              f"{report.cached} came from the cache.")
    else:
        print(f"Nothing changed: all {report.cached} texts came from the cache.")
    if report.pruned:
        print(f"Removed {report.pruned} stale cache entries.")
    print(f"Model {engine.index.model_name}; done in {time.perf_counter() - started:.1f} s.")
    return 1 if not report.articles else 0


def add_ask_parser(sub) -> None:
    """Register `ask`."""
    parser = sub.add_parser("ask", help="ask the articles a question (no question: interactive prompt)")
    parser.add_argument("question", nargs="*", help="the question (omit it for the interactive prompt)")
    parser.add_argument("--previous", action="append", metavar="QUESTION",
                        help="an earlier question of the conversation (repeatable, oldest first)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--batch", metavar="FILE.jsonl", help="answer each line {id, question, previous?}")
    parser.add_argument("--limit", type=int, default=3, help="how many quotes at most (default 3)")
    engine_options(parser)
    parser.set_defaults(handler=handle_ask)


def add_index_parser(sub) -> None:
    """Register `index`."""
    parser = sub.add_parser("index", help="build or refresh the embedding index")
    engine_options(parser)
    parser.set_defaults(handler=handle_index)
