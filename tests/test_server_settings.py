"""Per-server settings: parsing, storage and history, per-server retention, and /settings end to end."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from bot import server_settings
from bot.config import Settings
from bot.log import InteractionLog, Who, iso
from bot.log import guild_settings as stored
from bot.retention import purge_by_server
from bot.server_settings import ServerSettingError
from tests.bot_fixtures import IN_SCOPE, db_rows, wait_row
from tests.discord_emulator import MANAGE_GUILD, connected_client

CHANNEL = 123456789012345678


@pytest.mark.parametrize(("key", "raw", "words"), [
    ("quotes_per_answer", "9", "quotes_per_answer must be a whole number between 1 and 5"),
    ("quotes_per_answer", "three", "quotes_per_answer must be a whole number"),
    ("cooldown_seconds", "-1", "cooldown_seconds must be a number between 0 and 86400"),
    ("answer_visibility", "secret", "answer_visibility must be public or private"),
    ("anonymize_users", "maybe", "anonymize_users must be true or false"),
    ("answer_channels", "#general", "answer_channels must be channels"),
    ("moderator_roles", "admins", "moderator_roles must be roles"),
    ("colour", "red", "'colour' is not a setting"),
])
def test_bad_values_get_one_sentence_naming_the_key(key: str, raw: str, words: str) -> None:
    with pytest.raises(ServerSettingError) as caught:
        server_settings.parse(key, raw)
    message = str(caught.value)
    assert message.startswith(words) and message.endswith(".") and message.count(". ") == 0


def test_values_parse_from_what_moderators_type() -> None:
    assert server_settings.parse("answer_channels", f"<#{CHANNEL}>, {CHANNEL + 1}") == {CHANNEL, CHANNEL + 1}
    assert server_settings.parse("answer_channels", "all") == frozenset()
    assert server_settings.parse("moderator_roles", f"<@&{CHANNEL}>") == {CHANNEL}
    assert server_settings.parse("answer_visibility", " Private ") == "private"
    assert server_settings.parse("cooldown_seconds", "2.5") == 2.5
    with pytest.raises(ServerSettingError, match="ANONYMIZE_KEY"):
        server_settings.parse("anonymize_users", "on", anonymize_key_set=False)


def test_effective_values_and_their_sources() -> None:
    settings = Settings(answer_quotes=3, allowed_channel_ids=frozenset({CHANNEL}))
    overrides = {"quotes_per_answer": server_settings.encode("quotes_per_answer", 1),
                 "answer_channels": server_settings.encode("answer_channels", frozenset())}
    config = server_settings.effective(settings, overrides)
    assert config.quotes_per_answer == 1 and config.answer_channels == frozenset()
    assert server_settings.effective(settings).answer_channels == {CHANNEL}
    rows = {name: (value, source) for name, value, source in server_settings.describe(settings, overrides)}
    assert rows["quotes_per_answer"] == ("1", "this server")
    assert rows["answer_channels"] == ("all channels", "this server")
    assert rows["cooldown_rate"] == ("5", "default (ASK_COOLDOWN_RATE in .env)")
    assert set(rows) == set(server_settings.KEYS)


def test_changes_are_stored_per_server_with_their_history(tmp_path) -> None:
    log = InteractionLog(tmp_path / "log.db")
    assert stored.change(log.db, 1, "quotes_per_answer", "2", user="10", user_name="Mo") is None
    assert stored.change(log.db, 1, "quotes_per_answer", "4", user="10") == "2"
    stored.change(log.db, 2, "cooldown_rate", "0", user="20")
    assert stored.change(log.db, 1, "quotes_per_answer", None, user="11") == "4"
    assert stored.load_all(log.db) == {2: {"cooldown_rate": "0"}}
    history = stored.history(log.db, 1)
    assert [(h["old_value"], h["new_value"], h["changed_by"]) for h in history] == [
        ("4", None, "11"), ("2", "4", "10"), (None, "2", "10")]
    assert history[-1]["changed_by_name"] == "Mo" and history[-1]["changed_at"].endswith("Z")
    log.close()


def test_per_server_retention_overrides_the_default(tmp_path) -> None:
    now = datetime(2025, 6, 1, tzinfo=timezone.utc)
    log = InteractionLog(tmp_path / "log.db", clock=lambda: now - timedelta(days=40))
    for guild in (1, 2, 3):
        log.record(Who(guild, 5, 7, "u"), "ask", status="ok", question="old")
    log.close()
    log = InteractionLog(tmp_path / "log.db")
    result = purge_by_server(log.db, 30, {2: 60, 3: 0}, now=now)
    left = sorted(r["guild_id"] for r in log.db.query("SELECT guild_id FROM interactions"))
    assert left == ["2", "3"] and result.interactions == 1
    assert purge_by_server(log.db, 0, {2: 10}, now=now).interactions == 1
    log.close()


def test_anonymised_logging_can_be_chosen_per_server(tmp_path) -> None:
    log = InteractionLog(tmp_path / "log.db", anonymize_key="k" * 32, anonymize_default=False)
    log.guild_anonymize = {"2": True}
    log.record(Who(1, 5, 7, "Plain"), "ask", status="ok", question="q")
    log.record(Who(2, 5, 7, "Hidden"), "ask", status="ok", question="q")
    rows = {r["guild_id"]: r for r in log.db.query("SELECT * FROM interactions")}
    assert (rows["1"]["user_id"], rows["1"]["user_name"]) == ("7", "Plain")
    assert rows["2"]["user_id"].startswith("anon:") and rows["2"]["user_name"] is None
    log.close()


# End to end through the emulator.

async def run(emulator, name, options=None, **kwargs):
    """Invoke a command and wait for its final message."""
    rec = await emulator.slash(name, options or {}, **kwargs)
    await rec.wait_final(10)
    return rec


async def test_settings_are_for_manage_server_and_refusals_are_logged(quote_bot, emulator, bot_settings) -> None:
    synced = next(c for c in emulator.commands[emulator.guild.id] if c["name"] == "settings")
    assert int(synced["default_member_permissions"]) == MANAGE_GUILD
    rec = await run(emulator, "settings set", {"key": "quotes_per_answer", "value": "1"}, user="alice",
                    ignore_default_permissions=True)
    assert rec.ephemeral and "only for members with Manage Server" in rec.message["content"]
    row = await wait_row(bot_settings.database_path, rec.id)
    assert (row["command"], row["status"]) == ("settings", "refused")
    assert quote_bot.config(int(emulator.guild.id)).quotes_per_answer == 3


async def test_a_server_sets_its_own_values_without_touching_another(
    emulator, make_bot, bot_settings, bot_errors
) -> None:
    other = emulator.add_guild("Other Guild", channels=("lobby",))
    emulator.add_member(other, "bob")
    path = bot_settings.database_path
    async with connected_client(make_bot(), emulator) as bot:
        await bot.sync_to_guild(int(other.id))
        bad = await run(emulator, "settings set", {"key": "quotes_per_answer", "value": "7"}, user="moderator")
        assert bad.ephemeral and bad.message["content"].startswith("quotes_per_answer must be")
        rec = await run(emulator, "settings set", {"key": "quotes_per_answer", "value": "1"}, user="moderator")
        assert rec.ephemeral and "**quotes_per_answer** is now 1" in rec.message["content"]
        row = await wait_row(path, rec.id)
        assert json.loads(row["argument"]) == {"sub": "set", "key": "quotes_per_answer", "old": None, "new": "1"}
        here = await run(emulator, "ask", {"question": IN_SCOPE}, user="alice")
        there = await run(emulator, "ask", {"question": IN_SCOPE}, guild_id=other, user="bob")
        assert (await wait_row(path, here.id))["quote_count"] == 1
        assert (await wait_row(path, there.id))["quote_count"] == 3
        shown = await run(emulator, "settings show", user="moderator")
        fields = {f["name"]: f["value"] for f in shown.message["embeds"][0]["fields"]}
        assert fields["quotes_per_answer"] == "1\n*from this server*"
        assert fields["cooldown_rate"].endswith("*from default (ASK_COOLDOWN_RATE in .env)*")
        random = emulator.guild.channel("random")
        await run(emulator, "settings set", {"key": "answer_channels", "value": f"<#{random.id}>"}, user="moderator")
        refused = await run(emulator, "ask", {"question": IN_SCOPE}, channel_id="general", user="alice")
        assert refused.ephemeral and f"<#{random.id}>" in refused.message["content"]
        elsewhere = await run(emulator, "ask", {"question": IN_SCOPE}, guild_id=other, user="bob")
        assert elsewhere.message["embeds"] and not elsewhere.ephemeral
    changes = db_rows(path, "SELECT * FROM guild_setting_changes ORDER BY id")
    assert [(c["guild_id"], c["key"], c["old_value"], c["new_value"]) for c in changes] == [
        (emulator.guild.id, "quotes_per_answer", None, "1"),
        (emulator.guild.id, "answer_channels", None, str(random.id))]
    assert changes[0]["changed_by"] == emulator.guild.member("moderator").id
    async with connected_client(make_bot(), emulator) as bot:  # a restart keeps them
        assert bot.config(int(emulator.guild.id)).quotes_per_answer == 1
        reset = await run(emulator, "settings reset", {"key": "all"}, user="moderator", channel_id="general")
        assert reset.message["content"].count("(the default;") == 2
        assert bot.config(int(emulator.guild.id)).answer_channels == frozenset()


async def test_private_by_default_and_moderator_roles(emulator, make_bot, bot_settings, bot_errors) -> None:
    helpers = emulator.guild.add_role("helpers")
    emulator.add_member(emulator.guild, "helper", roles=[helpers])
    async with connected_client(make_bot(), emulator):
        await run(emulator, "settings set", {"key": "answer_visibility", "value": "private"}, user="moderator")
        private = await run(emulator, "ask", {"question": IN_SCOPE}, user="alice")
        assert private.ephemeral and private.message["embeds"]
        public = await run(emulator, "ask", {"question": IN_SCOPE, "private": False}, user="alice")
        assert not public.ephemeral and public.message["embeds"]
        bad = await run(emulator, "settings set", {"key": "moderator_roles", "value": "123456789012345678"},
                        user="moderator")
        assert "123456789012345678 is not one of them" in bad.message["content"]
        refused = await run(emulator, "review recent", user="helper", ignore_default_permissions=True)
        assert "only for this server's moderators" in refused.message["content"]
        await run(emulator, "settings set", {"key": "moderator_roles", "value": f"<@&{helpers.id}>"}, user="moderator")
        allowed = await run(emulator, "review recent", user="helper", ignore_default_permissions=True)
        assert allowed.message["embeds"][0]["title"] == "Recent questions"


async def test_cooldown_and_anonymised_logging_per_server(emulator, make_bot, bot_settings, bot_errors) -> None:
    other = emulator.add_guild("Other Guild", channels=("lobby",))
    emulator.add_member(other, "bob")
    path = bot_settings.database_path
    async with connected_client(make_bot(anonymize_key="k" * 40), emulator) as bot:
        await bot.sync_to_guild(int(other.id))
        await run(emulator, "settings set", {"key": "cooldown_rate", "value": "1"}, user="moderator")
        await run(emulator, "settings set", {"key": "anonymize_users", "value": "on"}, user="moderator")
        first = await run(emulator, "ask", {"question": IN_SCOPE}, user="alice")
        second = await run(emulator, "ask", {"question": IN_SCOPE}, user="alice")
        assert first.message["embeds"] and second.ephemeral and "try again" in second.message["content"]
        for _ in range(2):  # the other server keeps the default (no cooldown in these tests) and plain ids
            there = await run(emulator, "ask", {"question": IN_SCOPE}, guild_id=other, user="bob")
            assert there.message["embeds"]
        here_row = await wait_row(path, first.id)
        assert here_row["user_id"].startswith("anon:") and here_row["user_name"] is None
        there_row = await wait_row(path, there.id)
        assert there_row["user_id"] == other.member("bob").id and there_row["user_name"] == "Bob"
    async with connected_client(make_bot(), emulator):  # no ANONYMIZE_KEY on this machine: it can't be turned on
        refused = await run(emulator, "settings set", {"key": "anonymize_users", "value": "true"}, user="moderator")
        assert refused.message["content"] == (
            "anonymize_users can't be turned on: the bot's operator must first set ANONYMIZE_KEY.")
