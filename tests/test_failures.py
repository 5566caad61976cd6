"""Every start-up failure is one sentence on stderr and a non-zero exit, with no traceback unless LOG_LEVEL=DEBUG."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bot.config import Settings, SettingsError, load_settings
from bot.problems import Problem, check_engine_paths
from tests.test_bot_process import TOKEN, base_env, run_bot, warm_index  # noqa: F401 (fixture)

REPO = Path(__file__).resolve().parents[1]
HINT = "check the internet connection, a proxy or firewall, or"


def run_sync(tmp_path: Path, env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m bot ...` in tmp_path, with no terminal, to the end."""
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def sentences(stderr: str) -> list[str]:
    """stderr without discord.py's INFO log lines (timestamped); what is left is what the bot says."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("[")]


def assert_one_sentence(done: subprocess.CompletedProcess, expected: str, code: int) -> None:
    """Exactly the expected sentence, the exit code, and no traceback."""
    assert sentences(done.stderr) == [expected], done.stderr
    assert done.returncode == code
    assert "Traceback" not in done.stderr + done.stdout
    assert TOKEN not in done.stderr + done.stdout


class SilentServer:
    """A TCP server that accepts connections and never answers (a hung proxy or firewall)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def __enter__(self) -> "SilentServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_discord_refusing_the_connection_is_one_sentence(tmp_path: Path) -> None:
    port = closed_port()
    env = base_env(tmp_path, DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=f"http://127.0.0.1:{port}")
    done = run_sync(tmp_path, env, "run")
    assert_one_sentence(done, f"Could not reach Discord at http://127.0.0.1:{port} (connection refused); {HINT} "
                              "DISCORD_API_BASE.", 1)


def test_no_dns_is_one_sentence_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    env = base_env(tmp_path, DISCORD_TOKEN=TOKEN, DISCORD_API_BASE="http://discord.invalid/api/v10")
    done = run_sync(tmp_path, env, "run")
    assert_one_sentence(done, "Could not reach Discord at http://discord.invalid/api/v10: the name discord.invalid "
                              "could not be resolved; check the machine's internet connection and DNS, or "
                              "DISCORD_API_BASE.", 1)
    debug = run_sync(tmp_path, {**env, "LOG_LEVEL": "DEBUG"}, "run")
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "discord.invalid" in debug.stderr


def test_a_server_that_never_answers_times_out_with_one_sentence(tmp_path: Path) -> None:
    with SilentServer() as server:
        env = base_env(tmp_path, DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=f"http://127.0.0.1:{server.port}",
                       DISCORD_CONNECT_TIMEOUT="1")
        done = run_sync(tmp_path, env, "run")
        assert server.accepted, "the bot never connected"
    assert_one_sentence(done, f"Discord at http://127.0.0.1:{server.port} did not answer the login within 1 s; "
                              f"{HINT} DISCORD_API_BASE (DISCORD_CONNECT_TIMEOUT sets the wait).", 1)


def test_sync_against_a_silent_server_times_out_too(tmp_path: Path) -> None:
    with SilentServer() as server:
        env = base_env(tmp_path, DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=f"http://127.0.0.1:{server.port}",
                       DISCORD_CONNECT_TIMEOUT="1")
        done = run_sync(tmp_path, env, "sync")
    assert_one_sentence(done, f"Discord at http://127.0.0.1:{server.port} did not answer the login within 1 s; "
                              f"{HINT} DISCORD_API_BASE (DISCORD_CONNECT_TIMEOUT sets the wait).", 1)


@pytest.mark.timeout(180)
async def test_an_unreachable_gateway_after_login_is_one_sentence(emulator, tmp_path: Path, warm_index: Path) -> None:
    port = closed_port()
    env = base_env(tmp_path, DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=emulator.api_base,
                   DISCORD_GATEWAY_URL=f"ws://127.0.0.1:{port}", DISCORD_CONNECT_TIMEOUT="5")
    process = await run_bot(tmp_path, env, "run")
    out, err = await asyncio.wait_for(process.communicate(), 150)
    done = subprocess.CompletedProcess([], process.returncode, out.decode(), err.decode())
    assert emulator.calls_to("GET", "/users/@me")
    assert_one_sentence(done, f"Could not reach Discord at ws://127.0.0.1:{port} (connection refused); {HINT} "
                              "DISCORD_GATEWAY_URL.", 1)


