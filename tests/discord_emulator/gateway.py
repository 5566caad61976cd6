"""The gateway websocket: HELLO, heartbeats, IDENTIFY/RESUME, READY, GUILD_CREATE, dispatches."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from .server import DiscordEmulator

log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, VOICE, RESUME, RECONNECT, REQUEST_MEMBERS, INVALID_SESSION, HELLO, ACK = (
    0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11
)
HEARTBEAT_INTERVAL_MS = 41250
INVALID_SHARD = 4010  # Discord's close code for a shard id beyond the shard count


class GatewaySession:
    """One bot session: its websocket, sequence number and shard."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.ws: web.WebSocketResponse | None = None
        self.seq = 0
        self.shard: tuple[int, int] = (0, 1)
        self.identify: dict = {}
        self.ready = asyncio.Event()
        self.resumable = False  # dropped by the emulator (or not closed cleanly): events wait for a RESUME
        self.backlog: list[tuple[str, dict]] = []  # events dispatched while disconnected, replayed on RESUME
        self._heartbeat_waiters: list[asyncio.Future] = []

    @property
    def connected(self) -> bool:
        """Return whether the websocket is open."""
        return self.ws is not None and not self.ws.closed

    def handles_guild(self, guild_id: str | None) -> bool:
        """Return whether events for `guild_id` go to this session's shard (events without a guild go to shard 0)."""
        shard_id, count = self.shard
        return (int(guild_id or 0) >> 22) % count == shard_id

    async def send(self, op: int, data, event: str | None = None) -> None:
        """Send one gateway frame as a JSON text frame."""
        frame = {"op": op, "d": data, "s": None, "t": event}
        if op == DISPATCH:
            self.seq += 1
            frame["s"] = self.seq
        await self.ws.send_str(json.dumps(frame))

    async def dispatch(self, event: str, data: dict) -> None:
        """Send a DISPATCH (op 0) event."""
        await self.send(DISPATCH, data, event)

    async def round_trip(self, timeout: float) -> None:
        """Ask the client for a heartbeat (op 1) and wait for it: the client's loop has caught up."""
        waiter = asyncio.get_running_loop().create_future()
        self._heartbeat_waiters.append(waiter)
        await self.send(HEARTBEAT, self.seq)
        await asyncio.wait_for(waiter, timeout)

    def heartbeat_received(self) -> None:
        """Wake everyone waiting in `round_trip`."""
        waiters, self._heartbeat_waiters = self._heartbeat_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


