"""Terminal commands over the knowledge engine: ask (one, batch, interactive), index, eval."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import textwrap
import time
from pathlib import Path
from typing import IO, Iterable

from bot.markup import plain_text, styled_runs
from knowledge.models import Answer, Quote, Turn

BOLD, DIM, RESET = "\033[1m", "\033[2m", "\033[0m"
BOLD_OFF, ITALIC, ITALIC_OFF = "\033[22m", "\033[3m", "\033[23m"
HELP_LINE = "Type a question. 'more' shows further quotes, 'new' starts over, 'quit', Ctrl-D or Ctrl-C leaves."
GOODBYE = "Goodbye."
NOTHING_MORE = "That's all the articles have on this: no other passage is relevant enough to quote."
HISTORY_FILE = "prompt_history"
HISTORY_LENGTH = 1000


def engine_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that opens the engine."""
    parser.add_argument("--knowledge-dir", type=Path, default=None,
                        help="folder of article files (default: KNOWLEDGE_DIR or the packaged articles)")
    parser.add_argument("--index", type=Path, default=None,
                        help="embedding cache database (default: INDEX_PATH or data/index.db)")
    parser.add_argument("--model", default=None,
                        help="embedding model (default: EMBEDDING_MODEL, else all-mpnet-base-v2-9layers+articles: "
                             "the packaged model fine-tuned on the labelled questions)")
    parser.add_argument("--env-file", default=".env", help="settings file read under the environment (default .env)")


def cli_settings(args: argparse.Namespace):
    """Settings from the environment and .env, with the command line's engine options on top."""
    from bot.config import SettingsError, configure_logging, load_settings
    from bot.problems import CONFIGURATION_EXIT, Problem

    try:
        settings = load_settings(dotenv_path=getattr(args, "env_file", ".env"))
    except SettingsError as exc:
        raise Problem(f"Configuration error: {exc}", CONFIGURATION_EXIT) from None
    overrides = {"knowledge_dir": getattr(args, "knowledge_dir", None), "index_path": getattr(args, "index", None),
                 "embedding_model": getattr(args, "model", None)}
    settings = dataclasses.replace(settings, **{k: v for k, v in overrides.items() if v})
    configure_logging(settings.log_level, quiet=True)  # the terminal is for answers: warnings only
    return settings


def open_engine(args: argparse.Namespace, progress: bool = False, *, settings=None, log: bool = False):
    """Open the engine for a command (progress bar only on a terminal); a failure is one sentence."""
    from bot import client
    from bot.problems import check_engine_paths

    settings = settings or cli_settings(args)
    check_engine_paths(settings, log=log)
    return client.open_engine(settings, progress=progress and sys.stderr.isatty())


def source_line(quote: Quote) -> str:
    """Title — outlet, author, date, url (whatever is known)."""
    parts = [plain_text(quote.title)] + [p for p in (quote.outlet, quote.author, quote.date) if p]
    line = " — ".join([parts[0], ", ".join(parts[1:])]) if len(parts) > 1 else parts[0]
    return f"{line} <{quote.url}>" if quote.url else line


def styled_quote(quote: Quote, color: bool) -> str:
    """Quote text with the articles' markdown rendered: bold and italic on a terminal; else plain, answer in **."""
    out, marking = [], False
    for run in styled_runs(quote.text, quote.highlight):
        if not color and run.mark != marking:
            out.append("**")
            marking = run.mark
        piece = run.text
        if color and run.italic:
            piece = f"{ITALIC}{piece}{ITALIC_OFF}"
        if color and (run.strong or run.mark):
            piece = f"{BOLD}{piece}{BOLD_OFF}"
        out.append(piece)
    if marking:
        out.append("**")
    return "".join(out)


def render_answer(answer: Answer, color: bool = False, width: int = 100) -> str:
    """Readable terminal text: each quote with its answering sentence marked, and its source."""
    read_as = f"(Read as: {answer.read_as})\n" if answer.read_as else ""
    if answer.abstained:
        return f"{read_as}The articles don't cover this. ({answer.reason})"
    blocks = [read_as.strip()] if read_as else []
    for n, quote in enumerate(answer.quotes, 1):
        body = "\n".join(
            textwrap.fill(para, width=width, initial_indent="  > ", subsequent_indent="  > ")
            for para in styled_quote(quote, color).split("\n") if para.strip()
        )
        meta = f"{DIM}{source_line(quote)}  [score {quote.score:.2f}]{RESET}" if color else \
            f"{source_line(quote)}  [score {quote.score:.2f}]"
        blocks.append(f"{n}. {body.lstrip()}\n   — {meta}")
    return "\n\n".join(blocks)


