"""The local prompt: line editing and history, Ctrl-C, ANSWER_QUOTES, the interaction log, markdown, refusals."""

from __future__ import annotations

import fcntl
import getpass
import io
import json
import os
import re
import select
import shutil
import sqlite3
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from bot.cli import GOODBYE, NOTHING_MORE, interactive, render_answer
from bot.log.local import LOCAL_COMMAND, LOCAL_MORE_COMMAND, LocalLog
from knowledge.models import Answer, Quote
from tests.test_bot_process import base_env, warm_index  # noqa: F401 (fixture)
from tests.test_failures import run_sync

CAMPBELL = "who is Kurt Campbell?"
FOLLOW_UP = "what did he say about China?"
ESC = "\x1b"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def rows(path: Path) -> list[dict]:
    """Every interaction row, oldest first."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM interactions ORDER BY id")]
    finally:
        conn.close()


class NothingLeft:
    """The engine, except that 'more' comes back abstained (nothing relevant is left)."""

    def __init__(self, engine) -> None:
        self.engine, self.articles = engine, engine.articles

    def ask(self, question, previous=(), exclude=(), limit=3):
        """Abstain whenever passages are excluded."""
        if exclude:
            return Answer(question, abstained=True, reason="No other passage is relevant.")
        return self.engine.ask(question, previous=previous, limit=limit)


class Interrupting:
    """An engine interrupted by Ctrl-C while it answers."""

    articles = ()

    def ask(self, *args, **kwargs):
        """Press Ctrl-C."""
        raise KeyboardInterrupt


def test_the_prompt_logs_questions_follow_ups_more_and_refusals(engine, tmp_path: Path) -> None:
    log = LocalLog(tmp_path / "interactions.db")
    stdin = io.StringIO(f"{CAMPBELL}\n{FOLLOW_UP}\nmore\n{'why ' * 300}\nquit\n")
    out = io.StringIO()
    assert interactive(engine, stdin=stdin, stdout=out, color=False, limit=2, log=log) == 0
    log.close()
    text = out.getvalue()
    assert "That question is too long (1199 characters); please keep it under 1000 characters." in text
    assert text.count("don't cover") == 0 and text.rstrip().endswith(GOODBYE)
    ask, follow, more, refused = rows(tmp_path / "interactions.db")
    assert [r["command"] for r in (ask, follow, more, refused)] == [LOCAL_COMMAND] * 2 + [LOCAL_MORE_COMMAND,
                                                                                          LOCAL_COMMAND]
    assert (ask["question"], ask["parent_id"], ask["status"]) == (CAMPBELL, None, "ok")
    assert (follow["parent_id"], more["parent_id"], more["question"]) == (ask["id"], follow["id"], FOLLOW_UP)
    assert (refused["status"], refused["reason"]) == ("invalid", "That question is too long (1199 characters); "
                                                                 "please keep it under 1000 characters.")
    assert all(0 < r["quote_count"] <= 2 for r in (ask, follow, more))  # ANSWER_QUOTES is the limit
    login = getpass.getuser()
    assert {(r["user_id"], r["user_name"], r["guild_id"]) for r in (ask, refused)} == {(f"local:{login}", login, None)}


def test_more_with_nothing_left_says_so(engine) -> None:
    out = io.StringIO()
    interactive(NothingLeft(engine), stdin=io.StringIO(f"{CAMPBELL}\nmore\n"), stdout=out, color=False)
    assert NOTHING_MORE in out.getvalue() and "don't cover" not in out.getvalue()


def test_ctrl_c_while_answering_says_goodbye() -> None:
    out = io.StringIO()
    assert interactive(Interrupting(), stdin=io.StringIO("a question\n"), stdout=out, color=False) == 0
    assert out.getvalue().endswith(f"\n{GOODBYE}\n")


def test_the_articles_markdown_is_rendered_not_shown_as_stars() -> None:
    text = "Xi said Putin may *ultimately come to regret* it. Beijing said *completely fabricated*."
    end = text.index(" Beijing")
    quote = Quote(passage_id="a#1", article_id="a", title="A *title*", outlet="", author="", date="", url="",
                  text=text, start=0, end=len(text), highlight=(0, end), score=0.5)
    plain = render_answer(Answer("q", quotes=(quote,)), color=False)
    assert "**Xi said Putin may ultimately come to regret it.** Beijing said completely fabricated." in plain
    assert "A title" in plain
    coloured = render_answer(Answer("q", quotes=(quote,)), color=True)
    assert "\033[3multimately come to regret\033[23m" in coloured and "*" not in coloured


def test_bot_ask_honours_answer_quotes_and_refuses_a_long_question(tmp_path: Path, warm_index: Path) -> None:
    done = run_sync(tmp_path, base_env(tmp_path, ANSWER_QUOTES="1"), "ask", "--json", CAMPBELL)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["passages"]) == 1
    done = run_sync(tmp_path, base_env(tmp_path, ANSWER_QUOTES="99"), "ask", CAMPBELL)
    assert (done.returncode, done.stderr.strip()) == (
        2, "Configuration error: ANSWER_QUOTES must be a whole number between 1 and 5, got '99'.")
    done = run_sync(tmp_path, base_env(tmp_path), "ask", "why " * 300)
    assert (done.returncode, done.stderr.strip()) == (
        2, "That question is too long (1199 characters); please keep it under 1000 characters.")


def test_index_names_what_changed_and_warns_once_without_colour(tmp_path: Path, warm_index: Path) -> None:
    from knowledge.articles import PACKAGED_DIR

    articles = tmp_path / "articles"
    shutil.copytree(PACKAGED_DIR, articles, ignore=shutil.ignore_patterns("__pycache__"))
    env = base_env(tmp_path, KNOWLEDGE_DIR=str(articles))
    first = run_sync(tmp_path, env, "index")
    assert first.returncode == 0 and "No article was added, changed or removed." in first.stdout, first.stderr
    (articles / "000-arriving-second.md").unlink()
    (articles / "001-putin-arrived-in-beijing.md").unlink()
    edited = next(articles.glob("004-*.md"))
    edited.write_text(edited.read_text(encoding="utf-8").replace("Bilateral trade", "Trade"), encoding="utf-8")
    (articles / "new-article.txt").write_text("A new article\n\nMongolia hosts a dialogue every summer.\n",
                                              encoding="utf-8")
    (articles / "empty.md").write_text("")
    done = run_sync(tmp_path, env, "index")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "Added 1 article: new-article.txt." in lines
    assert f"Changed 1 article: {edited.name}." in lines
    assert "Removed 2 articles: 000-arriving-second.md, 001-putin-arrived-in-beijing.md." in lines
    assert done.stderr.splitlines() == ["warning: Skipped article empty.md: the file is empty."]
    assert ESC not in done.stdout + done.stderr  # output to a file has no colour codes


class Terminal:
    """`python -m bot run` on a pseudo-terminal: type keys, read what the screen shows."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave,
            start_new_session=True, preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self.screen = ""

    def read_until(self, text: str, timeout: float = 120, start: int = 0) -> int:
        """Read output until text appears after position start; return where it ends."""
        deadline = time.monotonic() + timeout
        while (found := self.screen.find(text, start)) == -1:
            left = deadline - time.monotonic()
            if left <= 0 or self.process.poll() is not None and not select.select([self.master], [], [], 0)[0]:
                raise AssertionError(f"{text!r} never appeared; the screen shows:\n{self.screen[-3000:]}")
            if select.select([self.master], [], [], min(left, 1))[0]:
                try:
                    self.screen += os.read(self.master, 65536).decode("utf-8", "replace")
                except OSError:  # the child closed the terminal
                    time.sleep(0.1)
        return found + len(text)

    def type(self, keys: str) -> None:
        """Send keystrokes."""
        os.write(self.master, keys.encode())

    def close(self) -> None:
        """Stop the child if it still runs."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        os.close(self.master)


@pytest.mark.timeout(300)
def test_the_local_prompt_edits_lines_recalls_history_and_leaves_on_ctrl_c(tmp_path: Path, warm_index: Path) -> None:
    terminal = Terminal(tmp_path, base_env(tmp_path, TERM="xterm", ANSWER_QUOTES="1"))
    try:
        seen = terminal.read_until("Ask about the 5 articles")
        seen = terminal.read_until("? ", start=seen)
        terminal.type("who is Kurt Cmpbell?" + f"{ESC}[D" * 7 + "a\r")  # a typo fixed with the left arrow
        seen = terminal.read_until("Campbell", start=seen)
        seen = terminal.read_until("? ", start=terminal.read_until("[score", start=seen))
        terminal.type(f"{ESC}[A\r")  # the up arrow recalls the question
        seen = terminal.read_until("? ", start=terminal.read_until("[score", start=seen))
        terminal.type("\x03")  # Ctrl-C at the prompt
        terminal.read_until(GOODBYE, start=seen)
        assert terminal.process.wait(30) == 0
    finally:
        terminal.close()
    screen = ANSI.sub("", terminal.screen)
    assert "^[[" not in screen and "Traceback" not in screen and "KeyboardInterrupt" not in screen
    assert "1. No DISCORD_TOKEN" not in screen and "  1. Open https://discord.com/developers/applications" in screen
    asked = [(r["command"], r["question"], r["quote_count"]) for r in rows(tmp_path / "interactions.db")]
    assert asked == [(LOCAL_COMMAND, CAMPBELL, 1)] * 2  # edited, then recalled; one quote each (ANSWER_QUOTES)
    assert (tmp_path / "prompt_history").read_text().splitlines()[-1] == CAMPBELL
