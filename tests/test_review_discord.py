"""/review end to end through the Discord emulator: who may use it, what each sub-command shows, server isolation."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.cogs.review import REFUSAL
from bot.config import Settings
from bot.review import EXPORT_COLUMNS
from tests.bot_fixtures import assert_within_limits, custom_ids, db_rows, wait_row
from tests.discord_emulator import MANAGE_GUILD, DiscordEmulator, ErrorLogCollector
from tests.test_review_data import HALFTIME, PUTIN, SECRET_B, TAIWAN, fill, review_bot, server_of

pytestmark = pytest.mark.asyncio(loop_scope="module")
SUBCOMMANDS = {
    "recent": {}, "search": {"text": "super bowl"}, "unanswered": {"period": "all"}, "unhelpful": {"period": "all"},
    "stats": {"period": "all"}, "export": {"start": "all"}, "judged": {},
}
A_ONLY_WORD, B_ONLY_WORD = "capybara-a-only", "narwhal-b-only"


@dataclass
class Env:
    """The emulator, the bot, the log and who is who."""

    emulator: DiscordEmulator
    bot: Any
    path: Path
    a: Any
    b: Any
    ids: dict[str, int]

    async def run(self, command: str, options: dict | None = None, *, user: str = "moderator", guild=None, **kw):
        """Invoke a /review sub-command (or any command) and wait for what the user finally sees."""
        rec = await self.emulator.slash(command, options or {}, user=user, guild_id=guild or self.a, **kw)
        await rec.wait_final(10)
        await self.emulator.sync_client()
        return rec


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(tmp_path_factory) -> Env:
    """Two servers with moderators and members, a filled log, and one bot connected to both."""
    emulator = DiscordEmulator()
    errors = ErrorLogCollector(emulator, loggers=("discord", "bot"))
    await emulator.start()
    a = emulator.guild
    bob = emulator.add_member(a, "bob")
    helpers = a.add_role("Helpers")
    emulator.add_member(a, "helper", roles=[helpers])
    b = emulator.add_guild("Other Guild", channels=("lobby", "news"))
    carol = emulator.add_member(b, "carol")
    emulator.add_member(b, "modb", permissions=MANAGE_GUILD)
    path = tmp_path_factory.mktemp("review") / "interactions.db"
    alice = a.member("alice")
    filled = fill(path, server_of(a, {"alice": alice.id, "bob": bob.id}), server_of(b, {"carol": carol.id}))
    settings = Settings(discord_guild_id=int(a.id), database_path=path, index_path=path.with_name("index.db"),
                        ask_cooldown_rate=0, moderator_role_ids=frozenset({int(helpers.id)}), log_retention_days=0)
    with errors.installed():
        async with review_bot(emulator, settings, also_sync=[b.id]) as bot:
            environment = Env(emulator, bot, path, a, b, filled.ids)
            await environment.run("ask", {"question": f"Is the {A_ONLY_WORD} covered?"}, user="alice")
            await environment.run("ask", {"question": f"Is the {B_ONLY_WORD} covered?"}, user="carol", guild=b)
            yield environment
        await emulator.stop()
    if errors.records:
        pytest.fail("errors were logged:\n" + "\n".join(errors.describe(r) for r in errors.records))


def seen(rec) -> str:
    """Everything a user could read in an interaction's messages and files."""
    return json.dumps(rec.messages, ensure_ascii=False) + "".join(f.text("utf-8-sig") for f in rec.files)


async def test_review_is_a_moderator_only_server_command_group(env: Env) -> None:
    synced = next(c for c in env.emulator.commands[env.a.id] if c["name"] == "review")
    assert int(synced["default_member_permissions"]) == MANAGE_GUILD
    assert synced.get("contexts") == [0] or synced.get("dm_permission") is False
    assert {o["name"] for o in synced["options"]} == set(SUBCOMMANDS)
    forget = next(c for c in env.emulator.commands[env.a.id] if c["name"] == "forget-me")
    assert forget["default_member_permissions"] is None


@pytest.mark.parametrize("sub", list(SUBCOMMANDS))
async def test_members_without_permission_are_refused_and_learn_nothing(env: Env, sub: str) -> None:
    rec = await env.run(f"review {sub}", SUBCOMMANDS[sub], user="bob", ignore_default_permissions=True)
    assert rec.callback_type == 4 and rec.ephemeral and len(rec.messages) == 1
    assert rec.message["content"] == REFUSAL and not rec.message["embeds"] and not rec.files
    assert not rec.message["components"]
    row = await wait_row(env.path, rec.id)
    assert (row["command"], row["status"], json.loads(row["argument"])) == ("review", "refused", {"sub": sub})


async def test_a_configured_moderator_role_is_enough(env: Env) -> None:
    rec = await env.run("review recent", {"limit": 5}, user="helper", ignore_default_permissions=True)
    assert rec.ephemeral and rec.message["embeds"][0]["title"] == "Recent questions"
    assert_within_limits(rec.message)


