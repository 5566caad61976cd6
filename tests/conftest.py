"""Shared pytest fixtures: the real engine (built once), the Discord emulator, bot helpers."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

pytest_plugins = [
    "tests.knowledge_fixtures",
    "tests.discord_emulator.fixtures",
    "tests.bot_fixtures",
]
