"""Pure presentation: answers and articles -> Discord embeds that fit the platform limits by construction."""

from __future__ import annotations

import dataclasses
import itertools
import re
import unicodedata
from collections.abc import Sequence
from datetime import date

import discord

from bot.markup import Run, styled_runs
from knowledge.models import Answer, Article, Passage, Quote

CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000
FIELD_COUNT_LIMIT = 25
EMBEDS_PER_MESSAGE = 10
CHOICE_LIMIT = 25
CHOICE_NAME_LIMIT = 100
MAX_QUESTION_CHARS = 300

ELLIPSIS = "…"
ANSWER_COLOUR = discord.Colour.blurple()
ABSTAIN_COLOUR = discord.Colour.light_grey()

_INVISIBLE = re.compile("[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u202a-\u202e\u2066-\u2069]")
_MENTION = re.compile(r"@(everyone|here|[!&]?[0-9]{15,21})|<([@#])")
_ESCAPED = set("*_`~|\\")
_LINE_START = re.compile(r"^(\s*)(#{1,3}\s|-#\s|>)")


def dlen(text: str) -> int:
    """Length as Discord may count it (UTF-16 code units), never less than len()."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _safe_cut(text: str, limit: int) -> str:
    """Longest prefix within limit that does not split a grapheme-ish cluster."""
    cut = text
    while dlen(cut) > limit:
        cut = cut[: max(0, len(cut) - max(1, (dlen(cut) - limit) // 2))]
    while cut and len(cut) < len(text) and _joins_previous(text[len(cut)]):
        cut = cut[:-1]
    if cut and cut[-1] == "\u200d":
        cut = cut[:-1]
    return cut


def _joins_previous(char: str) -> bool:
    """Whether char belongs to the cluster before it (combining mark, joiner, variation selector)."""
    return unicodedata.category(char).startswith("M") or char in "\u200d\ufe0e\ufe0f"


def clip(text: str, limit: int) -> str:
    """Trim text to limit (UTF-16 units), on a word boundary with an ellipsis, only when needed."""
    if dlen(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    head = _safe_cut(text, limit - 1)
    space = max(head.rfind(" "), head.rfind("\n"))
    if space >= len(head) // 2:
        head = head[:space]
    return head.rstrip() + ELLIPSIS


def one_line(text: str) -> str:
    """Collapse all white space runs to single spaces."""
    return " ".join(text.split())


def clean(text: str) -> str:
    """Remove invisible control and bidi-override characters that could garble the layout."""
    return _INVISIBLE.sub("", text)


def neutralise_mentions(text: str) -> str:
    """Break @everyone, @here, <@id>, <#id> so they render as text even if pasted elsewhere."""
    return _MENTION.sub(lambda m: f"@\u200b{m.group(1)}" if m.group(1) else f"<\u200b{m.group(2)}", text)


def escape_inline(text: str) -> str:
    """Escape every markdown marker that is the article's literal text; keep the article's own backslash escapes."""
    tokens = re.findall(r"\\[^\w\s]|\\|[*_`~|]|[^\\*_`~|]+", text)
    out = []
    for token in tokens:
        if token == "\\":
            out.append("\\\\")
        elif token.startswith("\\") or token[0] not in _ESCAPED:
            out.append(token)
        else:
            out.append("\\" + token)
    return "".join(out)


def escape_text(text: str) -> str:
    """Make arbitrary text (titles, names, questions) display literally: no markdown, no mentions."""
    return neutralise_mentions(discord.utils.escape_markdown(clean(text), ignore_links=False))


