"""Builders for the payloads Discord sends: interactions, command options, modal submits, messages."""

from __future__ import annotations

from typing import Any

from .limits import iter_components
from .models import ALL_PERMISSIONS, EmuChannel, EmuGuild, EmuMember, EmuRole, EmuUser, iso_now

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

# Application command option types.
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 3, 4, 5, 6, 7, 8, 9, 10, 11


class InvalidInvocation(ValueError):
    """The Discord client would not let a user send this (unknown option, missing required one...)."""


class CommandNotSynced(LookupError):
    """The command was never registered with Discord (no sync happened)."""


class CommandNotPermitted(PermissionError):
    """The user lacks the command's default_member_permissions, so Discord hides the command."""


def interaction_payload(
    *,
    interaction_id: str,
    token: str,
    type: int,
    application_id: str,
    guild: EmuGuild,
    channel: EmuChannel,
    member: EmuMember,
    app_permissions: int,
    data: dict | None,
    message: dict | None = None,
    locale: str = "en-US",
) -> dict:
    """Return a complete INTERACTION_CREATE payload with every key discord.py reads."""
    payload = {
        "id": interaction_id,
        "application_id": application_id,
        "type": type,
        "token": token,
        "version": 1,
        "guild_id": guild.id,
        "guild": {"id": guild.id, "locale": "en-US", "features": []},
        "channel_id": channel.id,
        "channel": channel.payload(permissions=member.permissions),
        "member": member.payload(with_permissions=True),
        "app_permissions": str(app_permissions),
        "locale": locale,
        "guild_locale": "en-US",
        "entitlements": [],
        "entitlement_sku_ids": [],
        "authorizing_integration_owners": {"0": guild.id},
        "context": 0,
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if data is not None:
        payload["data"] = data
    if message is not None:
        payload["message"] = message
    return payload


def resolve_command_path(command: dict, parts: list[str]) -> tuple[list[dict], list[str]]:
    """Walk `parts` (group/subcommand names) down a command; return the leaf's option specs and the path."""
    specs = command.get("options") or []
    path: list[str] = []
    for part in parts:
        groups = [o for o in specs if o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP)]
        spec = next((o for o in groups if o.get("name") == part), None)
        if spec is None:
            names = [o["name"] for o in groups]
            raise InvalidInvocation(f"/{command['name']} has no subcommand {part!r} at {path}; choose from {names}")
        path.append(part)
        specs = spec.get("options") or []
    if any(o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in specs):
        names = [o["name"] for o in specs]
        raise InvalidInvocation(f"/{' '.join([command['name'], *path])} needs a subcommand: one of {names}")
    return specs, path


def nest_options(command: dict, path: list[str], leaf_options: list[dict]) -> list[dict]:
    """Wrap leaf options in the subcommand (type 1) and group (type 2) options Discord sends."""
    specs = command.get("options") or []
    chain = []
    for name in path:
        spec = next(o for o in specs if o.get("name") == name)
        chain.append(spec)
        specs = spec.get("options") or []
    options = leaf_options
    for spec in reversed(chain):
        options = [{"name": spec["name"], "type": spec["type"], "options": options}]
    return options


def build_options(
    specs: list[dict],
    values: dict[str, Any],
    guild: EmuGuild,
    *,
    focused: str | None = None,
) -> tuple[list[dict], dict]:
    """Turn {name: value} into typed interaction options plus the `resolved` map, checking them like the client."""
    by_name = {s["name"]: s for s in specs}
    unknown = set(values) - set(by_name)
    if unknown:
        raise InvalidInvocation(f"unknown options {sorted(unknown)}; the command has {sorted(by_name)}")
    if focused is None:
        missing = [s["name"] for s in specs if s.get("required") and s["name"] not in values]
        if missing:
            raise InvalidInvocation(f"missing required options {missing}")
    options: list[dict] = []
    resolved: dict[str, dict] = {}
    for spec in specs:
        name = spec["name"]
        if name not in values or values[name] is None:
            continue
        if name == focused:
            if not spec.get("autocomplete"):
                raise InvalidInvocation(f"option {name!r} has no autocomplete")
            options.append({"name": name, "type": spec["type"], "value": str(values[name]), "focused": True})
            continue
        value = _typed_value(spec, values[name], guild, resolved)
        options.append({"name": name, "type": spec["type"], "value": value})
    return options, resolved


