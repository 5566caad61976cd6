"""Shared pytest fixtures: the real engine (built once), the emulator, bot helpers."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

pytest_plugins = [
    "tests.discord_emulator.fixtures",
    "tests.knowledge_fixtures",
    "tests.bot_fixtures",
]
