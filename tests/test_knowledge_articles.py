"""The article copies and the loader."""

from __future__ import annotations

import re

import pytest

from knowledge.articles import PACKAGED_DIR, load_articles
from knowledge.text import fold
from tests.knowledge_fixtures import RAW_ARTICLES


def squash(text: str) -> str:
    """Compare texts whatever their white space and Markdown escapes."""
    return re.sub(r"\s+", " ", text.replace("\\$", "$")).strip()


def test_packaged_articles_load_with_metadata():
    articles, warnings = load_articles()
    assert warnings == []
    assert len(articles) == 5
    by_file = {a.source_file: a for a in articles}
    assert set(by_file) == {p.name for p in RAW_ARTICLES.glob("*.txt")} or not RAW_ARTICLES.exists()
    moscow = next(a for a in articles if a.outlet == "The Moscow Times")
    assert moscow.title == "Putin Expected in Beijing, More Dependent Than Ever on China"
    assert moscow.date == "2023-10-14" and moscow.author == "AFP"
    assert moscow.url.startswith("https://www.themoscowtimes.com/")
    assert all(a.title and a.body.strip() for a in articles)


@pytest.mark.skipif(not RAW_ARTICLES.exists(), reason="needs ../shared/articles")
def test_bodies_are_verbatim_and_free_of_chrome():
    raw = {p.name: squash(p.read_text(encoding="utf-8")) for p in RAW_ARTICLES.glob("*.txt")}
    for article in load_articles()[0]:
        original = raw[article.source_file]
        for paragraph in article.body.split("\n"):
            paragraph = re.sub(r"^#+\s*", "", paragraph).strip()
            if not paragraph:
                continue
            assert squash(paragraph).strip("*") in original.replace("**", "").replace("*", "") or \
                fold(paragraph) in fold(original), (article.id, paragraph[:80])
        for chrome in ("Related article", "Soutenez Asia Centre", "Google Ads", "Subscribe to CDT",
                       "Original url", "[Source]", "About the author", "Welcome back!"):
            assert chrome not in article.body, (article.id, chrome)


def test_loader_takes_plain_text_and_skips_broken_files(tmp_path, caplog):
    (tmp_path / "a-good.txt").write_text("A plain title\n\nThe first sentence. The second one.\n", encoding="utf-8")
    (tmp_path / "b-markdown.md").write_text("# Heading title\n\nSome text here.\n", encoding="utf-8")
    (tmp_path / "c-empty.txt").write_text("   \n", encoding="utf-8")
    (tmp_path / "d-binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR")
    (tmp_path / "e-latin1.txt").write_bytes("Caf\xe9 society\n\nText.".encode("latin-1"))
    (tmp_path / "f-title-only.txt").write_text("Only a title\n", encoding="utf-8")
    (tmp_path / "notes.json").write_text("{}", encoding="utf-8")
    with caplog.at_level("WARNING"):
        articles, warnings = load_articles(tmp_path)
    assert [a.title for a in articles] == ["A plain title", "Heading title"]
    assert articles[0].body == "The first sentence. The second one.\n"
    assert len(warnings) == 4
    for name, reason in [("c-empty.txt", "empty"), ("d-binary.md", "binary"), ("e-latin1.txt", "UTF-8"),
                         ("f-title-only.txt", "no text")]:
        assert any(name in w and reason in w for w in warnings), (name, warnings)
    assert all(w in caplog.text for w in warnings)


def test_front_matter_fields_and_missing_folder(tmp_path):
    (tmp_path / "x.md").write_text(
        '---\ntitle: "Quoted: title"\noutlet: Plain Outlet\ndate: 2024-05-01\nurl: https://example.org/x\n---\n\nBody.\n',
        encoding="utf-8",
    )
    (article,), _ = load_articles(tmp_path)
    assert (article.title, article.outlet, article.date, article.url) == (
        "Quoted: title", "Plain Outlet", "2024-05-01", "https://example.org/x")
    assert article.body == "Body.\n"
    articles, warnings = load_articles(tmp_path / "missing")
    assert articles == [] and "does not exist" in warnings[0]


def test_packaged_dir_holds_only_markdown_copies():
    assert sorted(p.suffix for p in PACKAGED_DIR.iterdir() if p.is_file()) == [".md"] * 5
