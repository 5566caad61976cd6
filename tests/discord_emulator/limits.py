"""Discord's payload limits, checked the way the API does, with its error bodies."""

from __future__ import annotations

from typing import Any

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_MAX = 256
ACTION_ROWS_MAX = 5
ROW_COMPONENTS_MAX = 5
BUTTON_LABEL_MAX = 80
CUSTOM_ID_MAX = 100
SELECT_OPTIONS_MAX = 25
MODAL_TITLE_MAX = 45
MODAL_COMPONENTS_MAX = 5
TEXT_INPUT_LABEL_MAX = 45
TEXT_INPUT_VALUE_MAX = 4000
AUTOCOMPLETE_CHOICES_MAX = 25
COMPONENTS_V2_FLAG = 1 << 15
COMPONENTS_V2_TOTAL_MAX = 40

Path = tuple[str | int, ...]


class FormErrors:
    """Collect field errors and render them as Discord's 50035 'Invalid Form Body' response."""

    def __init__(self, prefix: Path = ()) -> None:
        self.prefix = prefix
        self.items: list[tuple[Path, str, str]] = []

    def add(self, path: Path, code: str, message: str) -> None:
        """Record one error at `path` (relative to the prefix)."""
        self.items.append((self.prefix + tuple(path), code, message))

    def too_long(self, path: Path, value: Any, limit: int) -> None:
        """Record an error if the string `value` is longer than `limit`."""
        if isinstance(value, str) and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def length_between(self, path: Path, value: Any, low: int, high: int) -> None:
        """Record an error unless `value` is a string of length low..high."""
        if not isinstance(value, str) or not low <= len(value) <= high:
            self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")

    def too_many(self, path: Path, items: list, limit: int) -> None:
        """Record an error if the list `items` has more than `limit` entries."""
        if len(items) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def count_between(self, path: Path, items: list | None, low: int, high: int) -> None:
        """Record an error unless the list `items` has low..high entries."""
        if not low <= len(items or []) <= high:
            self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")

    def __bool__(self) -> bool:
        return bool(self.items)

    def body(self) -> dict:
        """Return the JSON error body Discord sends for these errors."""
        if [code for _, code, _ in self.items] == ["EMPTY_MESSAGE"]:
            return {"code": 50006, "message": "Cannot send an empty message"}
        errors: dict = {}
        for path, code, message in self.items:
            node = errors
            for key in path:
                node = node.setdefault(str(key), {})
            node.setdefault("_errors", []).append({"code": code, "message": message})
        return {"code": 50035, "errors": errors, "message": "Invalid Form Body"}


def check_message(payload: dict, errors: FormErrors, *, creating: bool, has_files: bool = False) -> None:
    """Check a message create/edit payload against Discord's limits."""
    content = payload.get("content")
    errors.too_long(("content",), content, CONTENT_MAX)
    embeds = payload.get("embeds") or []
    errors.too_many(("embeds",), embeds, EMBEDS_MAX)
    total = 0
    for index, embed in enumerate(embeds):
        total += check_embed(embed, errors, ("embeds", index))
    if total > EMBED_TOTAL_MAX:
        errors.add(("embeds",), "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}")
    check_components(payload.get("components") or [], errors, flags=int(payload.get("flags") or 0))
    check_allowed_mentions(payload.get("allowed_mentions"), errors)
    if creating and not errors and not (content or embeds or payload.get("components") or has_files
                                        or payload.get("poll") or payload.get("sticker_ids")):
        errors.add((), "EMPTY_MESSAGE", "Cannot send an empty message")


