"""Datasette over a log the bot wrote: metadata, FTS, and every canned query answering with the expected rows."""

from __future__ import annotations

import json
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from bot import judgements, review
from bot.log import InteractionLog
from tests.test_review_data import HALFTIME, NOT_COVERED, fill, quote, sample_servers, table

pytest.importorskip("datasette")

METADATA = Path(__file__).resolve().parents[1] / "datasette" / "metadata.json"
CANNED = ("recent", "unanswered", "unhelpful", "per_user", "per_day", "judgements")
A, B = sample_servers()


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Datasette serving a filled log on 127.0.0.1; yields (base URL, sample)."""
    sample = fill(tmp_path_factory.mktemp("datasette") / "interactions.db", A, B)
    log = InteractionLog(sample.path)
    for guild, name, verdict in ((A.guild, "a_putin", judgements.Verdict(judgements.QUOTE, 2)),
                                 (A.guild, "a_bowl_1", judgements.Verdict(judgements.RIGHTLY_REFUSED)),
                                 (B.guild, "b_secret", judgements.Verdict(judgements.SHOULD_REFUSE))):
        judgements.judge(log.db, guild, sample.ids[name], "9001", verdict)
    log.close()
    port = free_port()
    command = [sys.executable, "-m", "datasette", "serve", str(sample.path), "--metadata", str(METADATA),
               "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/-/versions.json", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    pytest.fail(f"datasette did not start:\n{server.communicate()[0]}")
                time.sleep(0.2)
        yield base, sample
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def get(base: str, path: str, **params: str):
    """GET a JSON page of the site."""
    query = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{base}{path}{'?' + query if query else ''}", timeout=10) as response:
        return json.load(response)


def canned(base: str, name: str, guild: str = "") -> list[dict]:
    """A canned query's rows as JSON objects."""
    return get(base, f"/interactions/{name}.json", _shape="array", guild=guild)


def test_the_metadata_names_every_canned_query_and_documents_the_export_columns() -> None:
    metadata = json.loads(METADATA.read_text())
    database = metadata["databases"]["interactions"]
    assert set(database["queries"]) == set(CANNED)
    assert all(q["title"] and q["description"] and ":guild" in q["sql"] for q in database["queries"].values())
    columns = database["tables"]["interactions"]["columns"]
    assert {k: v for k, v in review.EXPORT_COLUMNS.items() if k in columns} == {
        k: v for k, v in columns.items() if k in review.EXPORT_COLUMNS}


def test_the_site_shows_titles_and_searches_questions(site) -> None:
    base, sample = site
    with urllib.request.urlopen(base + "/", timeout=10) as response:
        assert "Article quote bot: interaction log" in response.read().decode()
    found = get(base, "/interactions/interactions.json", _search="bowl", _shape="array", _col="question")
    assert sorted(r["id"] for r in found) == sorted(sample.ids[n] for n in ("a_bowl_1", "a_bowl_2", "b_bowl"))
    with urllib.request.urlopen(base + "/interactions/interactions", timeout=10) as response:
        page = response.read().decode()
    assert "Row id in the log" in page  # column descriptions are shown
    description = page.index("Search the questions with the Search box below.")
    assert description < page.index('id="_search"')  # and the box is below it, as it says


def test_recent_lists_a_servers_questions_newest_first(site) -> None:
    base, sample = site
    rows = canned(base, "recent", str(A.guild))
    names = ["a_error", "a_oil", "a_halftime", "a_bowl_2", "a_bowl_1", "a_taiwan", "a_putin"]
    assert [r["id"] for r in rows] == [sample.ids[n] for n in names]
    assert {r["guild_id"] for r in rows} == {str(A.guild)}
    assert len(canned(base, "recent")) == 10  # no guild: every server


def test_unanswered_groups_wordings_most_frequent_first(site) -> None:
    base, _ = site
    rows = canned(base, "unanswered", str(A.guild))
    assert [(r["question"], r["times_asked"], r["askers"]) for r in rows] == [
        ("who won the super bowl", 2, 2), (HALFTIME.lower().rstrip("?"), 1, 1)]
    assert rows[0]["first_asked"] < rows[0]["last_asked"]
    assert {r["reason"] for r in rows} == {NOT_COVERED}  # the reason the member was given
    everywhere = canned(base, "unanswered")
    assert {(r["question"], r["guild_id"], r["times_asked"]) for r in everywhere} == {
        ("who won the super bowl", str(A.guild), 2), (HALFTIME.lower().rstrip("?"), str(A.guild), 1),
        ("who won the super bowl", str(B.guild), 1)}


def test_unhelpful_shows_thumbs_and_the_quotes_shown(site) -> None:
    base, sample = site
    rows = canned(base, "unhelpful", str(A.guild))
    assert [(r["id"], r["thumbs_up"], r["thumbs_down"]) for r in rows] == [
        (sample.ids["a_taiwan"], 0, 2), (sample.ids["a_oil"], 1, 1)]
    assert rows[0]["quotes_shown"].split("\n\n") == [
        f"{n - 3}. xi#{n} — Title of xi\n{quote('xi', n).text}" for n in (4, 5)]  # the text that was shown
    assert len(canned(base, "unhelpful")) == 4


def test_per_user_and_per_day_count_questions(site) -> None:
    base, sample = site
    users = canned(base, "per_user", str(A.guild))
    assert [(r["user_id"], r["user_name"], r["questions"], r["answered"], r["not_covered"]) for r in users] == [
        ("1001", "Alice", 5, 2, 2), ("1002", "Bob", 2, 1, 1)]
    days = canned(base, "per_day", str(A.guild))
    expected = Counter(r["created_at"][:10] for r in table(
        sample.path, "SELECT created_at FROM interactions WHERE guild_id = ? AND command IN ('ask', 'followup')",
        (str(A.guild),)))
    assert {r["day"]: r["questions"] for r in days} == dict(expected)
    assert sum(r["failed"] for r in days) == 1 and sum(r["answered"] for r in days) == 3
    assert {r["guild_id"] for r in canned(base, "per_day")} == {str(A.guild), str(B.guild)}


def test_judgements_show_the_verdict_and_the_judged_quote(site) -> None:
    base, sample = site
    rows = canned(base, "judgements", str(A.guild))
    assert [(r["interaction_id"], r["verdict"], r["correct"]) for r in rows] == [
        (sample.ids["a_bowl_1"], "rightly_refused", 1), (sample.ids["a_putin"], "quote", 1)]
    assert rows[1]["answering_text"].startswith("Passage 2 of putin") and rows[0]["answering_text"] is None
    assert len(canned(base, "judgements")) == 3


def test_a_headless_chromium_screenshot_of_the_main_page(site, tmp_path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Debian's chromium package is not installed")
    shot = tmp_path / "datasette.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", "--window-size=1280,900",
                    f"--screenshot={shot}", site[0] + "/interactions"],
                   check=True, capture_output=True, timeout=90)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", data[16:24]) == (1280, 900)
