"""/articles: owners add, remove and reload articles from Discord; answers go on from the old index meanwhile."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from bot import articles_admin
from bot.articles_admin import UploadError
from bot.engine_holder import EngineHolder
from knowledge.models import Article
from tests.bot_fixtures import IN_SCOPE, db_rows, wait_row
from tests.knowledge_fixtures import copy_database
from tests.discord_emulator import connected_client

NEW_ARTICLE = """---
title: The Quillfeather Compact on Arctic Shipping
outlet: Polar Ledger
date: 2026-11-30
---
The Quillfeather Compact was signed in Reykjavik by eleven shipping nations. It sets a speed limit of ten knots for
cargo ships crossing the Arctic in winter, to protect narwhal migration routes. The compact's secretary, Ingrid
Solvang, said the limit would be enforced with satellite tracking from next spring.
"""
NEW_QUESTION = "What speed limit does the Quillfeather Compact set for Arctic cargo ships?"


@pytest.mark.parametrize(("name", "data", "words"), [
    ("notes.pdf", b"%PDF", "notes.pdf must be a .md or .txt file."),
    ("empty.md", b"   \n", "empty.md can't be added: the file is empty."),
    ("binary.txt", b"abc\x00def", "binary.txt can't be added: the file looks binary"),
    ("latin.txt", "Caf\u00e9 au lait".encode("latin-1"), "latin.txt can't be added: the file is not UTF-8"),
    ("huge.md", b"x" * 1_000_001, "huge.md is too large (1,000,001 bytes; the limit is 1 MB)."),
])
def test_bad_uploads_get_one_sentence(name: str, data: bytes, words: str) -> None:
    with pytest.raises(UploadError) as caught:
        articles_admin.check_upload(name, data, [])
    assert str(caught.value).startswith(words) and str(caught.value).endswith(".")


def test_a_good_upload_is_checked_named_and_written_atomically(tmp_path) -> None:
    name, article = articles_admin.check_upload("../My Article!.MD", NEW_ARTICLE.encode(), [])
    assert name == "My-Article.md" and article.title.startswith("The Quillfeather Compact")
    with pytest.raises(UploadError, match="already uses the id"):
        articles_admin.check_upload("my article.md", NEW_ARTICLE.encode(), [article])
    path = articles_admin.write_article(tmp_path, name, NEW_ARTICLE.encode())
    assert path.read_text() == NEW_ARTICLE and [p.name for p in tmp_path.iterdir()] == [name]
    with pytest.raises(UploadError, match="already exists"):
        articles_admin.write_article(tmp_path, name, b"x")


def test_changes_between_two_article_lists() -> None:
    a, b, c = (Article(id=i, title=i.upper(), body="text\n") for i in "abc")
    found = articles_admin.changes([a, b], [Article(id="a", title="A", body="new\n"), c])
    assert (found.added, found.removed, found.edited) == (("c",), ("b",), ("a",))
    assert articles_admin.describe_changes(found, {"a": "A", "b": "B", "c": "C"}) == (
        "Added: “C”.\nRemoved: “B”.\nChanged: “A”.")


async def test_a_failed_build_keeps_the_old_engine() -> None:
    def explode(settings, current):
        raise RuntimeError("disk full")

    holder = EngineHolder("old", builder=explode)
    with pytest.raises(RuntimeError):
        await holder.rebuild(None)
    assert holder.current == "old"
    holder.builder = lambda settings, current: current + "+new"
    assert (await holder.rebuild(None)).new == "old+new" and holder.current == "old+new"


@pytest.fixture
def articles_bot(make_bot, article_dir, engine_cache, tmp_path):
    """A bot over a writable copy of the articles, with a copy of the session's embedding cache."""
    index = tmp_path / "articles-index.db"
    copy_database(engine_cache, index)
    return lambda **kw: make_bot(knowledge_dir=article_dir, index_path=index, **kw)


async def run(emulator, name, options=None, timeout=60, **kwargs):
    """Invoke a command and wait for its final message."""
    rec = await emulator.slash(name, options or {}, **kwargs)
    await rec.wait_final(timeout)
    return rec


async def test_only_owners_change_articles_and_refusals_are_logged(
    emulator, articles_bot, bot_settings, bot_errors, article_dir
) -> None:
    async with connected_client(articles_bot(), emulator):
        upload = emulator.upload("new.md", NEW_ARTICLE)
        for sub, options in [("add", {"file": upload}), ("remove", {"article": "Arriving Second"}), ("reload", {})]:
            rec = await run(emulator, f"articles {sub}", options, user="moderator")
            assert rec.ephemeral and "only the bot's owners" in rec.message["content"]
            row = await wait_row(bot_settings.database_path, rec.id)
            assert (row["command"], row["status"], json.loads(row["argument"])) == ("articles", "refused", {"sub": sub})
        listing = await run(emulator, "articles list", user="alice")
        assert listing.ephemeral and listing.message["embeds"][0]["title"].startswith("Articles (")
    assert not (article_dir / "new.md").exists()


