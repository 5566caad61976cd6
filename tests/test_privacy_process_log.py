"""In anonymised mode the process log (stderr of `python -m bot run`, even at DEBUG) names no member by their id."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot import review
from bot.cogs.privacy import PAYLOAD_LOGGER, quiet_payloads
from tests.bot_fixtures import IN_SCOPE, wait_private, wait_row
from tests.test_bot_process import TOKEN, base_env, running_bot, stop_bot, warm_index  # noqa: F401 (warm_index is a fixture)

KEY = "process-log-test-key-" * 3


@pytest.mark.timeout(180)
async def test_an_anonymised_process_log_holds_no_member_id(emulator, tmp_path: Path, warm_index: Path) -> None:
    a = emulator.guild
    emulator.add_member(a, "bob")
    general, random = a.channel("general"), a.channel("random")
    env = base_env(
        tmp_path, DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=emulator.api_base, DISCORD_GATEWAY_URL=emulator.gateway_url,
        DISCORD_GUILD_ID=a.id, LOG_LEVEL="DEBUG", ANONYMIZE_USERS="true", ANONYMIZE_KEY=KEY,
        ALLOWED_CHANNEL_IDS=general.id, ASK_COOLDOWN_RATE="1", ASK_COOLDOWN_SECONDS="60",
    )
    path = tmp_path / "interactions.db"
    async with running_bot(tmp_path, env, "run") as process:
        await emulator.wait_for_client(timeout=120)
        steps = [  # (command, options, who, where, status logged)
            ("ask", {"question": IN_SCOPE}, "alice", general, "ok"),
            ("ask", {"question": "And why then?"}, "alice", general, "rate_limited"),  # the cooldown
            ("ask", {"question": IN_SCOPE}, "bob", random, "refused"),  # a wrong channel
            ("review recent", {}, "bob", general, "refused"),  # not a moderator
            ("review recent", {"user": "alice"}, "moderator", general, "ok"),
        ]
        for command, options, user, channel, status in steps:
            rec = await emulator.slash(command, options, user=user, channel_id=channel.id,
                                       ignore_default_permissions=True)
            await rec.wait_final(15)
            assert (await wait_row(path, rec.id, timeout=10))["status"] == status, command
        forget = await emulator.slash("forget-me", user="alice")
        await wait_private(forget, 10)
        text = await stop_bot(process, 15)
    assert process.returncode == 0, text
    bob = review.user_key(a.member("bob").id, KEY)
    assert f"/ask refused for {bob}: ChannelNotAllowed" in text  # members appear by their keyed hash
    assert "/review recent refused for a member without" in text and "/forget-me removed" in text
    assert "DEBUG" in text and "WebSocket Event" not in text  # DEBUG, without discord.py's payload dumps
    people = [m for m in a.members.values() if not m.user.bot]
    assert len(people) == 4  # alice, moderator, bob and the server's owner
    for member in people:
        assert member.id not in text, member.user.username
    for name in ("Alice", "Bob"):
        assert name not in text


def test_quieting_payloads_raises_discord_py_to_info_and_reports_the_old_level() -> None:
    logger = logging.getLogger(PAYLOAD_LOGGER)
    saved = logger.level
    try:
        logger.setLevel(logging.DEBUG)
        assert quiet_payloads() == logging.DEBUG and logger.level == logging.INFO
        logger.setLevel(logging.WARNING)
        assert quiet_payloads() == logging.WARNING and logger.level == logging.WARNING
    finally:
        logger.setLevel(saved)
