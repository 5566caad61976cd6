"""/articles list | add | remove | reload: the knowledge folder managed from Discord, re-indexed without a pause."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import articles_admin
from bot.articles_admin import MAX_UPLOAD_BYTES, UploadError
from bot.client import send_private, who_of
from bot.formatting import choices_for, clip, escape_text, find_article, nice_date, one_line
from bot.log import article_uploads

if TYPE_CHECKING:
    from bot.client import QuoteBot

_log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
REFUSAL = "Sorry — only the bot's owners can change the articles, because every server shares them."
NOT_FOUND = "No article matches {query!r}; `/articles list` shows them all."
FAILED = "The new index could not be built ({reason}), so the old one keeps answering and {what}."


def plural(count: int, word: str) -> str:
    """'1 passage', '3 passages'."""
    return f"{count} {word}{'s' * (count != 1)}"


def articles_embed(engine: Any, added: dict[str, dict[str, Any]]) -> discord.Embed:
    """Every article: title, outlet, date, passages, and who added it from Discord."""
    articles = list(engine.articles)
    embed = discord.Embed(title=f"Articles ({len(articles)})", colour=discord.Colour.blurple())
    lines = []
    for article in articles:
        details = [article.outlet, nice_date(article.date) if article.date else "",
                   plural(len(engine.passages_for(article.id)), "passage")]
        who = added.get(article.id)
        details.append(f"added by {who['added_by_name'] or who['added_by']}" if who else "in the knowledge folder")
        title = escape_text(one_line(article.title))[:120]
        lines.append(f"**{title}**\n{' · '.join(d for d in details if d)} · `{article.id}`")
    embed.description = clip("\n".join(lines) or "No articles are loaded.", 4000)
    embed.set_footer(text="Owners: /articles add, remove and reload change what every server's answers quote.")
    return embed


class Articles(commands.GroupCog, group_name="articles", group_description="The articles I quote from."):
    """List the articles; owners add, remove and reload them while answers go on from the old index."""

    def __init__(self, bot: QuoteBot) -> None:
        self.bot = bot

    async def owner_only(self, interaction: discord.Interaction, sub: str) -> bool:
        """Let bot owners through; refuse (privately, logged) anyone else."""
        if await self.bot.is_bot_owner(interaction.user):
            return True
        _log.info("/articles %s refused for a user who is not a bot owner", sub)
        await send_private(interaction, REFUSAL)
        await self.bot.log_record(interaction, "articles", "refused", argument=json.dumps({"sub": sub}),
                                  reason="not a bot owner")
        return False

    @app_commands.command(name="list", description="Every article: title, outlet, date, passages, who added it.")
    async def list_articles(self, interaction: discord.Interaction) -> None:
        """List the articles of the engine answering now."""
        added = await self.bot.log.call(lambda log: article_uploads.added_by(log.db), default={})
        embed = articles_embed(self.bot.engine, added or {})
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NONE)
        await self.bot.log_record(interaction, "articles", "ok", argument=json.dumps({"sub": "list"}))

    @app_commands.command(name="add", description="Owners: add a .md or .txt article (at most 1 MB).")
    @app_commands.describe(file="A .md or .txt file; optional front matter: title, outlet, author, date, url")
    async def add(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        """Check the file, write it to KNOWLEDGE_DIR, re-index in the background, then swap."""
        if not await self.owner_only(interaction, "add"):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        argument = {"sub": "add", "file": file.filename}
        try:
            if file.size > MAX_UPLOAD_BYTES:
                raise UploadError(f"{file.filename} is too large ({file.size:,} bytes; the limit is 1 MB).")
            data = await file.read()
            name, article = articles_admin.check_upload(file.filename, data, self.bot.engine.articles, file.size)
            path = articles_admin.write_article(self.bot.settings.knowledge_dir, name, data)
        except UploadError as exc:
            return await self.finish(interaction, argument, "invalid", str(exc))
        rebuilt, reason = await self.rebuild()
        if rebuilt is None:
            path.unlink(missing_ok=True)
            return await self.finish(interaction, argument, "error", FAILED.format(
                reason=reason, what=f"{name} was not added"), error=reason)
        who = who_of(interaction)
        await self.bot.log.call(lambda log: article_uploads.record(
            log.db, name, article.id, log.user_key(who.user_id, who.guild_id), who.user_name))
        passages = len(rebuilt.new.passages_for(article.id))
        text = (f"Added **{escape_text(article.title)[:200]}** ({name}, {plural(passages, 'passage')}). "
                f"Answers quote it from now on; re-indexing took {rebuilt.seconds:.1f} s.")
        await self.finish(interaction, argument | {"article": article.id}, "ok", text)

    @app_commands.command(name="remove", description="Owners: remove an article.")
    @app_commands.describe(article="Start typing a title")
    async def remove(self, interaction: discord.Interaction, article: str) -> None:
        """Take an article's file out of KNOWLEDGE_DIR and re-index; put it back if the build fails."""
        if not await self.owner_only(interaction, "remove"):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        argument = {"sub": "remove", "article": article}
        found = find_article(self.bot.engine.articles, article)
        path = articles_admin.article_file(self.bot.settings.knowledge_dir, found) if found else None
        if found is None or path is None:
            text = NOT_FOUND.format(query=one_line(article)[:100])
            return await self.finish(interaction, argument, "not_found", text)
        aside = Path(tempfile.mkdtemp(prefix="removed-article-")) / path.name
        shutil.move(str(path), aside)
        rebuilt, reason = await self.rebuild()
        if rebuilt is None:
            shutil.move(str(aside), path)
            return await self.finish(interaction, argument, "error", FAILED.format(
                reason=reason, what=f"{found.title!r} is still there"), error=reason)
        aside.unlink(missing_ok=True)
        await self.bot.log.call(lambda log: article_uploads.forget(log.db, found.id))
        text = f"Removed **{escape_text(found.title)[:200]}** ({path.name}). Answers no longer quote it."
        await self.finish(interaction, argument | {"article": found.id}, "ok", text)

    @remove.autocomplete("article")
    async def article_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice]:
        """Titles matching what has been typed so far."""
        return [app_commands.Choice(name=n, value=v) for n, v in choices_for(self.bot.engine.articles, current)]

    @app_commands.command(name="reload", description="Owners: re-read the knowledge folder and the ranker file.")
    async def reload(self, interaction: discord.Interaction) -> None:
        """Re-index whatever is in KNOWLEDGE_DIR now and say what changed."""
        if not await self.owner_only(interaction, "reload"):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        rebuilt, reason = await self.rebuild()
        if rebuilt is None:
            return await self.finish(interaction, {"sub": "reload"}, "error", FAILED.format(
                reason=reason, what="nothing changed"), error=reason)
        found = articles_admin.changes(rebuilt.old.articles, rebuilt.new.articles)
        titles = {a.id: a.title for a in [*rebuilt.old.articles, *rebuilt.new.articles]}
        text = f"Reloaded {len(rebuilt.new.articles)} articles in {rebuilt.seconds:.1f} s.\n"
        text += articles_admin.describe_changes(found, titles)
        text += "\n" + ranker_change(rebuilt.old, rebuilt.new)
        warnings = list(getattr(rebuilt.new, "warnings", []))
        if warnings:
            text += "\n" + "\n".join(warnings[:5])
        await self.finish(interaction, {"sub": "reload", "added": list(found.added), "removed": list(found.removed),
                                        "changed": list(found.edited)}, "ok", text)

    async def rebuild(self) -> tuple[Any, str]:
        """Re-index in a background thread and swap; (None, reason) when the build failed (the old index serves)."""
        try:
            return await self.bot.engines.rebuild(self.bot.settings), ""
        except Exception as exc:  # any failure leaves the old engine answering
            reason = self.bot.scrub(f"{type(exc).__name__}: {exc}")[:300]
            _log.warning("Re-index failed; the old index keeps serving: %s", reason)
            return None, reason

    async def finish(self, interaction: discord.Interaction, argument: dict, status: str, text: str,
                     error: str | None = None) -> None:
        """Tell the owner privately and log the outcome."""
        await interaction.followup.send(clip(text, 2000), ephemeral=True, allowed_mentions=NONE)
        reason = text if status in ("invalid", "not_found") else None
        await self.bot.log_record(interaction, "articles", status, argument=json.dumps(argument), reason=reason,
                                  error=error)


def ranker_change(old: Any, new: Any) -> str:
    """One line on the ranker the new engine uses (retrained with moderators' judgements, or the same)."""
    before = getattr(getattr(old, "ranker", None), "training", {}) or {}
    after = getattr(getattr(new, "ranker", None), "training", {}) or {}
    if after.get("hash") and after.get("hash") != before.get("hash"):
        return (f"Ranker: switched to one trained on {after.get('items', '?')} questions "
                f"({len(after.get('remember') or [])} judged in the log).")
    return "Ranker: unchanged."


async def setup(bot: QuoteBot) -> None:
    """Load the Articles cog."""
    await bot.add_cog(Articles(bot))