def question_refusal(question: str) -> str | None:
    """Why a question is turned away before searching (empty or too long), or None."""
    from knowledge.engine import MAX_QUESTION_CHARS

    text = " ".join(question.split())
    if not any(ch.isalnum() for ch in text):
        return "Please type a question."
    if len(text) > MAX_QUESTION_CHARS:
        return (f"That question is too long ({len(text)} characters); please keep it under "
                f"{MAX_QUESTION_CHARS} characters.")
    return None


def answer_json(answer: Answer, item_id: object = None) -> dict:
    """The machine-readable form of an answer (the batch format)."""
    data: dict = {}
    if item_id is not None:
        data["id"] = item_id
    data["question"] = answer.question
    if answer.read_as:
        data["read_as"] = answer.read_as
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


class LineReader:
    """Prompt lines (readline and history on a terminal); as a context, Ctrl-C inside it ends with a goodbye."""

    def __init__(self, stdin: IO[str], stdout: IO[str], history: Path | None = None) -> None:
        self.stdin, self.stdout, self.history = stdin, stdout, history
        self.readline = _readline() if _is_terminal(stdin, stdout) else None
        self._mid_line = False

    def __enter__(self) -> "LineReader":
        if self.readline is not None:
            self.readline.set_history_length(HISTORY_LENGTH)
            self.readline.set_completer(lambda text, state: None)  # Tab inserts nothing odd
            if self.history is not None and self.history.is_file():
                try:
                    self.readline.read_history_file(str(self.history))
                except OSError:
                    pass
        return self

    def __call__(self, prompt: str = "? ") -> str | None:
        """The next line without its newline, or None at the end of input."""
        self._mid_line = True
        if self.readline is not None:
            try:
                line = input(prompt)
            except EOFError:
                return None
        else:
            print(prompt, end="", file=self.stdout, flush=True)
            line = self.stdin.readline()
            if not line:
                return None
        self._mid_line = False
        return line.rstrip("\n")

    def __exit__(self, kind, error, traceback) -> bool:
        self._save_history()
        if kind is not None and not issubclass(kind, KeyboardInterrupt):
            return False
        print(("\n" if self._mid_line or kind else "") + GOODBYE, file=self.stdout, flush=True)
        return True

    def _save_history(self) -> None:
        if self.readline is None or self.history is None:
            return
        try:
            self.history.parent.mkdir(parents=True, exist_ok=True)
            self.readline.write_history_file(str(self.history))
        except OSError:
            pass


def _is_terminal(stdin: IO[str], stdout: IO[str]) -> bool:
    """input() edits lines with readline only on the process's own terminal."""
    return stdin is sys.stdin and stdout is sys.stdout and stdin.isatty() and stdout.isatty()


def _readline():
    """The standard library's readline, or None where it is missing."""
    try:
        import readline
    except ImportError:
        return None
    return readline


class _NoLog:
    """Stands in for the interaction log when none is wanted."""

    def asked(self, question: str, answer: Answer, *, follows: bool) -> None:
        """Log nothing."""

    def more(self, question: str, answer: Answer) -> None:
        """Log nothing."""

    def refused(self, question: str, reason: str) -> None:
        """Log nothing."""


