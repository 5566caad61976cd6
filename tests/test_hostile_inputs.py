"""Property-based: hostile questions and article texts never crash, break Discord's limits, ping, or garble quotes."""

from __future__ import annotations

import re
from pathlib import Path

import discord
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot import formatting
from knowledge import Engine
from tests.bot_fixtures import assert_within_limits
from tests.knowledge_fixtures import HashEmbedder

PIECES = ["\u200b", "\u200d", "\ufeff", "\u202e", "\u2066", "\u0000", "\u0007", "\u001b[31m", "@everyone", "@here",
          "<@123456789012345678>", "<@!123456789012345678>", "<@&123456789012345678>", "<#123456789012345678>",
          "```python\nprint(1)\n```", "**", "__", "~~", "||", "`", "> ", "# ", "-# ", "[x](https://e.com)", "\\",
          "مرحبا", "你好", "Привет", "שלום", "नमस्ते", "🙂", "e\u0301", "Putin", "Beijing", "trade", "\n", "\t", " "]
TEXT = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=40)), max_size=40).map("".join)
LONG = st.integers(min_value=1, max_value=6000).map(lambda n: ("why did Putin go to Beijing " * 300)[:n])
QUESTIONS = st.one_of(TEXT, LONG, st.text(max_size=300))
PINGS = re.compile(r"@(everyone|here)|<@[!&]?\d|<#\d")
BOLD = re.compile(r"(?<!\\)\*\*")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])


class QueryHashEmbedder(HashEmbedder):
    """The hash embedder on the query path too (no model: article properties need many fresh indexes)."""

    def load_query_encoder(self):
        """No light encoder."""
        return None

    def encode_queries(self, texts) -> "object":
        """Same as encode."""
        return self.encode(list(texts))


def rendered(answer, asked_by: str = "alice") -> discord.Embed:
    """The embed the bot would send for an answer."""
    build = formatting.abstain_embed if answer.abstained or not answer.quotes else formatting.answer_embed
    return build(answer, asked_by=asked_by)


def check_embed(embed: discord.Embed) -> None:
    """Within Discord's limits, no live mention, and every quote laid out as block quote lines + a source line."""
    assert formatting.limit_problems(None, [embed]) == []
    texts = [embed.title or "", embed.description or "", embed.footer.text or ""]
    texts += [f.name + f.value for f in embed.fields]
    for text in texts:
        assert not PINGS.search(text), text
    if embed.colour == formatting.ANSWER_COLOUR:
        for block in (embed.description or "").split("\n\n"):
            *quote, source = block.split("\n")
            assert quote and source.startswith("— "), block
            for line in quote:
                assert line.startswith("> "), block
                assert len(BOLD.findall(line)) % 2 == 0, line


@SETTINGS
@given(question=QUESTIONS, asked_by=TEXT)
@example(question="", asked_by="")
@example(question="x" * 6000, asked_by="@everyone")
@example(question="@everyone <@123456789012345678> <@&123456789012345678> what did Putin say?", asked_by="<@1>")
@example(question="\u202ewhy did putin go to beijing\u202c ```code``` **bold", asked_by="\u202e")
def test_any_question_gets_a_well_formed_reply(engine, question: str, asked_by: str) -> None:
    answer = engine.ask(question)
    for quote in answer.quotes:
        body = engine.article(quote.article_id).body
        assert body[quote.start:quote.end] == quote.text
    check_embed(rendered(answer, asked_by))


def article_file(folder: Path, body: str, title: str = "A title") -> Path:
    """Write one article with front matter."""
    path = folder / "article.md"
    path.write_text(f"---\ntitle: {title!r}\noutlet: Outlet\n---\n{body}\n", encoding="utf-8")
    return path


BODIES = st.one_of(
    TEXT,
    st.lists(TEXT, min_size=1, max_size=8).map("\n\n".join),
    st.integers(min_value=1, max_value=6000).map(lambda n: ("word " * 2000)[:n]),  # no punctuation at all
)


@SETTINGS
@given(body=BODIES, question=st.one_of(st.sampled_from(["what did Putin say?", "trade", "everyone"]), TEXT))
@example(body="", question="anything?")
@example(body="Putin went to Beijing. " + "x" * 5000 + " Trade grew.", question="did trade grow?")
@example(body="@everyone look <@123456789012345678>. Putin met Xi. ```rm -rf``` **hi", question="who met Xi?")
def test_any_article_text_gives_verbatim_quotes_in_a_well_formed_reply(tmp_path_factory, body, question) -> None:
    folder = tmp_path_factory.mktemp("articles")
    article_file(folder, body)
    engine = Engine.open(folder, cache_path=None, embedder=QueryHashEmbedder(), remembered=[])
    answer = engine.ask(question)
    for quote in answer.quotes:
        assert engine.article(quote.article_id).body[quote.start:quote.end] == quote.text
    check_embed(rendered(answer))


@pytest.mark.timeout(240)
def test_a_one_megabyte_article_without_punctuation(tmp_path: Path) -> None:
    words = ["trade", "putin", "beijing", "yuan", "oil", "xi", "summit", "sanctions", "russia", "china"]
    body = " ".join(words[(i * 7) % len(words)] for i in range(200_000))[:1_000_000]
    article_file(tmp_path, body, title="@everyone " + "long " * 100)
    engine = Engine.open(tmp_path, cache_path=None, embedder=QueryHashEmbedder(), remembered=[])
    assert len(engine.articles[0].body) > 990_000
    passages = engine.passages_for(engine.articles[0].id)
    assert len(passages) > 900 and all(len(p.text) <= 1024 for p in passages)
    answer = engine.ask("what about yuan and oil sanctions?")
    for quote in answer.quotes:
        assert engine.article(quote.article_id).body[quote.start:quote.end] == quote.text
    check_embed(rendered(answer))


@pytest.mark.parametrize("question", [
    "@everyone @here <@123456789012345678> <@&123456789012345678> why did Putin go to Beijing?",
    "\u202e\u200b\u0007 what currencies ```do``` **russia** and ||china|| use?",
    "x" * 300,
    "مرحبا 你好 Привет why did putin visit china",
])
async def test_hostile_questions_through_discord_ping_nobody(quote_bot, emulator, question: str) -> None:
    rec = await emulator.slash("ask", {"question": question})
    await rec.wait_final(15)
    assert_within_limits(rec.message)  # the emulator also refuses anything over Discord's limits
    for embed in rec.message["embeds"]:
        check_embed(discord.Embed.from_dict(embed))