def _typed_value(spec: dict, value: Any, guild: EmuGuild, resolved: dict) -> Any:
    """Return `value` as Discord sends it for the option's type, adding resolved objects."""
    kind, name = spec["type"], spec["name"]
    if kind == STRING:
        value = str(value)
        low, high = spec.get("min_length", 0), spec.get("max_length", 6000)
        if not low <= len(value) <= high:
            raise InvalidInvocation(f"option {name!r} must be {low}..{high} characters, got {len(value)}")
    elif kind in (INTEGER, NUMBER):
        value = int(value) if kind == INTEGER else float(value)
        low, high = spec.get("min_value"), spec.get("max_value")
        if (low is not None and value < low) or (high is not None and value > high):
            raise InvalidInvocation(f"option {name!r} must be within {low}..{high}, got {value}")
    elif kind == BOOLEAN:
        value = bool(value)
    elif kind in (USER, MENTIONABLE) and not isinstance(value, EmuRole):
        member = guild.member(value)
        resolved.setdefault("users", {})[member.id] = member.user.payload()
        resolved.setdefault("members", {})[member.id] = member.payload(with_permissions=True, with_user=False)
        value = member.id
    elif kind in (ROLE, MENTIONABLE):
        role = guild.role(value)
        resolved.setdefault("roles", {})[role.id] = role.payload()
        value = role.id
    elif kind == ATTACHMENT:
        if not isinstance(value, dict) or "id" not in value:
            raise InvalidInvocation(f"option {name!r} takes an attachment: pass emulator.upload(...)")
        resolved.setdefault("attachments", {})[value["id"]] = value
        value = value["id"]
    elif kind == CHANNEL:
        channel = guild.channel(value)
        resolved.setdefault("channels", {})[channel.id] = channel.payload(permissions=ALL_PERMISSIONS)
        value = channel.id
    else:
        raise InvalidInvocation(f"option {name!r} has type {kind}, which the emulator does not support")
    choices = spec.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        raise InvalidInvocation(f"option {name!r} must be one of {[c['value'] for c in choices]}, got {value!r}")
    return value


def modal_submit_components(modal: dict, values: dict[str, Any]) -> list[dict]:
    """Mirror a modal's layout with the user's values, as Discord sends a MODAL_SUBMIT."""
    inputs = {c["custom_id"]: c for c in iter_components(modal.get("components") or []) if c.get("type") in (3, 4)}
    unknown = set(values) - set(inputs)
    if unknown:
        raise InvalidInvocation(
            f"modal {modal.get('custom_id')!r} has no inputs {sorted(unknown)}; it has {sorted(inputs)}")
    for cid, spec in inputs.items():
        if spec.get("type") != 4:
            continue
        text = str(values.get(cid, spec.get("value") or ""))
        required = spec.get("required", True)
        low, high = spec.get("min_length", 0), spec.get("max_length", 4000)
        if (required or text) and not (max(low, 1 if required else 0) <= len(text) <= high):
            raise InvalidInvocation(f"modal input {cid!r} needs {low}..{high} characters (required={required})")

    def submitted(component: dict) -> dict:
        cid = component.get("custom_id")
        if component.get("type") == 4:
            return {"type": 4, "id": component.get("id", 0), "custom_id": cid,
                    "value": str(values.get(cid, component.get("value") or ""))}
        picked = values.get(cid, [])
        return {"type": component["type"], "id": component.get("id", 0), "custom_id": cid,
                "values": list(picked) if isinstance(picked, (list, tuple)) else [picked]}

    rows = []
    for top in modal.get("components") or []:
        if top.get("type") == 18:
            rows.append({"type": 18, "id": top.get("id", 0), "component": submitted(top["component"])})
        elif top.get("type") == 1:
            rows.append({"type": 1, "id": top.get("id", 0),
                         "components": [submitted(c) for c in top.get("components") or []]})
    return rows


def message_payload(
    *,
    message_id: str,
    channel_id: str,
    guild_id: str | None,
    author: EmuUser,
    body: dict,
    flags: int = 0,
    attachments: list[dict] | None = None,
    message_type: int = 0,
    webhook_id: str | None = None,
    application_id: str | None = None,
) -> dict:
    """Return a full message object built from a create payload."""
    message = {
        "id": message_id,
        "type": message_type,
        "channel_id": channel_id,
        "author": author.payload(),
        "content": body.get("content") or "",
        "timestamp": iso_now(),
        "edited_timestamp": None,
        "tts": bool(body.get("tts", False)),
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": attachments or [],
        "embeds": list(body.get("embeds") or []),
        "components": list(body.get("components") or []),
        "pinned": False,
        "flags": flags,
        "allowed_mentions": body.get("allowed_mentions"),
    }
    if guild_id is not None:
        message["guild_id"] = guild_id
    if webhook_id is not None:
        message["webhook_id"] = webhook_id
    if application_id is not None:
        message["application_id"] = application_id
    return message


def apply_edit(message: dict, body: dict, attachments: list[dict] | None) -> dict:
    """Apply a PATCH body to a stored message in place; return it."""
    for key in ("content", "embeds", "components", "allowed_mentions"):
        if key in body:
            message[key] = body[key] if body[key] is not None else ([] if key != "content" else "")
    if "flags" in body and body["flags"] is not None:
        message["flags"] = (message["flags"] & ~0b100) | (int(body["flags"]) & 0b100)  # only SUPPRESS_EMBEDS
    if attachments is not None:
        message["attachments"] = attachments
    message["edited_timestamp"] = iso_now()
    return message
