"""Load articles: Markdown with front matter, or plain .txt/.md (title from the first line)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from knowledge.models import Article

log = logging.getLogger(__name__)

PACKAGED_DIR = Path(__file__).parent / "articles"
ARTICLE_SUFFIXES = (".md", ".txt", ".markdown")
MAX_ARTICLE_BYTES = 5_000_000
FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n", re.S)
FIELD = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*)$")
META_KEYS = ("title", "outlet", "author", "date", "url", "source_file")


class ArticleError(ValueError):
    """An article file that cannot be used, with a reason a person can act on."""


def slugify(text: str, limit: int = 48) -> str:
    """Make a short lowercase ascii id from text."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "article"


def parse_front_matter(block: str) -> dict[str, str]:
    """Parse simple `key: value` lines (values may be JSON/YAML-style quoted)."""
    meta: dict[str, str] = {}
    for line in block.splitlines():
        match = FIELD.match(line.strip())
        if not match:
            continue
        key, value = match.group(1).lower(), match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                value = value[1:-1]
        elif len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1].replace("''", "'")
        meta[key] = str(value)
    return meta


def split_title(text: str) -> tuple[str, str]:
    """Take the first non-empty line as the title; return (title, rest of text)."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.strip():
            title = re.sub(r"^#+\s*", "", line.strip()).strip("*_ ").strip()
            return title, "\n".join(lines[i + 1 :])
    return "", ""


def normalise_body(text: str) -> str:
    """Normalise line endings and outer blank lines (words are never changed)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n").strip() + "\n"


def decode(path: Path, data: bytes) -> str:
    """Decode UTF-8 text, refusing binary data with a clear reason."""
    if not data.strip():
        raise ArticleError("the file is empty")
    if b"\x00" in data[:8192]:
        raise ArticleError("the file looks binary (it contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArticleError(f"the file is not UTF-8 text (bad byte at position {exc.start})") from None
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > 8:
        raise ArticleError("the file looks binary (it contains control characters)")
    return text


def parse_article(path: Path, text: str) -> Article:
    """Turn a file's text into an Article (front matter optional)."""
    meta: dict[str, str] = {}
    match = FRONT_MATTER.match(text.replace("\ufeff", "", 1))
    if match:
        meta = parse_front_matter(match.group(1))
        text = text.replace("\ufeff", "", 1)[match.end() :]
    title = meta.get("title", "").strip()
    if not title:
        title, text = split_title(text)
    body = normalise_body(text) if text.strip() else ""
    if not body.strip():
        raise ArticleError("the article has no text after its title")
    if not title:
        raise ArticleError("the article has no title")
    return Article(
        id=slugify(path.stem),
        title=title[:300],
        body=body,
        outlet=meta.get("outlet", ""),
        author=meta.get("author", ""),
        date=meta.get("date", ""),
        url=meta.get("url", ""),
        source_file=meta.get("source_file", "") or path.name,
        path=str(path),
    )


def load_article(path: Path) -> Article:
    """Read and parse one article file; raise ArticleError with the reason."""
    try:
        size = path.stat().st_size
        if size > MAX_ARTICLE_BYTES:
            raise ArticleError(f"the file is too large ({size} bytes; the limit is {MAX_ARTICLE_BYTES})")
        data = path.read_bytes()
    except OSError as exc:
        raise ArticleError(f"the file cannot be read ({exc.strerror or exc})") from None
    return parse_article(path, decode(path, data))


def article_files(directory: Path) -> list[Path]:
    """List the article files of a directory, sorted by name (hidden files ignored)."""
    if not directory.is_dir():
        return []
    return sorted(
        p for p in directory.iterdir()
        if p.suffix.lower() in ARTICLE_SUFFIXES and not p.name.startswith((".", "_")) and p.name.lower() != "readme.md"
    )


def load_articles(directory: Path | None = None) -> tuple[list[Article], list[str]]:
    """Load every readable article of a directory; return (articles, warnings)."""
    directory = Path(directory) if directory else PACKAGED_DIR
    articles: list[Article] = []
    warnings: list[str] = []
    seen: set[str] = set()
    if not directory.is_dir():
        warnings.append(f"Knowledge folder {directory} does not exist; no articles loaded.")
    for path in article_files(directory):
        try:
            article = load_article(path)
        except ArticleError as exc:
            warnings.append(f"Skipped article {path.name}: {exc}.")
            continue
        if article.id in seen:
            warnings.append(f"Skipped article {path.name}: another file already has the id {article.id!r}.")
            continue
        seen.add(article.id)
        articles.append(article)
    for message in warnings:
        log.warning(message)
    return articles, warnings