def interactive(
    engine,
    *,
    stdin: IO[str] = sys.stdin,
    stdout: IO[str] = sys.stdout,
    color: bool | None = None,
    limit: int = 3,
    log=None,
    history: Path | None = None,
) -> int:
    """A question prompt: a follow-up continues the conversation, a new topic starts another; 'more', 'new', 'quit';
    Ctrl-C or Ctrl-D leave."""
    color = stdout.isatty() if color is None else color
    log = log or _NoLog()
    turns: list[Turn] = []
    last: tuple[str, list[Turn], set[str]] | None = None
    print(f"Ask about the {len(engine.articles)} articles. {HELP_LINE}", file=stdout)
    with LineReader(stdin, stdout, history) as read:
        while True:
            print(file=stdout)
            line = read("? ")
            if line is None:
                break
            text = line.strip()
            command = text.lower()
            if not text:
                continue
            if command in {"quit", "exit", "q"}:
                break
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
                answer = engine.ask(question, previous=previous, exclude=shown, limit=limit)
                log.more(question, answer)
                if answer.abstained or not answer.quotes:
                    print(NOTHING_MORE, file=stdout)
                    continue
                shown.update(answer.passage_ids)
                turns[-1] = Turn(question, tuple(shown))
            else:
                if refusal := question_refusal(text):
                    log.refused(text, refusal)
                    print(refusal, file=stdout)
                    continue
                follows = bool(turns) and engine.continues(text, turns[-1].question)
                previous = turns if follows else []  # a new topic starts a new conversation
                answer = engine.ask(text, previous=previous, limit=limit)
                log.asked(text, answer, follows=follows)
                if answer.abstained:
                    print(render_answer(answer, color=color), file=stdout)
                    continue  # a refused line never joins the conversation
                last = (text, list(previous), set(answer.passage_ids))
                turns = [*previous, Turn(text, answer.passage_ids)]
            print(render_answer(answer, color=color), file=stdout)
    return 0


def local_prompt(engine, settings, *, stdin: IO[str] = sys.stdin, stdout: IO[str] = sys.stdout) -> int:
    """The interactive prompt with the settings: ANSWER_QUOTES, the interaction log, history in the data folder."""
    from bot.log.local import LocalLog

    key = settings.anonymize_key if settings.anonymize_users else None
    log = LocalLog(settings.database_path, anonymize_key=key)
    try:
        return interactive(engine, stdin=stdin, stdout=stdout, limit=settings.answer_quotes, log=log,
                           history=settings.database_path.parent / HISTORY_FILE)
    finally:
        log.close()


def handle_ask(args: argparse.Namespace) -> int:
    """python -m bot ask: one question, a batch file, or the interactive prompt."""
    settings = cli_settings(args)
    prompt = not args.question and not args.batch
    if args.question and (refusal := question_refusal(" ".join(args.question))):
        print(refusal, file=sys.stderr)
        return 2
    engine = open_engine(args, settings=settings, log=prompt)
    if args.batch:
        if str(args.batch) == "-":
            return run_batch(engine, sys.stdin, sys.stdout)
        try:
            with open(args.batch, encoding="utf-8") as handle:
                return run_batch(engine, handle, sys.stdout)
        except OSError as exc:
            print(f"Cannot read {args.batch}: {exc.strerror}", file=sys.stderr)
            return 2
    if prompt:
        return local_prompt(engine, settings)
    question = " ".join(args.question)
    answer = engine.ask(question, previous=args.previous or [], limit=args.limit or settings.answer_quotes)
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
    print("\n".join(change_lines(report)))
    print(f"Model {engine.index.model_name}; done in {time.perf_counter() - started:.1f} s.")
    return 1 if not report.articles else 0


def change_lines(report) -> list[str]:
    """What an index refresh changed, one line per kind, naming the article files."""
    lines = []
    for verb, names in (("Added", report.added), ("Changed", report.changed), ("Removed", report.removed)):
        if names:
            lines.append(f"{verb} {len(names)} article{'s' if len(names) != 1 else ''}: {', '.join(names)}.")
    if not lines:
        lines.append("No article was added, changed or removed.")
    if report.embedded:
        lines.append(f"Embedded {report.embedded} new texts; {report.cached} came from the cache.")
    else:
        lines.append(f"Embedded nothing: all {report.cached} texts came from the cache.")
    return lines


def add_ask_parser(sub) -> None:
    """Register `ask`."""
    parser = sub.add_parser("ask", help="ask the articles a question (no question: interactive prompt)")
    parser.add_argument("question", nargs="*", help="the question (omit it for the interactive prompt)")
    parser.add_argument("--previous", action="append", metavar="QUESTION",
                        help="an earlier question of the conversation (repeatable, oldest first)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--batch", metavar="FILE.jsonl", help="answer each line {id, question, previous?}")
    parser.add_argument("--limit", type=int, default=None, help="how many quotes at most (default ANSWER_QUOTES, 3)")
    engine_options(parser)
    parser.set_defaults(handler=handle_ask)


def add_index_parser(sub) -> None:
    """Register `index`."""
    parser = sub.add_parser("index", help="build or refresh the embedding index")
    engine_options(parser)
    parser.set_defaults(handler=handle_index)
