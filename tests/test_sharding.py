"""Many servers: shards in one process (AutoShardedClient) and split over processes (SHARD_COUNT / SHARD_IDS)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import threading
from pathlib import Path

import pytest

from bot.config import SettingsError, load_settings
from bot.log import InteractionLog, Who
from bot.log.pending import PendingAnswer, PendingStore, pending_path
from tests.bot_fixtures import IN_SCOPE, db_rows, wait_private, wait_row
from tests.discord_emulator import MANAGE_GUILD, connected_client
from tests.test_bot_process import TOKEN, base_env, running_bot, stop_bot, warm_index  # noqa: F401  (a fixture)

QUESTIONS = ("Why did Putin go to Beijing right after Trump's visit?", "What did Xi and Putin sign in Beijing?",
             "Is Russia the weaker partner of China?", "What did Trump do in Beijing before Putin came?")


def servers(emulator, count: int) -> list:
    """One server on each of count shards, with alice and a moderator in each."""
    emulator.shard_count = count
    guilds = []
    for shard in range(count):
        guild = emulator.add_guild(f"Shard {shard} server", shard=shard)
        emulator.add_member(guild, "alice")
        emulator.add_member(guild, "moderator", permissions=MANAGE_GUILD)
        guilds.append(guild)
    return guilds


# Settings.

def test_shard_settings_are_parsed() -> None:
    settings = load_settings({"SHARD_COUNT": "4", "SHARD_IDS": " 3, 2 ,"}, dotenv_path=None)
    assert (settings.shard_count, settings.shard_ids, settings.shard_label) == (4, (2, 3), "shard-2-3")
    unsharded = load_settings({}, dotenv_path=None)
    assert (unsharded.shard_count, unsharded.shard_ids, unsharded.shard_label) == (None, None, "")


@pytest.mark.parametrize(("env", "start"), [
    ({"SHARD_IDS": "0,1"}, "SHARD_COUNT must be set"),
    ({"SHARD_COUNT": "2", "SHARD_IDS": "1,2"}, "SHARD_IDS must be numbers from 0 to 1"),
    ({"SHARD_COUNT": "2", "SHARD_IDS": "first"}, "SHARD_IDS must be a comma-separated list of shard numbers"),
    ({"SHARD_COUNT": "0"}, "SHARD_COUNT must be a whole number between 1 and 100000"),
])
def test_bad_shard_settings_are_one_sentence(env: dict, start: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env, dotenv_path=None)
    assert str(caught.value).startswith(start) and str(caught.value).count(".") <= 2


# The log and the token store shared by processes.

def test_pending_answers_have_a_file_per_process_and_the_log_is_shared(tmp_path: Path) -> None:
    log = tmp_path / "interactions.db"
    assert pending_path(log) == tmp_path / "interactions.pending.db"
    assert pending_path(log, "shard-0-1") == tmp_path / "interactions.pending.shard-0-1.db"


def test_a_restart_interrupts_only_its_own_shards_pending_rows(tmp_path: Path) -> None:
    log = InteractionLog(tmp_path / "interactions.db")
    rows = {shard: log.begin(Who((shard + 4 * 1000) << 22, 1, 7, "alice"), "ask", question="q") for shard in range(4)}
    rows["local"] = log.begin(Who(None, None, "local:me", "me"), "local", question="q")  # type: ignore[arg-type]
    assert log.interrupt_pending(keep=[rows[0]], shards=((0, 1), 4)) == 2  # shard 1, and no-server rows (shard 0)
    status = {r["id"]: r["status"] for r in log.db.query("SELECT id, status FROM interactions")}
    assert [status[rows[k]] for k in (0, 1, 2, 3, "local")] == ["pending", "interrupted", "pending", "pending",
                                                                "interrupted"]
    log.close()


def test_processes_opening_a_new_log_at_once_both_migrate_it(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    for attempt in range(40):
        path = tmp_path / f"log-{attempt}.db"
        barrier = threading.Barrier(3)

        def open_it() -> None:
            barrier.wait()
            try:
                InteractionLog(path).close()
            except BaseException as exc:  # noqa: BLE001  (collected for the assertion)
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []


# The emulator's shards.

async def test_the_emulator_routes_servers_by_shard_and_refuses_a_shard_beyond_the_count(emulator) -> None:
    import aiohttp

    emulator.shard_count = 3
    made = [emulator.add_guild(f"Server {k}", shard=k) for k in (2, 0, 1, 2)]
    assert [emulator.shard_of(g) for g in made] == [2, 0, 1, 2] and len({g.id for g in made}) == 4
    on_one = {g.id for g in emulator.guilds.values() if (int(g.id) >> 22) % 3 == 1}
    async with aiohttp.ClientSession() as http:
        async with http.get(emulator.api_base + "/gateway/bot") as response:
            assert (await response.json())["shards"] == 3
        for shard, closed in (([3, 3], 4010), ([1, 3], None)):
            async with http.ws_connect(emulator.gateway_url) as ws:
                assert (await ws.receive_json())["op"] == 10
                await ws.send_json({"op": 2, "d": {"token": "t", "intents": 1, "properties": {}, "shard": shard}})
                if closed:
                    assert (await ws.receive()).data == closed  # Discord's "Invalid shard"
                    continue
                ready = await ws.receive_json()
                assert ready["d"]["shard"] == [1, 3] and {g["id"] for g in ready["d"]["guilds"]} == on_one
                created = {(await ws.receive_json())["d"]["id"] for _ in on_one}
                assert created == on_one


# One process: AutoShardedClient.

@pytest.mark.timeout(90)
async def test_one_process_runs_every_shard_discord_recommends(emulator, make_bot, bot_errors) -> None:
    guilds = servers(emulator, 2)
    bot = make_bot(discord_guild_id=None)
    async with connected_client(bot, emulator, timeout=30):
        assert emulator.calls_to("GET", "/gateway/bot")
        assert sorted(p["shard"] for p in emulator.identify_payloads) == [[0, 2], [1, 2]]
        assert bot.shard_count == 2 and sorted(bot.shards) == [0, 1]
        assert {g.id for g in bot.guilds} >= {int(g.id) for g in guilds}
        await bot.tree.sync()
        for shard, guild in enumerate(guilds):
            rec = await emulator.slash("ask", {"question": IN_SCOPE}, guild_id=guild, user="alice")
            assert rec.shards == [(shard, 2)]
            await rec.wait_final(15)
            assert rec.message["embeds"][0]["description"].startswith("> ")
            row = await wait_row(bot.settings.database_path, rec.id)
            assert row["guild_id"] == guild.id and bot.get_guild(int(guild.id)).shard_id == shard


@pytest.mark.timeout(90)
async def test_a_process_with_some_shards_restarts_without_touching_the_others(
    emulator, make_bot, bot_settings, bot_errors
) -> None:
    guilds = servers(emulator, 4)
    path = bot_settings.database_path
    log = InteractionLog(path)
    left = {k: log.begin(Who(int(g.id), 1, 7, "alice"), "ask", question=QUESTIONS[k]) for k, g in enumerate(guilds)}
    log.close()
    other = PendingStore(pending_path(path, "shard-2-3"))  # the other process's token, which this one must not use
    other.add(PendingAnswer(99, int(emulator.application_id), "tok", 1e12, "ask", QUESTIONS[2], row_id=left[2],
                            guild_id=int(guilds[2].id)))
    other.close()
    bot = make_bot(discord_guild_id=None, shard_count=4, shard_ids=(0, 1))
    async with connected_client(bot, emulator, timeout=30):
        assert sorted(p["shard"] for p in emulator.identify_payloads) == [[0, 4], [1, 4]]
        assert not emulator.calls_to("GET", "/gateway/bot")  # SHARD_COUNT given: no need to ask
        mine = {g.id for g in bot.guilds}
        assert {int(guilds[0].id), int(guilds[1].id)} <= mine and not {int(guilds[2].id), int(guilds[3].id)} & mine
        assert bot.pending.path == pending_path(path, "shard-0-1") and bot.pending.path.exists()
        await bot.tree.sync()
        with pytest.raises(RuntimeError, match="no bot is connected"):
            await emulator.slash("ask", {"question": IN_SCOPE}, guild_id=guilds[2], user="alice")
    status = {r["id"]: r["status"] for r in db_rows(path, "SELECT id, status FROM interactions")}
    assert [status[left[k]] for k in range(4)] == ["interrupted", "interrupted", "pending", "pending"]
    assert db_rows(pending_path(path, "shard-2-3"), "SELECT COUNT(*) AS n FROM pending")[0]["n"] == 1


# Two processes, two shards each, one log.

async def _ask_everywhere(emulator, guilds: list) -> list:
    """Ask each server its own question; return the records once answered."""
    records = []
    for shard, guild in enumerate(guilds):
        rec = await emulator.slash("ask", {"question": QUESTIONS[shard]}, guild_id=guild, user="alice")
        assert rec.shards == [(shard, 4)]  # only the session of that server's shard got it
        records.append(rec)
    for rec in records:
        await rec.wait_final(30)
        assert rec.message["embeds"] and not rec.errors
    return records


@pytest.mark.timeout(400)
async def test_two_processes_of_two_shards_answer_review_and_forget_through_one_log(
    emulator, tmp_path: Path, warm_index: Path
) -> None:
    guilds = servers(emulator, 4)
    db = tmp_path / "interactions.db"
    env = base_env(tmp_path, DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=emulator.api_base, LOG_LEVEL="INFO",
                   DISCORD_GATEWAY_URL=emulator.gateway_url, DISCORD_GUILD_ID=guilds[0].id, SHARD_COUNT="4")
    async with running_bot(tmp_path, env | {"SHARD_IDS": "0,1"}, "run") as first, \
            running_bot(tmp_path, env | {"SHARD_IDS": "2,3"}, "run") as second:
        await emulator.wait_for_shards(range(4), timeout=300)
        emulator.commands[None] = emulator.commands[guilds[0].id]  # as after `python -m bot sync`
        assert sorted(p["shard"] for p in emulator.identify_payloads) == [[k, 4] for k in range(4)]
        records = await _ask_everywhere(emulator, guilds)
        for rec, guild in zip(records, guilds):
            assert (await wait_row(db, rec.id))["guild_id"] == guild.id

        for shard, guild in enumerate(guilds):  # each server's moderator sees that server's questions, and only those
            review = await emulator.slash("review recent", {"limit": 10}, guild_id=guild, user="moderator")
            await review.wait_final(15)
            shown = json.dumps(review.messages)
            assert QUESTIONS[shard][:30] in shown
            assert not any(q[:30] in shown for k, q in enumerate(QUESTIONS) if k != shard)

        for guild in (guilds[0], guilds[3]):  # forget-me in a server of each process
            forget = await emulator.slash("forget-me", guild_id=guild, user="alice")
            assert "deleted" in (await wait_private(forget, 15))["content"].lower()
        alice = emulator.add_user("alice").id
        left = db_rows(db, "SELECT guild_id FROM interactions WHERE user_id = ? AND command = 'ask'", (alice,))
        assert sorted(r["guild_id"] for r in left) == sorted([guilds[1].id, guilds[2].id])

        text = await stop_bot(first, 20)  # shards 0 and 1 go quiet; 2 and 3 keep answering
        assert first.returncode == 0 and "Traceback" not in text
        assert "Shard ID 0 has connected" in text and "Shard ID 1 has connected" in text and "Shard ID 2" not in text
        with pytest.raises(RuntimeError, match="no bot is connected"):
            await emulator.slash("ask", {"question": IN_SCOPE}, guild_id=guilds[1], user="alice")
        still = await emulator.slash("ask", {"question": IN_SCOPE}, guild_id=guilds[2], user="alice")
        await still.wait_final(30)
        assert (await wait_row(db, still.id))["status"] == "ok"
        text = await stop_bot(second, 20)
        assert second.returncode == 0 and "Traceback" not in text
        assert "Shard ID 2 has connected" in text and "Shard ID 3 has connected" in text and "Shard ID 0" not in text
    assert pending_path(db, "shard-0-1").exists() and pending_path(db, "shard-2-3").exists()
    assert not pending_path(db).exists()

    async with running_bot(tmp_path, env | {"SHARD_COUNT": "2"}, "run") as third:  # re-sharded: one process, 2 shards
        await emulator.wait_for_shards(range(2), timeout=300)
        for guild, question in ((guilds[1], QUESTIONS[1]), (guilds[2], QUESTIONS[2])):  # logged by the other two
            review = await emulator.slash("review recent", {"limit": 10}, guild_id=guild, user="moderator")
            await review.wait_final(15)
            assert question[:30] in json.dumps(review.messages)
        text = await stop_bot(third, 20)
        assert third.returncode == 0 and "Traceback" not in text

    process = await asyncio.create_subprocess_exec(  # `python -m bot logs` reads every shard's questions
        sys.executable, "-m", "bot", "logs", "--format", "json", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    logged = json.loads(out)
    assert {r["guild_id"] for r in logged} >= {guilds[1].id, guilds[2].id}
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert {r["guild_id"] for r in await datasette_recent(db)} >= {guilds[1].id, guilds[2].id}  # and Datasette


async def datasette_recent(db: Path) -> list[dict]:
    """The canned `recent` query of the Datasette set-up (datasette/metadata.json) over a log."""
    pytest.importorskip("datasette")
    from tests.test_datasette import METADATA, canned, free_port

    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "datasette", "serve", str(db), "--metadata", str(METADATA), "--host", "127.0.0.1",
        "--port", str(port), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                return await asyncio.to_thread(canned, f"http://127.0.0.1:{port}", "recent")
            except OSError:
                await asyncio.sleep(0.2)
        raise TimeoutError("datasette did not start in 60 s")
    finally:
        server.terminate()
        await server.wait()
