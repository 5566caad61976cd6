"""The terminal commands: ask (one, batch, interactive), index, eval."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import answer_json, interactive, render_answer, run_batch

ROOT = Path(__file__).resolve().parents[1]


def run_module(*args: str, env: dict | None = None, stdin: str | None = None, timeout: int = 180):
    """Run `python -m bot ...` the way a user does."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, input=stdin, capture_output=True, text=True,
        timeout=timeout, env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
    )


def test_render_marks_the_answering_sentence_and_the_source(engine):
    answer = engine.ask("What currencies do Russia and China use for their trade?")
    text = render_answer(answer)
    quote = answer.quotes[0]
    a, b = quote.highlight
    assert f"**{quote.text[a:b].split()[0]}" in text.replace("\n  > ", " ")
    assert quote.title in text
    assert "don't cover" in render_answer(engine.ask("Who won the 2024 Super Bowl?"))


def test_batch_answers_every_line_in_order(engine):
    lines = [
        json.dumps({"id": "a", "question": "who is Kurt Campbell?"}),
        "",
        json.dumps({"id": "b", "question": "did he ever say that to biden too?",
                    "previous": "what did xi supposedly tell trump about putin and the invasion of ukraine?"}),
        json.dumps({"id": 3, "question": "whats the brent crude price rn", "previous": []}),
        "not json",
        json.dumps({"id": "c", "question": "and in what order?",
                    "previous": ["How many leaders of the UN Security Council's permanent members have gone to Beijing?",
                                 "who were they?"]}),
    ]
    out = io.StringIO()
    code = run_batch(engine, lines, out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert code == 1  # one bad line
    assert [r.get("id") for r in rows] == ["a", "b", 3, None, "c"]
    assert rows[3]["line"] == 5 and "error" in rows[3]
    first = rows[0]
    assert set(first) >= {"id", "question", "abstained", "passages"} and not first["abstained"]
    passage = first["passages"][0]
    assert set(passage) >= {"text", "article", "url", "score", "highlight"}
    assert passage["text"][passage["highlight"][0]:passage["highlight"][1]]
    assert "Joe Biden" in " ".join(p["text"] for p in rows[1]["passages"])
    assert rows[2]["abstained"] and rows[2]["reason"] and rows[2]["passages"] == []
    assert "Starmer in January" in " ".join(p["text"] for p in rows[4]["passages"])


def test_interactive_prompt_follow_up_more_new_quit(engine):
    stdin = io.StringIO("what did xi supposedly tell trump about putin and the invasion of ukraine?\n"
                        "did he ever say that to biden too?\nmore\nnew\nmore\nquit\n")
    stdout = io.StringIO()
    assert interactive(engine, stdin=stdin, stdout=stdout, color=False) == 0
    text = stdout.getvalue()
    assert "Joe Biden" in text
    assert "New conversation." in text and "Ask a question first." in text
    assert interactive(engine, stdin=io.StringIO(""), stdout=io.StringIO(), color=False) == 0  # Ctrl-D


def test_answer_json_shape(engine):
    data = answer_json(engine.ask("What cards does Moscow still hold?"), "x")
    assert data["id"] == "x" and data["passages"] and "reason" not in data


def test_cli_ask_json_index_and_eval_as_a_user_runs_them(tmp_path, engine_cache):
    env = {"INDEX_PATH": str(engine_cache)}
    done = run_module("ask", "--json", "what currencies do russia and china use for their trade", env=env)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert not data["abstained"] and "yuan" in data["passages"][0]["text"].lower()

    follow = run_module("ask", "did he ever say that to biden too?", "--previous",
                        "what did xi supposedly tell trump about putin and the invasion of ukraine?", env=env)
    assert follow.returncode == 0 and "Biden" in follow.stdout and "**" in follow.stdout

    index = run_module("index", env=env)
    assert index.returncode == 0 and "No article was added, changed or removed." in index.stdout

    batch = tmp_path / "q.jsonl"
    batch.write_text(json.dumps({"id": 1, "question": "who is alicja bachulska"}) + "\n", encoding="utf-8")
    out = run_module("ask", "--json", "--batch", str(batch), env=env)
    assert out.returncode == 0 and json.loads(out.stdout)["id"] == 1
