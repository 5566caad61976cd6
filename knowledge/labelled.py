"""Labelled questions (the eval format): loading, follow-up groups and cross-validation folds."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

SHIPPED_DIR = Path(__file__).parent / "data"
SHIPPED_SETS = ("dev.jsonl", "train.jsonl")


class LabelledSetError(ValueError):
    """A question file that cannot be read, with a reason a person can act on."""


@dataclass(frozen=True)
class LabelledItem:
    """One question with the verbatim spans that answer it (none when the articles don't cover it)."""

    id: str
    question: str
    answer_contains: tuple[str, ...] = ()
    kind: str = "fact"
    previous: tuple[str, ...] = ()
    source: str | None = None

    @property
    def in_scope(self) -> bool:
        """True when the articles answer it."""
        return self.kind != "out_of_scope" and bool(self.answer_contains)

    def to_json(self) -> dict:
        """The item in the eval file format."""
        data = {"id": self.id, "question": self.question, "answer_contains": list(self.answer_contains),
                "source": self.source, "kind": self.kind}
        if self.previous:
            data["previous"] = self.previous[-1] if len(self.previous) == 1 else list(self.previous)
        return data


def parse_item(raw: object, number: int) -> LabelledItem:
    """One JSON object of the eval format as an item."""
    if not isinstance(raw, dict) or not isinstance(raw.get("question"), str):
        raise LabelledSetError(f"line {number} needs a JSON object with a string 'question'")
    previous = raw.get("previous") or []
    previous = [previous] if isinstance(previous, str) else [str(p) for p in previous]
    return LabelledItem(
        id=str(raw.get("id", number)), question=raw["question"],
        answer_contains=tuple(str(a) for a in raw.get("answer_contains") or ()), kind=str(raw.get("kind", "fact")),
        previous=tuple(previous), source=raw.get("source"),
    )


def load_items(path: Path | str) -> list[LabelledItem]:
    """Read labelled items from JSON Lines."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise LabelledSetError(f"No question file at {path}.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelledSetError(f"Cannot read the question file {path}: {exc}.") from None
    items = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                raw = json.loads(line)
            except json.JSONDecodeError:
                raise LabelledSetError(f"{path}, line {number}, is not valid JSON.") from None
            items.append(parse_item(raw, number))
    return items


def shipped_items() -> list[LabelledItem]:
    """The labelled questions the project ships (its training data)."""
    return [item for name in SHIPPED_SETS for item in load_items(SHIPPED_DIR / name)]


def items_hash(items: list[LabelledItem]) -> str:
    """A stable hash of a list of items (the ranker file records what it was trained on)."""
    blob = json.dumps([i.to_json() for i in items], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def groups(items: list[LabelledItem]) -> list[int]:
    """A group number per item: a follow-up shares its earlier question's group."""
    by_question: dict[str, int] = {}
    result = []
    for n, item in enumerate(items):
        group = next((by_question[p] for p in item.previous if p in by_question), n)
        result.append(group)
        by_question.setdefault(item.question, group)
    return result


def folds(items: list[LabelledItem], k: int = 5, seed: int = 7) -> list[int]:
    """A fold number per item; whole groups stay together, and kinds are spread across folds."""
    item_groups = groups(items)
    members: dict[int, list[int]] = {}
    for n, g in enumerate(item_groups):
        members.setdefault(g, []).append(n)
    ordered = sorted(members.values(), key=lambda m: (items[m[0]].kind, items[m[0]].id))
    rng = random.Random(seed)
    result = [0] * len(items)
    offset = rng.randrange(k)
    by_kind: dict[str, list[list[int]]] = {}
    for m in ordered:
        by_kind.setdefault(items[m[0]].kind, []).append(m)
    position = offset
    for kind in sorted(by_kind):
        chunk = by_kind[kind]
        rng.shuffle(chunk)
        for m in chunk:
            for n in m:
                result[n] = position % k
            position += 1
    return result