async def test_each_server_sees_only_its_own_rows_in_every_sub_command(env: Env) -> None:
    a_marks = [A_ONLY_WORD, TAIWAN, f"<#{env.a.channel().id}>", f"<@{env.a.member('alice').id}>"]
    b_marks = [B_ONLY_WORD, SECRET_B, f"<#{env.b.channel().id}>", f"<@{env.b.member('carol').id}>"]
    b_rows = [str(r["id"]) for r in db_rows(env.path, "SELECT id FROM interactions WHERE guild_id = ?", (env.b.id,))]
    shown_a, shown_b = "", ""
    for sub, options in SUBCOMMANDS.items():
        rec_a = await env.run(f"review {sub}", options)
        rec_b = await env.run(f"review {sub}", options, user="modb", guild=env.b)
        for rec in (rec_a, rec_b):
            assert rec.ephemeral and not rec.errors, rec.errors
            assert_within_limits(rec.message)
        text_a, text_b = seen(rec_a), seen(rec_b)
        assert not [m for m in b_marks if m in text_a], sub
        assert not [m for m in a_marks if m in text_b], sub
        assert not [i for i in b_rows if f"`#{i}`" in text_a], sub
        shown_a, shown_b = shown_a + text_a, shown_b + text_b
    assert all(m in shown_a for m in a_marks) and all(m in shown_b for m in b_marks)  # each saw its own


async def test_recent_shows_who_where_and_how_it_went(env: Env) -> None:
    rec = await env.run("review recent", {"user": "bob", "channel": env.a.channel(list(env.a.channels)[1])})
    embed = rec.message["embeds"][0]
    assert embed["title"] == "Recent questions" and TAIWAN in embed["description"]
    assert "👎 2" in embed["description"] and "✅ 2 quotes" in embed["description"]
    assert "who won the super bowl" not in embed["description"]  # asked by bob, but in the other channel
    assert embed["footer"]["text"].startswith("Page 1 of 1 · 1–1 of 1 question")
    assert custom_ids(rec.message) == [f"jg:open:{env.ids['a_taiwan']}"]  # one page: no paging, a judge button


async def test_search_finds_questions_by_their_words(env: Env) -> None:
    rec = await env.run("review search", {"text": "BEIJING, Putin?"})
    description = rec.message["embeds"][0]["description"]
    assert PUTIN in description and HALFTIME not in description
    nothing = await env.run("review search", {"text": "?!"})
    assert "some words" in nothing.message["content"] and nothing.ephemeral


async def test_unanswered_groups_the_coverage_gaps_most_frequent_first(env: Env) -> None:
    description = (await env.run("review unanswered", {"period": "all"})).message["embeds"][0]["description"]
    lines = description.splitlines()
    assert lines[0].startswith("**2×** by 2 people") and "super bowl" in lines[1].lower()
    assert A_ONLY_WORD in description and HALFTIME in description


async def test_unhelpful_shows_the_quotes_that_were_shown(env: Env) -> None:
    embed = (await env.run("review unhelpful", {"period": "all"})).message["embeds"][0]
    first, second = embed["description"].split("\n\n")[:2]
    assert TAIWAN in first and "`xi#4`" in first and "`xi#5`" in first and "Passage 4 of xi" in first
    assert "How much oil" in second and "`oil#7`" in second


async def test_stats_sum_up_the_period(env: Env) -> None:
    embed = (await env.run("review stats", {"period": "all"})).message["embeds"][0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Questions"].startswith("**8** from 2 people")
    assert fields["Answer rate"].startswith("**43%**")  # 3 answered, 4 not covered
    assert fields["Feedback"] == "👍 **2** · 👎 **3**"
    assert "refused /review attempts" in fields["Problems"]
    assert f"<#{env.a.channel().id}>" in fields["Busiest channels"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_export_rows_equal_the_database(env: Env, fmt: str) -> None:
    rec = await env.run("review export", {"start": "30d", "format": fmt})
    [attachment] = rec.files
    assert attachment.filename.startswith(f"review-{env.a.id}-") and attachment.filename.endswith(f".{fmt}")
    text = attachment.text("utf-8-sig")
    if fmt == "csv":
        records = list(csv.DictReader(io.StringIO(text)))
        assert list(records[0]) == list(EXPORT_COLUMNS)
    else:
        records = [json.loads(line) for line in text.splitlines()]
    audit = await wait_row(env.path, rec.id)
    expected = db_rows(env.path, "SELECT * FROM interactions WHERE guild_id = ? AND id < ? ORDER BY created_at, id",
                       (env.a.id, audit["id"]))
    assert len(records) == len(expected) > 10 and f"{len(expected)} rows from" in rec.message["content"]
    for record, row in zip(records, expected):
        for column in row.keys() & record.keys():
            want = "" if row[column] is None and fmt == "csv" else row[column]
            got = record[column]
            assert (str(got) if fmt == "csv" else got) == (str(want) if fmt == "csv" else want), column
    assert json.loads(audit["argument"])["format"] == fmt


async def test_a_bad_export_date_gets_a_hint_and_nothing_else(env: Env) -> None:
    rec = await env.run("review export", {"start": "last tuesday"})
    assert rec.ephemeral and "YYYY-MM-DD" in rec.message["content"] and not rec.files


async def test_an_export_of_an_empty_range_is_a_header_only_file(env: Env) -> None:
    rec = await env.run("review export", {"start": "2001-01-01", "end": "2001-12-31"})
    [attachment] = rec.files
    assert attachment.filename == f"review-{env.a.id}-2001-01-01-2001-12-31.csv"
    assert attachment.text("utf-8-sig") == ",".join(EXPORT_COLUMNS) + "\r\n"
    assert rec.message["content"].startswith("0 rows from 2001-01-01 to 2001-12-31 (UTC)")
