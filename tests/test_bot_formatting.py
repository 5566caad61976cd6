"""Formatting stays inside Discord's limits by construction, for long, odd and hostile quotes."""

from __future__ import annotations

import random

import pytest

from bot import formatting as fmt
from knowledge.models import Answer, Article, Passage, Quote


def make_quote(text: str, highlight: tuple[int, int] | None = None, **meta) -> Quote:
    """A quote over text; the highlight defaults to the first sentence."""
    if highlight is None:
        end = text.find(". ")
        highlight = (0, end + 1 if end != -1 else len(text))
    fields = dict(passage_id="a#1", article_id="a", title="A title", outlet="Outlet", author="", date="2024-05-17",
                  url="https://example.com/a", score=1.0)
    fields.update(meta)
    return Quote(text=text, start=0, end=len(text), highlight=highlight, **fields)


def answer_of(*quotes: Quote, question: str = "Why did Putin go to Beijing?") -> Answer:
    return Answer(question=question, quotes=tuple(quotes))


def test_short_answer_is_untouched_and_bolds_the_answering_sentence() -> None:
    quote = make_quote("Putin arrived in Beijing. He wanted reassurance.", highlight=(26, 49))
    embed = fmt.answer_embed(answer_of(quote), asked_by="alice")
    first, source = embed.description.split("\n")[:2]
    assert first == "> Putin arrived in Beijing. **He wanted reassurance.**"
    assert source.startswith("— [A title](https://example.com/a)")
    assert "Outlet · 17 May 2024" in embed.description
    assert embed.title == "Why did Putin go to Beijing?"
    assert "Asked by alice" in embed.footer.text
    assert fmt.ELLIPSIS not in embed.description
    assert fmt.limit_problems(None, [embed]) == []


def test_long_quotes_fit_and_keep_the_highlight() -> None:
    words = " ".join(f"word{i}" for i in range(400))
    text = f"{words[:600]}. The answer is right here in this sentence. {words[:900]}"[:1024]
    start = text.index("The answer")
    quotes = [make_quote(text, highlight=(start, start + 43), passage_id=f"a#{i}") for i in range(5)]
    embed = fmt.answer_embed(answer_of(*quotes))
    assert fmt.limit_problems(None, [embed]) == []
    assert embed.description.count("**The answer is right here in this sentence.**") == 5
    assert fmt.ELLIPSIS in embed.description
    for block in embed.description.split("\n\n"):
        body = block.split("\n— ")[0].removeprefix("> ")
        assert fmt.ELLIPSIS not in body[1:-1]  # trimmed only at the ends
        assert body.endswith(fmt.ELLIPSIS) and body.rstrip(fmt.ELLIPSIS).split()[-1] in text.split()  # whole words


def test_a_single_word_longer_than_the_budget_is_cut_safely() -> None:
    quote = make_quote("x" * 5000, highlight=(0, 5000))
    block = fmt.quote_block(quote, 300)
    assert fmt.dlen(block) <= 300


@pytest.mark.parametrize(
    "text",
    [
        "He said @everyone should hear it. And @here too.",
        "Ping <@123456789012345678> and <@&123456789012345678> and <#123456789012345678>.",
    ],
)
def test_mentions_are_neutralised(text: str) -> None:
    embed = fmt.answer_embed(answer_of(make_quote(text)))
    assert "@everyone" not in embed.description and "@here" not in embed.description
    assert "<@1" not in embed.description and "<@&" not in embed.description and "<#1" not in embed.description
    assert "@\u200beveryone" in embed.description or "<\u200b@" in embed.description


def test_markdown_in_quotes_cannot_break_the_layout() -> None:
    text = "# Not a heading. Use `code` and ||spoilers|| and ~~strike~~ and __under__. *Italics* stay. \\$190 bn."
    start = text.index("Use")
    embed = fmt.answer_embed(answer_of(make_quote(text, highlight=(start, text.index(" and ~~")))))
    body = embed.description.split("\n— ")[0]
    assert body.startswith("> \\# Not a heading.")
    assert "\\`code\\`" in body and "\\|\\|spoilers\\|\\|" in body and "\\~\\~strike\\~\\~" in body
    assert "\\_\\_under\\_\\_" in body
    assert "*Italics*" in body  # balanced emphasis from the article is kept
    assert "\\$190" in body  # the article's own escape is left alone
    assert "**Use \\`code\\` and \\|\\|spoilers\\|\\|**" in body


def test_unbalanced_stars_are_escaped_and_emphasis_inside_the_highlight_renders() -> None:
    text = "Arriving *second is. The *real* point here."
    embed = fmt.answer_embed(answer_of(make_quote(text, highlight=(21, 43))))
    body = embed.description.split("\n— ")[0]
    assert "Arriving \\*second is." in body
    assert "**The *real* point here.**" in body  # italic inside bold, no literal stars


def test_emphasis_at_or_across_the_highlight_edges_stays_well_nested() -> None:
    text = "Putin may *ultimately come to regret* it. Beijing said *completely fabricated*. Then *steady as a mountain."
    start, end = text.index("Putin"), text.index(" Beijing")
    body = fmt.answer_embed(answer_of(make_quote(text, highlight=(start, end)))).description.split("\n— ")[0]
    assert body.startswith("> **Putin may *ultimately come to regret* it.** Beijing said *completely fabricated*.")
    assert "\\*steady" in body  # an unpaired star is the article's literal text
    crossing = "Cross *emphasis here. And* then"
    body = fmt.answer_embed(answer_of(make_quote(crossing, highlight=(0, 20)))).description.split("\n— ")[0]
    assert body == "> **Cross *emphasis here*\u200b**\u200b*. And* then"  # closed and reopened at the edge
    opening = fmt.answer_embed(answer_of(make_quote("*Steady* it was. Tail", highlight=(0, 16))))
    assert opening.description.startswith("> **\u200b*Steady* it was.** Tail")