def check_embed(embed: dict, errors: FormErrors, path: Path) -> int:
    """Check one embed; return the number of characters that count toward the 6000 total."""
    title = embed.get("title") or ""
    description = embed.get("description") or ""
    errors.too_long(path + ("title",), title, EMBED_TITLE_MAX)
    errors.too_long(path + ("description",), description, EMBED_DESCRIPTION_MAX)
    fields = embed.get("fields") or []
    errors.too_many(path + ("fields",), fields, EMBED_FIELDS_MAX)
    total = len(title) + len(description)
    for index, fld in enumerate(fields):
        name, value = fld.get("name"), fld.get("value")
        for key, text, limit in (("name", name, EMBED_FIELD_NAME_MAX), ("value", value, EMBED_FIELD_VALUE_MAX)):
            if not text:
                errors.add(path + ("fields", index, key), "BASE_TYPE_REQUIRED", "This field is required")
            errors.too_long(path + ("fields", index, key), text, limit)
        total += len(name or "") + len(value or "")
    footer = (embed.get("footer") or {}).get("text") or ""
    author = (embed.get("author") or {}).get("name") or ""
    errors.too_long(path + ("footer", "text"), footer, EMBED_FOOTER_MAX)
    errors.too_long(path + ("author", "name"), author, EMBED_AUTHOR_MAX)
    return total + len(footer) + len(author)