async def test_an_owner_adds_an_article_while_questions_are_answered_from_the_old_index(
    emulator, articles_bot, bot_settings, bot_errors, article_dir
) -> None:
    emulator.add_member(emulator.guild, "app-owner")
    path = bot_settings.database_path
    async with connected_client(articles_bot(), emulator) as bot:
        old_engine = bot.engine
        entered, gate = threading.Event(), threading.Event()
        real_builder = bot.engines.builder

        def gated(settings, current):
            entered.set()
            gate.wait(60)
            return real_builder(settings, current)

        bot.engines.builder = gated
        add = await emulator.slash("articles add", {"file": emulator.upload("quill.md", NEW_ARTICLE)},
                                   user="app-owner")
        await add.wait_response(3)
        await asyncio.to_thread(entered.wait, 10)
        during = await run(emulator, "ask", {"question": NEW_QUESTION}, user="alice")  # the build is still waiting
        assert not add.messages or add.loading
        assert "don't cover this" in during.message["embeds"][0]["description"]
        assert bot.engine is old_engine
        gate.set()
        await add.wait_final(120)
        assert "Added **The Quillfeather Compact" in add.message["content"] and add.ephemeral
        assert bot.engine is not old_engine and (article_dir / "quill.md").read_text() == NEW_ARTICLE
        after = await run(emulator, "ask", {"question": NEW_QUESTION}, user="alice")
        assert "ten knots" in after.message["embeds"][0]["description"]
        listing = await run(emulator, "articles list", user="alice")
        assert "added by app-owner" in listing.message["embeds"][0]["description"]
        row = await wait_row(path, add.id)
        assert (row["status"], json.loads(row["argument"])["article"]) == ("ok", "quill")
        bad = await run(emulator, "articles add", {"file": emulator.upload("photo.png", b"\x89PNG", "image/png")},
                        user="app-owner")
        assert bad.message["content"] == "photo.png must be a .md or .txt file."
        choices = await emulator.autocomplete("articles remove", "article", "quillf", user="app-owner")
        assert choices[0]["value"]
        removed = await run(emulator, "articles remove", {"article": choices[0]["value"]}, user="app-owner")
        assert "Removed **The Quillfeather Compact" in removed.message["content"]
        assert not (article_dir / "quill.md").exists()
        gone = await run(emulator, "ask", {"question": NEW_QUESTION}, user="alice")
        assert "don't cover this" in gone.message["embeds"][0]["description"]
    assert db_rows(path, "SELECT * FROM article_uploads") == []


async def test_reload_picks_up_a_dropped_file_and_a_team_member_is_an_owner(
    emulator, articles_bot, bot_errors, article_dir
) -> None:
    teammate = emulator.add_user("teammate")
    emulator.team_members = [emulator.app_owner, teammate]
    emulator.add_member(emulator.guild, "teammate")
    async with connected_client(articles_bot(), emulator):
        (article_dir / "dropped.md").write_text(NEW_ARTICLE)
        rec = await run(emulator, "articles reload", user="teammate")
        assert "Added: “The Quillfeather Compact on Arctic Shipping”." in rec.message["content"]
        answer = await run(emulator, "ask", {"question": NEW_QUESTION}, user="alice")
        assert "ten knots" in answer.message["embeds"][0]["description"]


async def test_a_failed_build_leaves_the_old_index_serving_and_says_why(
    emulator, make_bot, article_dir, tmp_path, bot_errors
) -> None:
    bot = make_bot(knowledge_dir=article_dir, index_path=tmp_path, owner_ids=frozenset())  # a directory: unusable
    emulator.add_member(emulator.guild, "app-owner")
    async with connected_client(bot, emulator):
        old = bot.engine
        rec = await run(emulator, "articles add", {"file": emulator.upload("quill.md", NEW_ARTICLE)}, user="app-owner")
        assert "could not be built" in rec.message["content"] and "quill.md was not added" in rec.message["content"]
        assert bot.engine is old and not (article_dir / "quill.md").exists()
        answer = await run(emulator, "ask", {"question": IN_SCOPE}, user="alice")
        assert answer.message["embeds"][0]["description"].startswith("> ")