def _window(text: str, highlight: tuple[int, int], limit: int) -> tuple[int, int]:
    """Span of at most limit chars around the highlight, cut at word boundaries."""
    if len(text) <= limit:
        return 0, len(text)
    start, end = max(0, min(highlight[0], len(text))), max(0, min(highlight[1], len(text)))
    if end - start >= limit:
        space = text.rfind(" ", start, start + limit)
        lo, hi = start, space if space > start + limit // 2 else start + limit
    else:
        spare = limit - (end - start)
        before = min(start, spare // 2)
        after = min(len(text) - end, spare - before)
        before = min(start, spare - after)
        lo, hi = start - before, end + after
        if lo > 0:
            space = text.find(" ", lo, start)
            lo = space + 1 if space != -1 else start
        if hi < len(text):
            space = text.rfind(" ", end, hi)
            hi = space if space != -1 else end
    while lo < hi and _joins_previous(text[lo]):
        lo += 1
    while lo < hi < len(text) and _joins_previous(text[hi]):
        hi -= 1
    return lo, hi


def _segments(quote: Quote, limit: int) -> list[Run]:
    """Quote text trimmed to limit chars as styled runs (emphasis, the highlight), with ellipses."""
    text = quote.text
    lo, hi = _window(text, quote.highlight, limit)
    runs = styled_runs(text, quote.highlight, lo, hi)
    if lo > 0:
        runs.insert(0, Run(ELLIPSIS, ELLIPSIS))
    if hi < len(text):
        runs.append(Run(ELLIPSIS, ELLIPSIS))
    return [run for run in runs if run.raw]


def _wrap(body: str, marker: str) -> str:
    """body between markers, white space outside them (`** x**` stays literal), never touching an inner star."""
    core = body.strip()
    if not marker or not core:
        return body
    lead, trail = body[: len(body) - len(body.lstrip())], body[len(body.rstrip()) :]
    inner_lead = "\u200b" if core.startswith("*") else ""
    inner_trail = "\u200b" if core.endswith("*") else ""
    return f"{lead}{marker}{inner_lead}{core}{inner_trail}{marker}{trail}"


def _join(pieces: list[str]) -> str:
    """Concatenate, keeping two marker runs apart with a zero-width space (`*a***b**` is ambiguous)."""
    out = ""
    for piece in pieces:
        if out.endswith("*") and piece.startswith("*"):
            out += "\u200b"
        out += piece
    return out


def _render_line(runs: list[Run]) -> str:
    """One block-quote line: escaped text, the article's emphasis, the highlight in bold around it."""
    groups = []
    for marked, group in itertools.groupby(runs, key=lambda run: run.mark):
        inner = []
        for run in group:
            marker = "*" * (run.italic + 2 * (run.strong and not marked))
            inner.append(_wrap(escape_inline(run.raw), marker))
        groups.append(_wrap(_join(inner), "**" if marked else ""))
    line = _join(groups).strip()
    line = _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), line)
    return "> " + line


def _render_quote(quote: Quote, limit: int) -> str:
    """A quote as Discord block-quote lines, at most limit raw characters of article text."""
    lines: list[list[Run]] = [[]]
    for run in _segments(quote, limit):
        parts = clean(run.raw).split("\n")
        for i, part in enumerate(parts):
            if i:
                lines.append([])
            if part:
                lines[-1].append(dataclasses.replace(run, raw=part, text=part))
    rendered = [_render_line(runs) for runs in lines if "".join(r.raw for r in runs).strip()]
    return neutralise_mentions("\n".join(rendered) or "> " + ELLIPSIS)


def quote_block(quote: Quote, budget: int) -> str:
    """Render a quote (bold answering sentence) within budget UTF-16 units, trimming only if needed."""
    limit = len(quote.text)
    rendered = _render_quote(quote, limit)
    while dlen(rendered) > budget and limit > 0:
        limit = max(0, limit - max(1, dlen(rendered) - budget))
        rendered = _render_quote(quote, limit)
    return rendered if dlen(rendered) <= budget else clip(rendered, budget)


def nice_date(iso: str) -> str:
    """'2024-05-17' -> '17 May 2024'; anything else unchanged."""
    try:
        day = date.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{day.day} {day:%B %Y}"


def _link(label: str, url: str) -> str:
    """A masked link when url is http(s), else the plain label."""
    if not url.lower().startswith(("http://", "https://")) or any(ch.isspace() for ch in url):
        return label
    safe_url = url.replace("(", "%28").replace(")", "%29")
    return f"[{label}]({safe_url})"


def source_line(title: str, url: str, outlet: str, day: str, limit: int = 400) -> str:
    """'— [Title](url) · Outlet · 17 May 2024' within limit."""
    label = escape_text(one_line(title)).replace("[", "(").replace("]", ")") or "Untitled"
    extras = [escape_text(one_line(x)) for x in (outlet, nice_date(day)) if x.strip()]
    tail = "".join(f" · {x}" for x in extras)
    label = clip(label, max(20, limit - len(tail) - len(url) - 8))
    line = f"— {_link(label, url)}{tail}"
    return line if dlen(line) <= limit else clip(f"— {label}{tail}", limit)


