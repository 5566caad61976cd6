"""Discord's shards: all in one process (AutoShardedClient), or this process's share of SHARD_COUNT by SHARD_IDS."""

from __future__ import annotations

import asyncio

import yarl
from discord.gateway import DiscordWebSocket
from discord.shard import Shard


class Sharding:
    """What QuoteBot changes in discord.py's AutoShardedBot (mixed in before it)."""

    async def launch_shards(self) -> None:
        """Ask Discord how many shards when SHARD_COUNT is unset, but connect where DISCORD_GATEWAY_URL says if set."""
        if self.shard_count is None and self.settings.discord_gateway_url:  # type: ignore[attr-defined]
            self.shard_count, _, _ = await self.http.get_bot_gateway()  # type: ignore[attr-defined]
        await super().launch_shards()  # type: ignore[misc]

    async def launch_shard(self, gateway: yarl.URL, shard_id: int, *, initial: bool = False) -> None:
        """Connect one shard; failing at start-up stops the bot with one sentence (discord.py would retry forever)."""
        # Reconnects later are discord.py's Shard workers'. This uses AutoShardedClient's private queue and shard table,
        # named as below in discord.py 2.7.1 (pinned).
        if self.is_closed():  # type: ignore[attr-defined]
            return
        connecting = DiscordWebSocket.from_client(self, initial=initial, gateway=gateway, shard_id=shard_id)
        ws = await asyncio.wait_for(connecting, timeout=self.shard_connect_timeout)  # type: ignore[attr-defined]
        shard = Shard(ws, self, self._AutoShardedClient__queue.put_nowait)  # type: ignore[attr-defined,arg-type]
        self._AutoShardedClient__shards[shard_id] = shard  # type: ignore[attr-defined]
        shard.launch()

    def own_shards(self) -> tuple[tuple[int, ...], int] | None:
        """(shard ids, shard count) when this process runs only some shards (SHARD_IDS); None when it runs all."""
        ids, count = self.settings.shard_ids, self.settings.shard_count  # type: ignore[attr-defined]
        return None if ids is None or count is None else (ids, count)
