"""/sources and /source (with autocomplete) end to end."""

from __future__ import annotations

from tests.bot_fixtures import assert_within_limits, wait_row


async def test_sources_lists_every_article(quote_bot, emulator, bot_settings) -> None:
    rec = await emulator.slash("sources")
    await rec.wait_final(5)
    assert rec.ephemeral
    assert_within_limits(rec.message)
    fields = rec.message["embeds"][0]["fields"]
    engine = quote_bot.engine
    assert len(fields) == len(engine.articles) == 5
    for field, article in zip(fields, engine.articles):
        assert f"{len(engine.passages_for(article.id))} passages" in field["value"]
    assert "The Moscow Times · 14 October 2023" in "\n".join(f["value"] for f in fields)
    row = await wait_row(bot_settings.database_path, rec.id)
    assert (row["command"], row["status"]) == ("sources", "ok")


async def test_source_autocomplete_then_details(quote_bot, emulator, bot_settings) -> None:
    choices = await emulator.autocomplete("source", "article", "putin")
    assert choices and all("putin" in c["name"].lower() for c in choices)
    assert all(len(c["name"]) <= 100 for c in choices)
    everything = await emulator.autocomplete("source", "article", "")
    assert len(everything) == 5
    chosen = next(c for c in choices if c["value"] == "004-putin-expected-in-beijing")
    rec = await emulator.slash("source", {"article": chosen["value"]})
    await rec.wait_final(5)
    embed = rec.message["embeds"][0]
    assert_within_limits(rec.message)
    assert embed["title"] == "Putin Expected in Beijing, More Dependent Than Ever on China"
    assert embed["url"].startswith("https://www.themoscowtimes.com/")
    assert {f["name"] for f in embed["fields"]} >= {"Outlet", "Date", "Passages"}
    assert embed["description"].startswith("> ")
    row = await wait_row(bot_settings.database_path, rec.id)
    assert (row["command"], row["status"], row["argument"]) == ("source", "ok", "004-putin-expected-in-beijing")


async def test_source_by_typed_title_and_unknown_article(quote_bot, emulator, bot_settings) -> None:
    rec = await emulator.slash("source", {"article": "weaker partner"})
    await rec.wait_final(5)
    assert rec.message["embeds"][0]["title"].startswith("Russia is now the weaker partner")
    missing = await emulator.slash("source", {"article": "football results"})
    await missing.wait_final(5)
    assert missing.ephemeral and "No article matches" in missing.message["content"]
    assert (await wait_row(bot_settings.database_path, missing.id))["status"] == "not_found"