def _share(needs: Sequence[int], total: int) -> list[int]:
    """Split total between items so small ones get what they need and big ones share the rest."""
    alloc = [0] * len(needs)
    remaining = total
    order = sorted(range(len(needs)), key=lambda i: needs[i])
    for k, i in enumerate(order):
        alloc[i] = min(needs[i], remaining // (len(needs) - k))
        remaining -= alloc[i]
    return alloc


def quotes_description(quotes: Sequence[Quote], limit: int = DESCRIPTION_LIMIT) -> str:
    """All quotes with their sources, separated by blank lines, within limit."""
    if not quotes:
        return ""
    line_limit = min(400, limit // (2 * len(quotes)))
    sources = [source_line(q.title, q.url, q.outlet, q.date, limit=line_limit) for q in quotes]
    overhead = sum(dlen(s) + 1 for s in sources) + 2 * (len(quotes) - 1)
    needs = [dlen(_render_quote(q, len(q.text))) for q in quotes]
    budgets = _share(needs, max(0, limit - overhead))
    blocks = [f"{quote_block(q, b)}\n{s}" for q, b, s in zip(quotes, budgets, sources)]
    return clip("\n\n".join(blocks), limit)


def _title(prefix: str, question: str) -> str:
    return clip(prefix + escape_text(one_line(question)), TITLE_LIMIT)


def _footer(*parts: str) -> str:
    """Footer text from the non-empty parts, within the footer limit (plain text: only mentions are broken)."""
    return clip(" · ".join(neutralise_mentions(one_line(clean(p))) for p in parts if p.strip()), FOOTER_LIMIT)


def read_as(answer: Answer) -> str:
    """"Read as: …" when the engine corrected typos in the question, else nothing."""
    return f"Read as: {answer.read_as}" if answer.read_as.strip() else ""


def answer_embed(answer: Answer, *, asked_by: str = "", kind: str = "ask", note: str = "") -> discord.Embed:
    """The answer card: question as title, quotes as block quotes, sources linked."""
    prefix = {"more": "More quotes: ", "followup": "↪ "}.get(kind, "")
    embed = discord.Embed(title=_title(prefix, answer.question), colour=ANSWER_COLOUR)
    embed.description = quotes_description(answer.quotes)
    asker = f"Asked by {asked_by}" if asked_by.strip() else ""
    embed.set_footer(text=_footer(note, asker, read_as(answer),
                                  "Verbatim quotes from the articles; the answering sentence is in bold."))
    return embed


def abstain_embed(answer: Answer, *, asked_by: str = "", kind: str = "ask", note: str = "") -> discord.Embed:
    """Say plainly that the articles don't cover the question and point to /sources."""
    prefix = "↪ " if kind == "followup" else ""
    embed = discord.Embed(title=_title(prefix, answer.question), colour=ABSTAIN_COLOUR)
    lines = ["**The articles don't cover this**, so I won't guess or quote something unrelated."]
    if kind == "find-quotes":
        lines = [FIND_QUOTES_ABSTAIN]
    if answer.reason.strip():
        lines.append(clip(escape_text(one_line(answer.reason)), 500))
    lines.append("Use `/sources` to see what the articles are about, or rephrase your question.")
    embed.description = "\n".join(lines)
    footer = _footer(note, f"Asked by {asked_by}" if asked_by.strip() else "", read_as(answer))
    if footer:
        embed.set_footer(text=footer)
    return embed


NOTHING_MORE = "That's all the articles have on this: no other passage is relevant enough to quote."
FIND_QUOTES_ABSTAIN = ("**The articles have nothing on this message**, so I won't quote something unrelated as if it "
                       "confirmed or refuted it.")


def nothing_more_text(answer: Answer) -> str:
    """Ephemeral note when More comes back abstained (nothing relevant is left)."""
    return NOTHING_MORE


def sources_embed(articles: Sequence[Article], passage_counts: dict[str, int]) -> discord.Embed:
    """One field per article: title, outlet, date, passage count, link."""
    embed = discord.Embed(title="The articles I quote from", colour=ANSWER_COLOUR)
    shown = list(articles)[: FIELD_COUNT_LIMIT - 1] if len(articles) > FIELD_COUNT_LIMIT else list(articles)
    budget = (EMBED_TOTAL_LIMIT - 400) // max(1, len(shown))
    for article in shown:
        title = neutralise_mentions(one_line(clean(article.title))) or article.id
        name = clip(title, min(FIELD_NAME_LIMIT, budget // 4))
        facts = [escape_text(one_line(x)) for x in (article.outlet, nice_date(article.date)) if x.strip()]
        facts.append(f"{passage_counts.get(article.id, 0)} passages")
        value = " · ".join(facts)
        if article.url.lower().startswith(("http://", "https://")):
            value += "\n" + _link("Read the article", article.url)
        embed.add_field(name=name, value=clip(value, min(FIELD_VALUE_LIMIT, budget - len(name))), inline=False)
    if len(shown) < len(articles):
        rest = f"and {len(articles) - len(shown)} more; use `/source` to look one up."
        embed.add_field(name="…", value=rest, inline=False)
    embed.set_footer(text="Ask with /ask; see one article with /source.")
    return embed


def source_embed(article: Article, passages: Sequence[Passage], opening_chars: int = 700) -> discord.Embed:
    """One article's details and its opening lines."""
    embed = discord.Embed(title=clip(one_line(clean(article.title)) or article.id, TITLE_LIMIT), colour=ANSWER_COLOUR)
    if article.url.lower().startswith(("http://", "https://")) and dlen(article.url) <= 2048:
        embed.url = article.url
    for name, value in (("Outlet", article.outlet), ("Author", article.author), ("Date", nice_date(article.date))):
        if value.strip():
            embed.add_field(name=name, value=clip(escape_text(one_line(value)), FIELD_VALUE_LIMIT), inline=True)
    embed.add_field(name="Passages", value=str(len(passages)), inline=True)
    opening = clip(article.body.strip(), opening_chars)
    quote = Quote(
        passage_id="", article_id=article.id, title="", outlet="", author="", date="", url="",
        text=opening, start=0, end=len(opening), highlight=(0, 0), score=0.0,
    )
    embed.description = quote_block(quote, DESCRIPTION_LIMIT - 100)
    embed.set_footer(text=f"Article id: {clip(article.id, 200)}")
    return embed


def choices_for(articles: Sequence[Article], current: str) -> list[tuple[str, str]]:
    """Autocomplete (name, value) pairs for articles matching the typed text, best first."""
    needle = one_line(current).casefold()
    scored = []
    for article in articles:
        title = one_line(clean(article.title)).replace("*", "")
        haystack = f"{title} {article.outlet} {article.id}".casefold()
        if needle and needle not in haystack:
            continue
        rank = 0 if title.casefold().startswith(needle) else 1
        scored.append((rank, title, article))
    scored.sort(key=lambda t: (t[0], t[1].casefold()))
    out = []
    for _, title, article in scored[:CHOICE_LIMIT]:
        label = f"{title} ({article.outlet})" if article.outlet else title
        out.append((clip(label or article.id, CHOICE_NAME_LIMIT), article.id[:CHOICE_NAME_LIMIT]))
    return out


def find_article(articles: Sequence[Article], query: str) -> Article | None:
    """The article whose id equals query, else the first whose title contains it."""
    needle = one_line(query).casefold()
    if not needle:
        return None
    for article in articles:
        if article.id.casefold() == needle:
            return article
    for article in articles:
        if needle in one_line(article.title).replace("*", "").casefold():
            return article
    return None


def embed_size(embed: discord.Embed) -> int:
    """Characters Discord counts toward the 6000 total of one embed."""
    data = embed.to_dict()
    total = dlen(data.get("title", "")) + dlen(data.get("description", ""))
    total += dlen(data.get("footer", {}).get("text", "")) + dlen(data.get("author", {}).get("name", ""))
    for f in data.get("fields", []):
        total += dlen(f["name"]) + dlen(f["value"])
    return total


def limit_problems(content: str | None = None, embeds: Sequence[discord.Embed] = ()) -> list[str]:
    """Every Discord limit a message would break (empty when it fits)."""
    problems = []
    if content and dlen(content) > CONTENT_LIMIT:
        problems.append(f"content {dlen(content)} > {CONTENT_LIMIT}")
    if len(embeds) > EMBEDS_PER_MESSAGE:
        problems.append(f"{len(embeds)} embeds > {EMBEDS_PER_MESSAGE}")
    if sum(embed_size(e) for e in embeds) > EMBED_TOTAL_LIMIT:
        problems.append(f"embeds total > {EMBED_TOTAL_LIMIT}")
    for e in embeds:
        data = e.to_dict()
        checks = [
            ("title", dlen(data.get("title", "")), TITLE_LIMIT),
            ("description", dlen(data.get("description", "")), DESCRIPTION_LIMIT),
            ("footer", dlen(data.get("footer", {}).get("text", "")), FOOTER_LIMIT),
            ("fields", len(data.get("fields", [])), FIELD_COUNT_LIMIT),
        ]
        for f in data.get("fields", []):
            checks.append(("field name", dlen(f["name"]), FIELD_NAME_LIMIT))
            checks.append(("field value", dlen(f["value"]), FIELD_VALUE_LIMIT))
            checks += [("empty field", 0 if f["name"].strip() and f["value"].strip() else 1, 0)]
        problems += [f"{what} {size} > {limit}" for what, size, limit in checks if size > limit]
    return problems
