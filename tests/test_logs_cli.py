"""`python -m bot logs`: the same filters as /review over the log file, as a table, CSV or JSON."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

import pytest

from bot import review
from bot.logs_cli import add_logs_parser
from tests.test_bot_process import base_env
from tests.test_failures import run_sync
from tests.test_review_data import NOT_COVERED, fill, sample_servers

A, B = sample_servers()


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The sample log, filled once."""
    return fill(tmp_path_factory.mktemp("cli") / "interactions.db", A, B)


@pytest.fixture
def run(sample, monkeypatch, tmp_path, capsys):
    """Run `logs` with arguments (the log from DATABASE_PATH); return (exit code, stdout, stderr)."""
    for key in ("ANONYMIZE_USERS", "ANONYMIZE_KEY", "KNOWLEDGE_DIR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DATABASE_PATH", str(sample.path))
    parser = argparse.ArgumentParser(prog="python -m bot")
    add_logs_parser(parser.add_subparsers(dest="command"))

    def invoke(*argv: str) -> tuple[int, str, str]:
        args = parser.parse_args(["logs", "--env-file", str(tmp_path / "none.env"), *argv])
        code = args.handler(args)
        out = capsys.readouterr()
        return code, out.out, out.err

    return invoke


def ids_of(text: str, fmt: str) -> list[int]:
    if fmt == "json":
        return [r["id"] for r in json.loads(text)]
    if fmt == "jsonl":
        return [json.loads(line)["id"] for line in text.splitlines()]
    return [int(r["id"]) for r in csv.DictReader(io.StringIO(text))]


def test_the_table_lists_every_servers_questions_oldest_first(run, sample) -> None:
    code, out, _ = run()
    lines = out.splitlines()
    header = ["id", "created_at", "guild_id", "user", "command", "status", "👎", "question", "reason"]
    assert code == 0 and lines[0].split() == header
    assert lines[-1] == "(10 rows)"  # 7 + 3 questions; the More page is not one
    assert "Why did Putin go to Beijing?" in lines[2] and lines[2].split()[0] == str(sample.ids["a_putin"])
    assert any("ok (not covered)" in line for line in lines)


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_machine_formats_hold_the_export_columns_for_one_server(run, sample, fmt: str) -> None:
    code, out, _ = run("--guild", str(B.guild), "--format", fmt)
    assert code == 0
    assert ids_of(out, fmt) == [sample.ids[n] for n in ("b_putin", "b_bowl", "b_secret")]
    first = json.loads(out)[0] if fmt == "json" else json.loads(out.splitlines()[0]) if fmt == "jsonl" else None
    if first is not None:
        assert list(first) == list(review.EXPORT_COLUMNS) and first["quotes"][0]["passage_id"] == "putin#1"
    else:
        assert out.splitlines()[0] == ",".join(review.EXPORT_COLUMNS)


def test_filters_match_the_review_commands(run, sample) -> None:
    def ids(*argv: str) -> list[int]:
        code, out, err = run("--format", "json", *argv)
        assert code == 0, err
        return [r["id"] for r in json.loads(out)]

    n = sample.ids
    assert ids("--guild", str(A.guild), "--unanswered") == [n["a_bowl_1"], n["a_bowl_2"], n["a_halftime"]]
    assert ids("--unhelpful") == [n["a_taiwan"], n["a_oil"], n["b_putin"], n["b_secret"]]
    assert ids("--guild", str(A.guild), "--unhelpful") == [n["a_taiwan"], n["a_oil"]]
    assert ids("--search", "super bowl") == [n["a_bowl_1"], n["a_bowl_2"], n["b_bowl"]]
    assert ids("--user", "1002") == ids("--user", "bob") == [n["a_taiwan"], n["a_bowl_2"]]
    assert ids("--channel", str(A.channels[1])) == [n["a_taiwan"], n["a_oil"]]
    assert ids("--since", "1d") == [] and len(ids("--since", "30d", "--until", "today")) == 10
    assert n["a_more"] in ids("--all-commands") and n["a_more"] not in ids()
    assert ids("--limit", "2") == [n["b_bowl"], n["b_secret"]]