@pytest.mark.parametrize(
    ("key", "value", "sentence"),
    [
        ("EMBEDDING_MODEL", "no-such-model", "EMBEDDING_MODEL is 'no-such-model', which is neither a bundled model "
                                             "(all-mpnet-base-v2-9layers, all-MiniLM-L6-v2, all-mpnet-base-v2; add "
                                             "+articles for the one fine-tuned on the articles) nor a model folder."),
        ("INDEX_PATH", "/proc/nope/index.db", "INDEX_PATH is /proc/nope/index.db, but its folder /proc/nope can't be "
                                              "created (No such file or directory)."),
        ("DATABASE_PATH", "/proc/nope/interactions.db", "DATABASE_PATH is /proc/nope/interactions.db, but its folder "
                                                        "/proc/nope can't be created (No such file or directory)."),
        ("DATABASE_PATH", "{tmp}/notes.txt/interactions.db", "DATABASE_PATH is {tmp}/notes.txt/interactions.db, "
                                                             "but {tmp}/notes.txt is a file, not a folder."),
        ("DATABASE_PATH", "{tmp}", "DATABASE_PATH is {tmp}, which is a folder; give the path of a database file."),
    ],
)
@pytest.mark.parametrize("token", [TOKEN, ""])
def test_an_unusable_path_or_model_stops_run_with_one_sentence(tmp_path: Path, key, value, sentence, token) -> None:
    (tmp_path / "notes.txt").write_text("a file, not a folder\n")
    env = base_env(tmp_path, DISCORD_TOKEN=token, **{key: value.format(tmp=tmp_path)})
    done = run_sync(tmp_path, env, "run")
    assert_one_sentence(done, f"Configuration error: {sentence.format(tmp=tmp_path)}", 2)


def test_the_cli_names_the_key_too(tmp_path: Path) -> None:
    done = run_sync(tmp_path, base_env(tmp_path, INDEX_PATH="/proc/nope/index.db"), "index")
    assert_one_sentence(done, "Configuration error: INDEX_PATH is /proc/nope/index.db, but its folder /proc/nope "
                              "can't be created (No such file or directory).", 2)
    done = run_sync(tmp_path, base_env(tmp_path, EMBEDDING_MODEL="no-such-model"), "ask", "who is Kurt Campbell?")
    assert done.returncode == 2 and "EMBEDDING_MODEL is 'no-such-model'" in done.stderr


@contextlib.contextmanager
def acting_as_nobody():
    """As root, drop the effective user id for the block (root reads every folder); otherwise nothing."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def test_an_unreadable_knowledge_dir_is_one_sentence(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    tmp_path.chmod(0o755)
    articles.chmod(0o000)
    try:
        with acting_as_nobody(), pytest.raises(Problem) as caught:
            check_engine_paths(Settings(knowledge_dir=articles, index_path=tmp_path / "index.db"))
    finally:
        articles.chmod(0o755)
    assert caught.value.code == 2
    assert str(caught.value) == (f"Configuration error: KNOWLEDGE_DIR is {articles}, but that folder can't be read "
                                 "(Permission denied).")


def test_an_unparsable_env_line_stops_with_file_and_line(tmp_path: Path) -> None:
    dotenv = tmp_path / "bot.env"
    dotenv.write_text("# settings\nLOG_LEVEL=INFO\nANSWER_QUOTES='4\nDISCORD_TOKEN='secret-value\n")
    with pytest.raises(SettingsError) as caught:
        load_settings({}, dotenv_path=dotenv)
    assert str(caught.value) == (f"{dotenv} line 3 (ANSWER_QUOTES) can't be parsed; write it as KEY=value, "
                                 "closing any quote you open.")
    done = run_sync(tmp_path, base_env(tmp_path), "run", "--env-file", "bot.env")
    assert_one_sentence(done, "Configuration error: bot.env line 3 (ANSWER_QUOTES) can't be parsed; write it as "
                              "KEY=value, closing any quote you open.", 2)
    assert "secret-value" not in done.stderr and "python-dotenv" not in done.stderr