def test_multi_line_highlight_is_bold_on_each_line_and_lines_stay_quoted() -> None:
    text = "First line here.\n\nSecond line starts the answer\nand ends here. Tail."
    start = text.index("Second")
    embed = fmt.answer_embed(answer_of(make_quote(text, highlight=(start, text.index(" Tail")))))
    lines = embed.description.split("\n— ")[0].split("\n")
    assert lines == ["> First line here.", "> **Second line starts the answer**", "> **and ends here.** Tail."]


def test_odd_unicode_counts_utf16_units_and_is_never_split() -> None:
    family = "👨\u200d👩\u200d👧"
    text = ("e\u0301" * 300) + " " + (family + " ") * 200 + "\u202eevil override"
    quote = make_quote(text, highlight=(0, 10))
    embeds = [fmt.answer_embed(answer_of(*[quote] * 5, question="𝒬" * 300))]
    assert fmt.limit_problems(None, embeds) == []
    assert "\u202e" not in embeds[0].description
    for piece in embeds[0].description.split(fmt.ELLIPSIS):
        assert not piece.startswith("\u0301") and not piece.endswith("\u200d")
    assert fmt.dlen(embeds[0].title) <= fmt.TITLE_LIMIT


def test_fuzzed_answers_always_fit() -> None:
    rng = random.Random(7)
    alphabet = list("abc def ghi *_`~|>#@<&!\n\\ ")
    alphabet += ["😀", "\u0301", "\u200d", "ß", "中", "@everyone", "<@123456789012345678>"]
    for _ in range(200):
        quotes = []
        for i in range(rng.randint(1, 5)):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 1024)))
            a = rng.randint(0, len(text))
            b = rng.randint(a, len(text))
            title = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
            url = rng.choice(["", "https://example.com/" + "x" * rng.randint(0, 3000), "javascript:alert(1)"])
            quotes.append(make_quote(text, (a, b), title=title, url=url, outlet=title[:50], passage_id=f"p{i}"))
        question = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 600)))
        answer = answer_of(*quotes, question=question)
        for kind in ("ask", "more", "followup"):
            embed = fmt.answer_embed(answer, asked_by=question[:80], kind=kind, note="note " * 50)
            assert fmt.limit_problems(None, [embed]) == [], (question, quotes)
        abstention = fmt.abstain_embed(Answer(question=question, abstained=True, reason=question))
        assert fmt.limit_problems(None, [abstention]) == []


def test_abstention_says_so_and_points_to_sources() -> None:
    embed = fmt.abstain_embed(Answer(question="Who won Taiwan's election?", abstained=True, reason="Nothing close."))
    assert "don't cover this" in embed.description and "/sources" in embed.description
    assert "Nothing close." in embed.description


def test_clip_only_when_needed_and_on_word_boundaries() -> None:
    assert fmt.clip("short text", 100) == "short text"
    clipped = fmt.clip("alpha beta gamma delta", 15)
    assert clipped == "alpha beta…" and fmt.dlen(clipped) <= 15


def test_source_line_links_only_web_urls() -> None:
    linked = fmt.source_line("T", "https://x.org/a(b)", "O", "2023-10-14")
    assert linked == "— [T](https://x.org/a%28b%29) · O · 14 October 2023"
    assert fmt.source_line("T [x]", "javascript:alert(1)", "", "") == "— T (x)"


def article(i: int, **extra) -> Article:
    fields = dict(id=f"{i:03d}-article", title=f"Article number {i} *about* things", body="Body text. " * 200,
                  outlet="Outlet", date="2024-01-02", url=f"https://example.com/{i}")
    fields.update(extra)
    return Article(**fields)


def test_sources_embed_lists_articles_within_limits() -> None:
    articles = [article(i) for i in range(30)]
    embed = fmt.sources_embed(articles, {a.id: 7 for a in articles})
    assert fmt.limit_problems(None, [embed]) == []
    assert len(embed.fields) == fmt.FIELD_COUNT_LIMIT
    assert "7 passages" in embed.fields[0].value and "2 January 2024" in embed.fields[0].value
    few = fmt.sources_embed(articles[:5], {})
    assert len(few.fields) == 5


def test_source_embed_shows_details_and_opening() -> None:
    art = article(1, title="T" * 400, author="Jane Doe")
    passages = [Passage(id=f"{art.id}#{i}", article_id=art.id, position=i, start=0, end=1, text="B") for i in range(4)]
    embed = fmt.source_embed(art, passages)
    assert fmt.limit_problems(None, [embed]) == []
    assert embed.url == "https://example.com/1"
    assert {f.name: f.value for f in embed.fields}["Passages"] == "4"
    assert embed.description.startswith("> Body text.")


def test_autocomplete_choices_match_and_fit() -> None:
    articles = [article(i, title=f"{'Long ' * 40}title {i}") for i in range(40)]
    articles.append(article(99, title="Putin in Beijing"))
    choices = fmt.choices_for(articles, "putin")
    assert choices == [("Putin in Beijing (Outlet)", "099-article")]
    everything = fmt.choices_for(articles, "")
    assert len(everything) == fmt.CHOICE_LIMIT
    assert all(fmt.dlen(name) <= fmt.CHOICE_NAME_LIMIT and len(value) <= 100 for name, value in everything)
    assert fmt.find_article(articles, "099-article").title == "Putin in Beijing"
    assert fmt.find_article(articles, "in beijing").id == "099-article"
    assert fmt.find_article(articles, "nothing like it") is None