def test_the_table_shows_thumbs_down_and_the_refusal_reason(run, sample) -> None:
    code, out, _ = run("--format", "table")
    lines = out.splitlines()
    thumbs, reason = lines[0].index("👎"), lines[0].index("reason")
    rows = {line.split()[0]: line for line in lines[2:-1]}
    assert rows[str(sample.ids["a_taiwan"])][thumbs:].split()[0] == "2"  # in its column, though 👎 is a wide character
    not_covered = [line for line in rows.values() if "(not covered)" in line]
    assert not_covered and all(line[reason:].strip() == NOT_COVERED for line in not_covered)


def test_a_limit_below_one_is_refused(run) -> None:
    for value in ("0", "-3"):
        code, out, err = run("--limit", value)
        assert (code, out, err.strip()) == (2, "", f"--limit must be 1 or more, got {value}.")


def test_an_anonymised_log_is_filtered_by_the_same_keyed_hash(tmp_path: Path, run, monkeypatch) -> None:
    key = "cli-secret-key-cli-secret-key"
    filled = fill(tmp_path / "anon.db", A, B, anonymize_key=key)
    monkeypatch.setenv("ANONYMIZE_USERS", "true")
    monkeypatch.setenv("ANONYMIZE_KEY", key)
    code, out, _ = run("--db", str(filled.path), "--user", "1002", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and [r["id"] for r in rows] == [filled.ids["a_taiwan"], filled.ids["a_bowl_2"]]
    assert {r["user_id"] for r in rows} == {review.user_key(1002, key)} and {r["user_name"] for r in rows} == {None}


def test_mistakes_get_one_clear_line_and_exit_code_2(run, tmp_path) -> None:
    code, _, err = run("--db", str(tmp_path / "missing.db"))
    assert code == 2 and "There is no interaction log at" in err
    assert not (tmp_path / "missing.db").exists()  # never created by looking
    code, _, err = run("--since", "yesterday-ish")
    assert code == 2 and "YYYY-MM-DD" in err
    code, _, err = run("--guild", "general")
    assert code == 2 and "--guild must be a server id" in err
    other = tmp_path / "other.db"
    import sqlite3

    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    code, _, err = run("--db", str(other))
    assert code == 2 and "is not an interaction log" in err


def test_browse_without_a_log_says_so(tmp_path: Path) -> None:
    done = run_sync(tmp_path, base_env(tmp_path), "browse")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (f"There is no interaction log at {tmp_path / 'interactions.db'} yet: it appears "
                                   "after the first question (set DATABASE_PATH or pass --db if it is elsewhere).")


def test_python_m_bot_logs_is_wired_in(sample, monkeypatch, capsys, tmp_path) -> None:
    from bot.__main__ import build_parser, main

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert "logs" in commands

    monkeypatch.setenv("DATABASE_PATH", str(sample.path))
    assert main(["logs", "--env-file", str(tmp_path / "none.env"), "--format", "jsonl"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 10


def test_the_logs_of_several_machines_read_as_one_time_line(run, tmp_path: Path) -> None:
    from bot.log import InteractionLog, Who

    for machine, guild in (("one", 1 << 22), ("two", 3 << 22)):  # shards 1 and 3 of 4, on two machines
        log = InteractionLog(tmp_path / f"{machine}.db")
        log.record(Who(guild, 5, 7, "alice"), "ask", status="ok", question=f"asked on machine {machine}")
        log.close()
    code, out, _ = run("--db", str(tmp_path / "one.db"), "--db", str(tmp_path / "two.db"), "--format", "json")
    rows = json.loads(out)
    assert code == 0 and [r["question"] for r in rows] == ["asked on machine one", "asked on machine two"]
    assert [r["guild_id"] for r in rows] == [str(1 << 22), str(3 << 22)]