class Gateway:
    """Serve gateway connections for the emulator."""

    def __init__(self, emulator: "DiscordEmulator") -> None:
        self.emu = emulator
        self.sessions: dict[str, GatewaySession] = {}
        self.identify_payloads: list[dict] = []
        self.resume_payloads: list[dict] = []
        self._changed = asyncio.Event()
        self._open = asyncio.Event()  # cleared by drop(hold=True): new connections wait before HELLO
        self._open.set()

    @property
    def active(self) -> list[GatewaySession]:
        """Return the sessions that are connected and have received READY."""
        return [s for s in self.sessions.values() if s.connected and s.ready.is_set()]

    @property
    def waiting(self) -> list[GatewaySession]:
        """Return the sessions that lost their connection and may still RESUME (their events are kept)."""
        return [s for s in self.sessions.values() if not s.connected and s.ready.is_set() and s.resumable]

    async def drop(self, code: int, *, hold: bool = False) -> list[GatewaySession]:
        """Close every live session's websocket with `code` (1001, or a 4000-range code allowing a RESUME).

        With hold=True new connections get no HELLO until reopen(): events sent meanwhile wait in the backlog.
        """
        if hold:
            self._open.clear()
        dropped = list(self.active)
        for session in dropped:
            session.resumable = True
            await session.ws.close(code=code, message=b"emulator dropped the connection")
        return dropped

    def reopen(self) -> None:
        """Let held connections proceed (HELLO, then the client's RESUME or IDENTIFY)."""
        self._open.set()

    async def wait_for_session(self, timeout: float) -> GatewaySession:
        """Wait until some session is connected and has received its guilds."""
        async def first() -> GatewaySession:
            while not self.active:
                self._changed.clear()
                await self._changed.wait()
            return self.active[0]

        return await self.emu.wait_for(first(), timeout, "a bot to connect to the gateway")

    async def wait_for_shards(self, shard_ids: set[int], timeout: float) -> list[GatewaySession]:
        """Wait until ready sessions cover every one of shard_ids; return them."""
        def covering() -> list[GatewaySession]:
            return [s for s in self.active if s.shard[0] in shard_ids]

        async def all_there() -> list[GatewaySession]:
            while {s.shard[0] for s in covering()} != shard_ids:
                self._changed.clear()
                await self._changed.wait()
            return covering()

        return await self.emu.wait_for(all_there(), timeout, f"shards {sorted(shard_ids)} to connect to the gateway")

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """Run one websocket connection until it closes."""
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        await self._open.wait()
        session: GatewaySession | None = None
        hello = {"op": HELLO, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}, "s": None, "t": None}
        await ws.send_str(json.dumps(hello))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                session = await self._on_frame(ws, session, frame) or session
        finally:
            if session is not None and session.ws is ws:
                session.ws = None
                session.resumable = session.resumable or ws.close_code != 1000  # 1000: the client logged off
            self._changed.set()
        return ws

    async def _on_frame(self, ws: web.WebSocketResponse, session: GatewaySession | None, frame: dict):
        """Answer one client frame; return the session it established, if any."""
        op, data = frame.get("op"), frame.get("d")
        if op == HEARTBEAT:
            await ws.send_str(json.dumps({"op": ACK, "d": None, "s": None, "t": None}))
            if session is not None:
                session.heartbeat_received()
        elif op == IDENTIFY:
            return await self._identify(ws, data)
        elif op == RESUME:
            return await self._resume(ws, data)
        elif op == REQUEST_MEMBERS and session is not None:
            await self._send_members(session, data)
        return None

    async def _identify(self, ws: web.WebSocketResponse, data: dict) -> GatewaySession | None:
        """Start a new session: READY, then one GUILD_CREATE per guild."""
        self.identify_payloads.append(data)
        shard = data.get("shard") or [0, 1]
        if not 0 <= shard[0] < shard[1]:
            await ws.close(code=INVALID_SHARD, message=b"Invalid shard.")
            return None
        session = GatewaySession(uuid.uuid4().hex)
        session.ws = ws
        session.identify = data
        if data.get("shard"):
            session.shard = tuple(data["shard"])
        self.sessions[session.session_id] = session
        guilds = [g for g in self.emu.guilds.values() if session.handles_guild(g.id)]
        ready = {
            "v": 10,
            "user": self.emu.bot_user.payload() | {"verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": g.id, "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "resume_gateway_url": self.emu.gateway_url,
            "application": {"id": self.emu.application_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": [],
            "guild_join_requests": [],
            "user_settings": {},
            "session_type": "normal",
            "auth_session_id_hash": "",
            "_trace": ["discord-emulator"],
        }
        if data.get("shard"):
            ready["shard"] = list(session.shard)
        await session.dispatch("READY", ready)
        for guild in guilds:
            await session.dispatch("GUILD_CREATE", guild.create_payload())
        session.ready.set()
        self._changed.set()
        return session

    async def _resume(self, ws: web.WebSocketResponse, data: dict) -> GatewaySession | None:
        """Resume a known session (nothing is replayed) or invalidate it so the client identifies."""
        self.resume_payloads.append(data)
        session = self.sessions.get(data.get("session_id", ""))
        if session is None:
            await ws.send_str(json.dumps({"op": INVALID_SESSION, "d": False, "s": None, "t": None}))
            return None
        if session.ws is not None and not session.ws.closed:
            await session.ws.close(code=4000)
        session.ws = ws
        session.resumable = False
        await session.dispatch("RESUMED", {"_trace": ["discord-emulator"]})
        backlog, session.backlog = session.backlog, []
        for event, payload in backlog:  # Discord replays what the session missed
            await session.dispatch(event, payload)
        self._changed.set()
        return session

    async def _send_members(self, session: GatewaySession, data: dict) -> None:
        """Answer REQUEST_GUILD_MEMBERS with one chunk holding every member."""
        guild = self.emu.guilds.get(str(data.get("guild_id")))
        if guild is None:
            return
        chunk = {
            "guild_id": guild.id,
            "members": [m.payload() for m in guild.members.values()],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await session.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def dispatch(self, event: str, data: dict, guild_id: str | None = None) -> int:
        """Send an event to every ready session whose shard handles `guild_id`; return how many got it."""
        return len(await self.deliver(event, data, guild_id))

    async def deliver(self, event: str, data: dict, guild_id: str | None = None) -> list[GatewaySession]:
        """Send an event to the sessions of `guild_id`'s shard (DMs: shard 0), keeping it for dropped ones."""
        targets = [s for s in self.active if s.handles_guild(guild_id)]
        for session in targets:
            await session.dispatch(event, data)
        waiting = [s for s in self.waiting if s.handles_guild(guild_id)]
        for session in waiting:
            session.backlog.append((event, data))
        return targets + waiting

    async def round_trip(self, timeout: float) -> None:
        """Do a heartbeat round trip with every ready session."""
        await asyncio.gather(*(s.round_trip(timeout) for s in self.active))

    async def close(self) -> None:
        """Close every websocket cleanly."""
        for session in list(self.sessions.values()):
            if session.connected:
                await session.ws.close(code=1000, message=b"emulator stopped")
        self.sessions.clear()
