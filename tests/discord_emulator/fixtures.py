"""pytest fixtures and helpers: a started emulator, a connected discord.py client, ERROR-log collection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from .server import DiscordEmulator


class ErrorLogCollector(logging.Handler):
    """Collect ERROR records from given loggers and report each to the emulator so waits fail fast."""

    def __init__(self, emulator: DiscordEmulator | None = None, loggers: tuple[str, ...] = ("discord",)) -> None:
        super().__init__(level=logging.ERROR)
        self.emulator = emulator
        self.logger_names = loggers
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record and fail the emulator's current waits."""
        self.records.append(record)
        if self.emulator is not None:
            self.emulator.report_failure(AssertionError(self.describe(record)))

    def describe(self, record: logging.LogRecord) -> str:
        """Return a record as text with its traceback."""
        text = f"{record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        return text

    def take(self) -> list[logging.LogRecord]:
        """Return and forget the collected records (for tests that expect an error)."""
        records, self.records = self.records, []
        if self.emulator is not None:
            self.emulator.clear_failures()
        return records

    @contextlib.contextmanager
    def installed(self) -> Iterator["ErrorLogCollector"]:
        """Attach to the loggers for the duration of the block."""
        loggers = [logging.getLogger(name) for name in self.logger_names]
        for logger in loggers:
            logger.addHandler(self)
        try:
            yield self
        finally:
            for logger in loggers:
                logger.removeHandler(self)


@contextlib.contextmanager
def redirect_discord(emulator: DiscordEmulator) -> Iterator[None]:
    """Point discord.py's process-global REST base and gateway URL at the emulator, restoring them after."""
    import discord.gateway
    import discord.http
    import yarl

    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = emulator.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(emulator.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


@contextlib.asynccontextmanager
async def connected_client(
    client,
    emulator: DiscordEmulator,
    *,
    token: str = "fake-token",
    timeout: float = 15.0,
    guild_ready_timeout: float | None = 0.1,
    reconnect: bool = False,
) -> AsyncIterator:
    """Log `client` in to the emulator, wait for on_ready, yield it, then close it.

    Does what client.start() does (login, then connect as a task) so a failing setup_hook raises here;
    a client task that dies later is reported to the emulator, so pending waits fail with its exception.
    `guild_ready_timeout` shortens discord.py's 2 s wait after the last GUILD_CREATE (None keeps it);
    with `reconnect=False` a dropped gateway connection ends the client instead of being retried quietly.
    """
    with redirect_discord(emulator):
        if guild_ready_timeout is not None:
            client._connection.guild_ready_timeout = guild_ready_timeout
        await asyncio.wait_for(client.login(token), timeout)
        task = asyncio.create_task(client.connect(reconnect=reconnect), name="discord-client")
        task.add_done_callback(lambda t: _report_death(t, emulator))
        ready = asyncio.ensure_future(client.wait_until_ready())
        done, _ = await asyncio.wait({task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        try:
            if ready not in done:
                ready.cancel()
                if task in done:
                    raise RuntimeError("the client stopped before it was ready") from task.exception()
                raise TimeoutError(f"the client was not ready after {timeout}s")
            yield client
        finally:
            await client.close()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5)
    if task.done() and not task.cancelled() and task.exception() is not None:
        raise RuntimeError("the client task failed") from task.exception()


def _report_death(task: asyncio.Task, emulator: DiscordEmulator) -> None:
    """Report a client task that ended with an exception."""
    if not task.cancelled() and task.exception() is not None:
        emulator.report_failure(RuntimeError(f"the discord client task died: {task.exception()!r}"))


@pytest.fixture
def discord_errors() -> Iterator[ErrorLogCollector]:
    """Collect ERROR records of the `discord` logger; the test fails if any are left unchecked."""
    collector = ErrorLogCollector()
    with collector.installed():
        yield collector
    if collector.records:
        pytest.fail("discord logged errors:\n" + "\n".join(collector.describe(r) for r in collector.records))


@pytest_asyncio.fixture
async def emulator(discord_errors: ErrorLogCollector) -> AsyncIterator[DiscordEmulator]:
    """Start a DiscordEmulator for one test; ERROR logs from discord.py make its waits fail fast."""
    emu = DiscordEmulator()
    discord_errors.emulator = emu
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()
