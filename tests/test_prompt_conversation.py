"""The local prompt starts a new conversation for a new topic, and a refused line never joins one."""

from __future__ import annotations

import io

from bot.cli import interactive


class Recording:
    """The real engine, noting the conversation each question was asked with."""

    def __init__(self, engine):
        self.engine = engine
        self.calls: list[tuple[str, list[str]]] = []

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def ask(self, question, previous=(), **kwargs):
        self.calls.append((question, [t.question for t in previous]))
        return self.engine.ask(question, previous=previous, **kwargs)


def run_prompt(engine, lines: list[str]) -> tuple[Recording, str]:
    recording = Recording(engine)
    out = io.StringIO()
    interactive(recording, stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out, color=False)
    return recording, out.getvalue()


def test_unrelated_questions_each_start_fresh_and_follow_ups_continue(engine):
    first = "What did Xi supposedly tell Trump about Putin and the invasion of Ukraine?"
    recording, out = run_prompt(engine, [
        first,
        "did he ever say that to biden too?",
        "What currencies do Russia and China use for their trade?",
        "Who is Alicja Bachulska?",
    ])
    conversations = dict(recording.calls)
    assert conversations["did he ever say that to biden too?"] == [first]
    assert conversations["What currencies do Russia and China use for their trade?"] == []
    assert conversations["Who is Alicja Bachulska?"] == []
    assert "yuan" in out.lower() and "Biden" in out


def test_a_refused_line_never_joins_the_conversation(engine):
    recording, _ = run_prompt(engine, [
        "What currencies do Russia and China use for their trade?",
        "How do I bake sourdough bread at home?",
        "and why that currency?",
    ])
    conversations = dict(recording.calls)
    assert conversations["and why that currency?"] == ["What currencies do Russia and China use for their trade?"]