def check_components(components: list, errors: FormErrors, *, flags: int = 0) -> None:
    """Check message components: rows, buttons, selects and custom_id rules."""
    seen: set[str] = set()
    if flags & COMPONENTS_V2_FLAG:
        errors.too_many(("components",), list(_walk(components)), COMPONENTS_V2_TOTAL_MAX)
    else:
        errors.too_many(("components",), components, ACTION_ROWS_MAX)
    for index, row in enumerate(components):
        path = ("components", index)
        if row.get("type") == 1:
            children = row.get("components") or []
            errors.count_between(path + ("components",), children, 1, ROW_COMPONENTS_MAX)
            if len(children) > 1 and any(c.get("type") in (3, 5, 6, 7, 8) for c in children):
                errors.add(path + ("components",), "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                           "The specified component exceeds the maximum width")
            for cindex, child in enumerate(children):
                check_component(child, errors, path + ("components", cindex), seen)
        elif not flags & COMPONENTS_V2_FLAG:
            errors.add(path + ("type",), "UNION_TYPE_CHOICES", "Top-level components must be action rows")
        else:
            for child in _walk([row]):
                check_component(child, errors, path, seen)


def check_component(component: dict, errors: FormErrors, path: Path, seen: set[str]) -> None:
    """Check one interactive component (button or select)."""
    ctype = component.get("type")
    if ctype == 2:
        errors.too_long(path + ("label",), component.get("label"), BUTTON_LABEL_MAX)
        style = component.get("style")
        if style == 5:
            if not component.get("url"):
                errors.add(path + ("url",), "BASE_TYPE_REQUIRED", "This field is required")
            return
        if style == 6:
            return
        if not component.get("label") and not component.get("emoji"):
            errors.add(path + ("label",), "BASE_TYPE_REQUIRED", "This field is required")
    elif ctype in (3, 5, 6, 7, 8):
        if ctype == 3:
            errors.count_between(path + ("options",), component.get("options"), 1, SELECT_OPTIONS_MAX)
        errors.too_long(path + ("placeholder",), component.get("placeholder"), 150)
    else:
        return
    custom_id = component.get("custom_id")
    errors.length_between(path + ("custom_id",), custom_id, 1, CUSTOM_ID_MAX)
    if custom_id in seen:
        errors.add(path + ("custom_id",), "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
    seen.add(custom_id)


def check_allowed_mentions(allowed: dict | None, errors: FormErrors) -> None:
    """Check the allowed_mentions object."""
    if not allowed:
        return
    parse = allowed.get("parse") or []
    for index, kind in enumerate(parse):
        if kind not in ("users", "roles", "everyone"):
            errors.add(("allowed_mentions", "parse", index), "BASE_TYPE_CHOICES",
                       "Value must be one of users, roles, everyone.")
    for kind in ("users", "roles"):
        if kind in parse and allowed.get(kind):
            errors.add(("allowed_mentions",), "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                       f"parse:[\"{kind}\"] and {kind}: [ids...] are mutually exclusive.")


def check_modal(data: dict, errors: FormErrors) -> None:
    """Check a modal callback: title, 1-5 components, text inputs."""
    errors.length_between(("title",), data.get("title"), 1, MODAL_TITLE_MAX)
    errors.length_between(("custom_id",), data.get("custom_id"), 1, CUSTOM_ID_MAX)
    components = data.get("components") or []
    errors.count_between(("components",), components, 1, MODAL_COMPONENTS_MAX)
    seen: set[str] = set()
    for index, component in enumerate(components):
        path: Path = ("components", index)
        if component.get("type") == 18:
            errors.length_between(path + ("label",), component.get("label"), 1, TEXT_INPUT_LABEL_MAX)
            inner = [component.get("component") or {}]
        else:
            inner = component.get("components") or []
        for cindex, child in enumerate(inner):
            cpath = path + ("components", cindex)
            if child.get("type") == 4:
                check_text_input(child, errors, cpath)
                errors.length_between(cpath + ("custom_id",), child.get("custom_id"), 1, CUSTOM_ID_MAX)
                if child.get("custom_id") in seen:
                    errors.add(cpath + ("custom_id",), "COMPONENT_CUSTOM_ID_DUPLICATED",
                               "Component custom id cannot be duplicated")
                seen.add(child.get("custom_id"))
            else:
                check_component(child, errors, cpath, seen)


def check_text_input(component: dict, errors: FormErrors, path: Path) -> None:
    """Check a text input's label, lengths, value and placeholder."""
    if component.get("label") is not None:
        errors.length_between(path + ("label",), component.get("label"), 1, TEXT_INPUT_LABEL_MAX)
    for key in ("min_length", "max_length"):
        value = component.get(key)
        if value is not None and not 0 <= int(value) <= TEXT_INPUT_VALUE_MAX:
            errors.add(path + (key,), "NUMBER_TYPE_MAX",
                       f"int value should be less than or equal to {TEXT_INPUT_VALUE_MAX}.")
    errors.too_long(path + ("value",), component.get("value"), TEXT_INPUT_VALUE_MAX)
    errors.too_long(path + ("placeholder",), component.get("placeholder"), 100)


def check_autocomplete(data: dict, errors: FormErrors) -> None:
    """Check an autocomplete result: at most 25 choices with names of 1-100 chars."""
    choices = data.get("choices") or []
    errors.too_many(("choices",), choices, AUTOCOMPLETE_CHOICES_MAX)
    for index, choice in enumerate(choices):
        errors.length_between(("choices", index, "name"), choice.get("name"), 1, 100)
        if isinstance(choice.get("value"), str):
            errors.too_long(("choices", index, "value"), choice.get("value"), 100)


def _walk(components: list):
    """Yield every component in a (possibly nested) component tree."""
    for component in components:
        yield component
        yield from _walk(component.get("components") or [])
        if isinstance(component.get("accessory"), dict):
            yield component["accessory"]
        if isinstance(component.get("component"), dict):
            yield from _walk([component["component"]])


def find_component(components: list, custom_id: str) -> dict | None:
    """Return the component with `custom_id` anywhere in a component tree."""
    return next((c for c in _walk(components) if c.get("custom_id") == custom_id), None)


def iter_components(components: list):
    """Yield every component in a component tree (public alias of the walker)."""
    return _walk(components)


def check_commands(commands: list, errors: FormErrors) -> None:
    """Check application commands: names, descriptions, option counts and choices."""
    for index, command in enumerate(commands):
        path: Path = (index,)
        errors.length_between(path + ("name",), command.get("name"), 1, 32)
        if command.get("type", 1) == 1:
            errors.length_between(path + ("description",), command.get("description"), 1, 100)
        _check_options(command.get("options") or [], errors, path + ("options",))


def _check_options(options: list, errors: FormErrors, path: Path) -> None:
    """Check a list of command options recursively."""
    errors.too_many(path, options, 25)
    for index, option in enumerate(options):
        opath = path + (index,)
        errors.length_between(opath + ("name",), option.get("name"), 1, 32)
        errors.length_between(opath + ("description",), option.get("description"), 1, 100)
        choices = option.get("choices") or []
        errors.too_many(opath + ("choices",), choices, 25)
        if option.get("max_length") is not None and not 1 <= int(option["max_length"]) <= 6000:
            errors.add(opath + ("max_length",), "NUMBER_TYPE_MAX", "int value should be less than or equal to 6000.")
        _check_options(option.get("options") or [], errors, opath + ("options",))
