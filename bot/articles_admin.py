"""Articles managed from Discord: checking an upload, writing it where `python -m bot index` reads, the changes."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from knowledge.articles import ArticleError, article_files, decode, parse_article, slugify
from knowledge.models import Article

MAX_UPLOAD_BYTES = 1_000_000
UPLOAD_SUFFIXES = (".md", ".txt")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class UploadError(ValueError):
    """An uploaded article is refused; the message says why in one sentence."""


def safe_file_name(name: str) -> str:
    """A plain file name for an upload (letters, digits, dot, dash, underscore); raise UploadError if none is left."""
    base = Path(name.replace("\\", "/")).name
    stem, suffix = os.path.splitext(base)
    if suffix.lower() not in UPLOAD_SUFFIXES:
        raise UploadError(f"{base or 'The file'} must be a .md or .txt file.")
    stem = _UNSAFE.sub("-", stem).strip("-._")
    if not stem:
        raise UploadError(f"{base} needs a name made of letters or digits before {suffix}.")
    return f"{stem[:80]}{suffix.lower()}"


def check_upload(name: str, data: bytes, existing: Iterable[Article], size: int | None = None) -> tuple[str, Article]:
    """The file name and article an upload would become; raise UploadError (one sentence) if it can't."""
    file_name = safe_file_name(name)
    size = len(data) if size is None else size
    if size > MAX_UPLOAD_BYTES or len(data) > MAX_UPLOAD_BYTES:
        raise UploadError(f"{file_name} is too large ({max(size, len(data)):,} bytes; the limit is 1 MB).")
    path = Path(file_name)
    try:
        article = parse_article(path, decode(path, data))
    except ArticleError as exc:
        raise UploadError(f"{file_name} can't be added: {exc}.") from None
    taken = {a.id: a for a in existing}
    if article.id in taken:
        raise UploadError(f"{file_name} can't be added: the article {taken[article.id].title!r} already uses the id "
                          f"{article.id!r}; remove it first or rename the file.")
    return file_name, article


def write_article(directory: Path, file_name: str, data: bytes) -> Path:
    """Write an upload into the knowledge folder atomically (a hidden temporary file, then a rename)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / file_name
    if target.exists():
        raise UploadError(f"{file_name} already exists in the knowledge folder; remove it first or rename the file.")
    temporary = directory / f".{file_name}.part"
    temporary.write_bytes(data)
    os.replace(temporary, target)
    return target


def article_file(directory: Path, article: Article) -> Path | None:
    """The file an article was loaded from, if it lies in the knowledge folder."""
    if article.path and Path(article.path).parent.resolve() == directory.resolve() and Path(article.path).exists():
        return Path(article.path)
    for path in article_files(directory):
        if slugify(path.stem) == article.id:
            return path
    return None


@dataclass(frozen=True)
class Changes:
    """What a rebuild changed: article ids added, removed and edited."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    edited: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.edited)


def changes(old: Sequence[Article], new: Sequence[Article]) -> Changes:
    """Compare two article lists by id and content."""
    before, after = {a.id: a for a in old}, {a.id: a for a in new}
    return Changes(
        added=tuple(i for i in after if i not in before),
        removed=tuple(i for i in before if i not in after),
        edited=tuple(i for i in after if i in before and after[i] != before[i]),
    )


def describe_changes(found: Changes, titles: dict[str, str]) -> str:
    """One line per kind of change, with titles."""
    def names(ids: Sequence[str]) -> str:
        shown = ", ".join(f"“{titles.get(i, i)[:80]}”" for i in ids[:5])
        return shown + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")

    lines = []
    if found.added:
        lines.append(f"Added: {names(found.added)}.")
    if found.removed:
        lines.append(f"Removed: {names(found.removed)}.")
    if found.edited:
        lines.append(f"Changed: {names(found.edited)}.")
    return "\n".join(lines) or "No article changed."
