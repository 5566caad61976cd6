"""The REST API under /api/v10: login, command sync, interaction callbacks, webhooks, channels."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import limits
from .limits import FormErrors
from .records import (
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE_MESSAGE,
    EPHEMERAL,
    LOADING,
    MODAL,
    UPDATE_MESSAGE,
    InteractionRecord,
    RestCall,
    StoredFile,
    now,
)

if TYPE_CHECKING:
    from .server import DiscordEmulator

API = "/api/v10"
JSON = "application/json"
CALL = web.RequestKey("call", RestCall)
# Callback types each interaction type accepts: command, component, autocomplete, modal submit.
ALLOWED_CALLBACKS = {
    2: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL},
    3: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE, MODAL},
    4: {AUTOCOMPLETE_RESULT},
    5: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE},
}


def reply(request: web.Request, data: Any, status: int = 200) -> web.Response:
    """Answer with JSON and Content-Type exactly application/json (discord.py checks it verbatim)."""
    call: RestCall | None = request.get(CALL)
    if call is not None:
        call.status, call.response = status, data
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": JSON})


def error(request: web.Request, status: int, code: int, message: str) -> web.Response:
    """Answer with a Discord JSON error."""
    return reply(request, {"message": message, "code": code}, status)


def no_content(request: web.Request) -> web.Response:
    """Answer 204 No Content."""
    call: RestCall | None = request.get(CALL)
    if call is not None:
        call.status = 204
    return web.Response(status=204)


class RestApi:
    """Route handlers; every state change goes through the emulator they belong to."""

    def __init__(self, emulator: "DiscordEmulator") -> None:
        self.emu = emulator

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Register every route, the catch-all last."""
        hook = "/webhooks/{app}/{token}"
        routes = [
            ("GET", "/users/@me", self.get_me),
            ("GET", "/oauth2/applications/@me", self.get_application),
            ("GET", "/applications/@me", self.get_application),
            ("GET", "/gateway", self.get_gateway),
            ("GET", "/gateway/bot", self.get_gateway),
            ("GET", "/applications/{app}/commands", self.get_commands),
            ("PUT", "/applications/{app}/commands", self.put_commands),
            ("GET", "/applications/{app}/guilds/{guild}/commands", self.get_commands),
            ("PUT", "/applications/{app}/guilds/{guild}/commands", self.put_commands),
            ("POST", "/interactions/{id}/{token}/callback", self.interaction_callback),
            ("POST", hook, self.webhook_execute),
            ("GET", hook + "/messages/{message}", self.webhook_get),
            ("PATCH", hook + "/messages/{message}", self.webhook_edit),
            ("DELETE", hook + "/messages/{message}", self.webhook_delete),
            ("GET", "/channels/{channel}", self.get_channel),
            ("POST", "/channels/{channel}/messages", self.channel_send),
            ("POST", "/channels/{channel}/messages/{message}/threads", self.start_thread),
            ("POST", "/channels/{channel}/threads", self.start_thread),
            ("GET", "/channels/{channel}/messages/{message}", self.channel_get_message),
            ("PATCH", "/channels/{channel}/messages/{message}", self.channel_edit_message),
            ("DELETE", "/channels/{channel}/messages/{message}", self.channel_delete_message),
        ]
        for method, path, handler in routes:
            router.add_route(method, API + path, handler)
        router.add_get("/attachments/{id}/{filename}", self.get_attachment)
        router.add_route("*", API + "/{tail:.*}", self.not_found)

    @web.middleware
    async def middleware(self, request: web.Request, handler) -> web.StreamResponse:
        """Record every API call (body parsed) and turn router errors into Discord JSON errors."""
        if not request.path.startswith(API):
            return await handler(request)
        body, files = await self._read_body(request)
        call = RestCall(request.method, request.path[len(API):], dict(request.query), body, files, now())
        self.emu.calls.append(call)
        request[CALL] = call
        try:
            return await handler(request)
        except web.HTTPMethodNotAllowed:
            return error(request, 405, 0, "405: Method Not Allowed")
        except web.HTTPNotFound:
            return error(request, 404, 0, "404: Not Found")

    async def _read_body(self, request: web.Request) -> tuple[Any, list[StoredFile]]:
        """Parse a JSON or multipart body; multipart files become StoredFiles indexed as in `files[n]`."""
        if not request.can_read_body:
            return None, []
        if request.content_type.startswith("multipart/"):
            body, files = None, []
            reader = await request.multipart()
            async for part in reader:
                data = await part.read()
                if part.name == "payload_json":
                    body = json.loads(data)
                elif part.filename is not None:
                    index = (part.name or "").removeprefix("files[").removesuffix("]")
                    files.append(StoredFile(id=index, filename=part.filename, data=bytes(data),
                                            content_type=part.headers.get("Content-Type")))
            return body, files
        text = await request.text()
        try:
            return (json.loads(text) if text else None), []
        except json.JSONDecodeError:
            return text, []

    # Login and gateway discovery.
    async def get_me(self, request: web.Request) -> web.Response:
        """Return the bot user (static login)."""
        user = self.emu.bot_user.payload() | {"verified": True, "mfa_enabled": False, "email": None, "locale": "en-US"}
        return reply(request, user)

    async def get_application(self, request: web.Request) -> web.Response:
        """Return the application (discord.py needs it for the application id)."""
        return reply(request, self.emu.application_payload())

    async def get_gateway(self, request: web.Request) -> web.Response:
        """Return the gateway URL (only AutoShardedClient asks)."""
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        return reply(request, {"url": self.emu.gateway_url, "shards": self.emu.shard_count,
                               "session_start_limit": limit})

    # Application commands.
    async def get_commands(self, request: web.Request) -> web.Response:
        """Return the registered global or guild commands."""
        scope = self._command_scope(request)
        if isinstance(scope, web.Response):
            return scope
        return reply(request, self.emu.commands.get(scope, []))

    async def put_commands(self, request: web.Request) -> web.Response:
        """Replace the global or guild commands (bulk overwrite, as tree.sync does)."""
        scope = self._command_scope(request)
        if isinstance(scope, web.Response):
            return scope
        body = request[CALL].json
        if not isinstance(body, list):
            return error(request, 400, 50035, "Invalid Form Body")
        errors = FormErrors()
        limits.check_commands(body, errors)
        if errors:
            return reply(request, errors.body(), 400)
        return reply(request, self.emu.register_commands(scope, body))

    def _command_scope(self, request: web.Request) -> str | None | web.Response:
        """Return the guild id (None for global) of a commands route, or an error response."""
        if request.match_info["app"] != self.emu.application_id:
            return error(request, 404, 10002, "Unknown Application")
        guild_id = request.match_info.get("guild")
        if guild_id is not None and guild_id not in self.emu.guilds:
            return error(request, 403, 50001, "Missing Access")
        return guild_id

    # Interaction callbacks.
    async def interaction_callback(self, request: web.Request) -> web.Response:
        """Acknowledge an interaction, enforcing the 3 s deadline, single use and payload limits."""
        call: RestCall = request[CALL]
        rec = self.emu.interactions.get(request.match_info["id"])
        if rec is None or rec.token != request.match_info["token"]:
            return error(request, 404, 10062, "Unknown interaction")
        body = call.json if isinstance(call.json, dict) else {}
        response = self._callback(request, rec, body, call)
        if response.status >= 400:
            rec.errors.append(call.response)
            rec._note_callback(call, None, None)
        return response

    def _callback(self, request: web.Request, rec: InteractionRecord, body: dict, call: RestCall) -> web.Response:
        """Check and apply one callback; return the HTTP response."""
        if call.time - rec.dispatched_at > self.emu.ack_deadline:
            return error(request, 404, 10062, "Unknown interaction")
        if rec.acknowledged:
            return error(request, 400, 40060, "Interaction has already been acknowledged.")
        ctype, data = body.get("type"), body.get("data") or {}
        errors = FormErrors(prefix=("data",))
        allowed = ALLOWED_CALLBACKS.get(rec.type, set())
        if rec.source_message_id is None:
            allowed = allowed - {DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE}
        if ctype not in allowed:
            errors.prefix = ()
            errors.add(("type",), "INTERACTION_CALLBACK_TYPE_INVALID", f"Callback type {ctype} is invalid here")
        elif ctype == CHANNEL_MESSAGE:
            limits.check_message(data, errors, creating=True, has_files=bool(call.files))
        elif ctype == UPDATE_MESSAGE:
            limits.check_message(data, errors, creating=False)
        elif ctype == MODAL:
            limits.check_modal(data, errors)
        elif ctype == AUTOCOMPLETE_RESULT:
            limits.check_autocomplete(data, errors)
        if errors:
            return reply(request, errors.body(), 400)

        message = None
        if ctype == CHANNEL_MESSAGE:
            message = self.emu.store.create_message(rec, data, call.files, flags=int(data.get("flags") or 0))
            rec.original_message_id = message["id"]
        elif ctype == DEFERRED_CHANNEL_MESSAGE:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            message = self.emu.store.create_message(rec, {"content": ""}, [], flags=flags)
            rec.original_message_id = message["id"]
        elif ctype in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE):
            rec.original_message_id = rec.source_message_id
            if ctype == UPDATE_MESSAGE:
                message = self.emu.store.edit_message(rec.source_message_id, data, call.files)
                if message["id"] not in rec.message_ids:
                    rec.message_ids.append(message["id"])
        rec._note_callback(call, ctype, data)
        if ctype != DEFERRED_CHANNEL_MESSAGE and ctype != DEFERRED_UPDATE_MESSAGE:
            rec._note_final()

        original = self.emu.messages.get(rec.original_message_id or "")
        result: dict = {
            "interaction": {
                "id": rec.id,
                "type": rec.type,
                "response_message_id": original["id"] if original else None,
                "response_message_loading": bool(original and original["flags"] & LOADING),
                "response_message_ephemeral": bool(original and original["flags"] & EPHEMERAL),
            },
            "resource": {"type": ctype},
        }
        if message is not None:
            result["resource"]["message"] = message
        return reply(request, result)

    # Webhooks (interaction follow-ups and edits).
    def _webhook_interaction(self, request: web.Request) -> InteractionRecord | web.Response:
        """Return the acknowledged interaction a webhook token belongs to, or a 404."""
        rec = self.emu.interaction_by_token(request.match_info["token"])
        if rec is None or request.match_info["app"] != self.emu.application_id or not rec.acknowledged:
            return error(request, 404, 10015, "Unknown Webhook")
        if now() - rec.dispatched_at > self.emu.token_lifetime:  # Discord: a token lives 15 minutes
            return error(request, 404, 10015, "Unknown Webhook")
        return rec

    def _webhook_message(self, request: web.Request, rec: InteractionRecord) -> dict | None:
        """Return the message a webhook route names (@original or an id the interaction produced)."""
        message_id = request.match_info["message"]
        if message_id == "@original":
            message_id = rec.original_message_id
        elif message_id not in rec.message_ids and message_id != rec.source_message_id:
            return None
        return self.emu.messages.get(message_id or "")

    async def webhook_execute(self, request: web.Request) -> web.Response:
        """Send a follow-up; the first one after a 'thinking' defer replaces the loading message."""
        rec = self._webhook_interaction(request)
        if isinstance(rec, web.Response):
            return rec
        call: RestCall = request[CALL]
        body = call.json if isinstance(call.json, dict) else {}
        errors = FormErrors()
        limits.check_message(body, errors, creating=True, has_files=bool(call.files))
        if errors:
            rec.errors.append(errors.body())
            return reply(request, errors.body(), 400)
        if rec.loading:
            message = self.emu.store.replace_loading(rec, body, call.files)
        else:
            message = self.emu.store.create_message(rec, body, call.files, flags=int(body.get("flags") or 0))
        rec._note_final()
        if request.query.get("wait", "").lower() in ("1", "true"):
            return reply(request, message)
        return no_content(request)

    async def webhook_get(self, request: web.Request) -> web.Response:
        """Return a message of this interaction."""
        rec = self._webhook_interaction(request)
        if isinstance(rec, web.Response):
            return rec
        message = self._webhook_message(request, rec)
        return reply(request, message) if message else error(request, 404, 10008, "Unknown Message")

    async def webhook_edit(self, request: web.Request) -> web.Response:
        """Edit a message of this interaction; editing the loading message replaces it."""
        rec = self._webhook_interaction(request)
        if isinstance(rec, web.Response):
            return rec
        message = self._webhook_message(request, rec)
        if message is None:
            return error(request, 404, 10008, "Unknown Message")
        call: RestCall = request[CALL]
        body = call.json if isinstance(call.json, dict) else {}
        errors = FormErrors()
        limits.check_message(body, errors, creating=False)
        if errors:
            rec.errors.append(errors.body())
            return reply(request, errors.body(), 400)
        if message["flags"] & LOADING:
            message = self.emu.store.replace_loading(rec, body, call.files)
        else:
            message = self.emu.store.edit_message(message["id"], body, call.files)
            if message["id"] not in rec.message_ids:
                rec.message_ids.append(message["id"])
        rec._note_final()
        return reply(request, message)

    async def webhook_delete(self, request: web.Request) -> web.Response:
        """Delete a message of this interaction."""
        rec = self._webhook_interaction(request)
        if isinstance(rec, web.Response):
            return rec
        message = self._webhook_message(request, rec)
        if message is None:
            return error(request, 404, 10008, "Unknown Message")
        self.emu.store.delete_message(message["id"])
        rec.deleted_message_ids.append(message["id"])
        rec._note_final()
        return no_content(request)

    # Channels.
    async def get_channel(self, request: web.Request) -> web.Response:
        """Return a guild channel."""
        channel = self.emu.find_channel(request.match_info["channel"])
        return reply(request, channel.payload()) if channel else error(request, 404, 10003, "Unknown Channel")

    async def channel_send(self, request: web.Request) -> web.Response:
        """Post a message to a channel as the bot."""
        channel = self.emu.find_channel(request.match_info["channel"])
        if channel is None:
            return error(request, 404, 10003, "Unknown Channel")
        call: RestCall = request[CALL]
        body = call.json if isinstance(call.json, dict) else {}
        errors = FormErrors()
        limits.check_message(body, errors, creating=True, has_files=bool(call.files))
        if errors:
            return reply(request, errors.body(), 400)
        message = self.emu.store.create_channel_message(channel, body, call.files)
        return reply(request, message)

    async def start_thread(self, request: web.Request) -> web.Response:
        """Start a public thread (on a message, or on its own); THREAD_CREATE goes to the bot."""
        channel = self.emu.find_channel(request.match_info["channel"])
        if channel is None or channel.parent_id is not None:
            return error(request, 404, 10003, "Unknown Channel")
        message_id = request.match_info.get("message")
        if message_id is not None and self.emu.messages.get(message_id, {}).get("channel_id") != channel.id:
            return error(request, 404, 10008, "Unknown Message")
        if message_id is not None and "thread" in self.emu.messages[message_id]:
            return error(request, 400, 160004, "A thread has already been created for this message")
        body = request[CALL].json if isinstance(request[CALL].json, dict) else {}
        errors = FormErrors()
        errors.length_between(("name",), body.get("name"), 1, 100)
        if errors:
            return reply(request, errors.body(), 400)
        thread = self.emu.start_thread(channel, body["name"], message_id, self.emu.bot_user.id)
        payload = thread.payload() | {"newly_created": True}
        await self.emu.dispatch("THREAD_CREATE", payload, channel.guild_id)
        return reply(request, thread.payload(), 201)

    def _channel_message(self, request: web.Request) -> dict | None:
        """Return the channel message a route names."""
        message = self.emu.messages.get(request.match_info["message"])
        if message is None or message["channel_id"] != request.match_info["channel"]:
            return None
        return message

    async def channel_get_message(self, request: web.Request) -> web.Response:
        """Return one message."""
        message = self._channel_message(request)
        return reply(request, message) if message else error(request, 404, 10008, "Unknown Message")

    async def channel_edit_message(self, request: web.Request) -> web.Response:
        """Edit one of the bot's messages."""
        message = self._channel_message(request)
        if message is None:
            return error(request, 404, 10008, "Unknown Message")
        call: RestCall = request[CALL]
        body = call.json if isinstance(call.json, dict) else {}
        errors = FormErrors()
        limits.check_message(body, errors, creating=False)
        if errors:
            return reply(request, errors.body(), 400)
        return reply(request, self.emu.store.edit_message(message["id"], body, call.files))

    async def channel_delete_message(self, request: web.Request) -> web.Response:
        """Delete one message."""
        message = self._channel_message(request)
        if message is None:
            return error(request, 404, 10008, "Unknown Message")
        self.emu.store.delete_message(message["id"])
        return no_content(request)

    async def get_attachment(self, request: web.Request) -> web.Response:
        """Serve an uploaded file's bytes (the attachment URL)."""
        stored = self.emu.files.get(request.match_info["id"])
        if stored is None:
            return web.Response(status=404)
        return web.Response(body=stored.data, content_type=stored.content_type or "application/octet-stream")

    async def not_found(self, request: web.Request) -> web.Response:
        """Answer any route the emulator does not implement (the call is still recorded)."""
        return error(request, 404, 0, "404: Not Found")
