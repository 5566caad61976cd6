"""Settings: defaults, .env under the real environment, one clear sentence per bad key, a hidden token."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import PACKAGED_ARTICLES, Settings, SettingsError, load_settings


def test_defaults_need_nothing() -> None:
    settings = load_settings({}, dotenv_path=None)
    assert settings == Settings()
    assert settings.discord_token is None and not settings.has_token
    assert settings.database_path == Path("data/interactions.db")
    assert settings.index_path == Path("data/index.db")
    assert settings.knowledge_dir == PACKAGED_ARTICLES and PACKAGED_ARTICLES.is_dir()
    assert settings.allowed_channel_ids == frozenset()


def test_values_are_parsed(tmp_path: Path) -> None:
    env = {
        "DISCORD_TOKEN": "abc.def.ghi",
        "DISCORD_GUILD_ID": "123456789012345678",
        "DATABASE_PATH": str(tmp_path / "log.db"),
        "KNOWLEDGE_DIR": str(tmp_path),
        "ASK_COOLDOWN_RATE": "3",
        "ASK_COOLDOWN_SECONDS": "7.5",
        "ALLOWED_CHANNEL_IDS": " 1, 22 ,333,",
        "CONVERSATION_IDLE_MINUTES": "15",
        "DISCORD_API_BASE": "http://127.0.0.1:9999/api/v10/",
        "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9999/gateway",
        "LOG_LEVEL": "debug",
        "ANONYMIZE_USERS": "yes",
        "ANONYMIZE_KEY": "s3cret",
        "EMBEDDING_MODEL": "",
    }
    settings = load_settings(env, dotenv_path=None)
    assert settings.discord_guild_id == 123456789012345678
    assert settings.database_path == tmp_path / "log.db"
    assert (settings.ask_cooldown_rate, settings.ask_cooldown_seconds) == (3, 7.5)
    assert settings.allowed_channel_ids == {1, 22, 333}
    assert settings.discord_api_base == "http://127.0.0.1:9999/api/v10"
    assert settings.log_level == "DEBUG" and settings.anonymize_users
    assert settings.embedding_model is None  # empty means unset


def test_dotenv_fills_in_but_never_overrides_the_real_environment(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("DISCORD_GUILD_ID=111\nLOG_LEVEL=WARNING\n# comment\nASK_COOLDOWN_RATE=9\n")
    settings = load_settings({"LOG_LEVEL": "ERROR"}, dotenv_path=dotenv)
    assert settings.discord_guild_id == 111 and settings.ask_cooldown_rate == 9
    assert settings.log_level == "ERROR"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("DISCORD_GUILD_ID", "my-server"),
        ("DISCORD_GUILD_ID", "0"),
        ("DISCORD_TOKEN", "Bot abc"),
        ("ASK_COOLDOWN_RATE", "lots"),
        ("ASK_COOLDOWN_SECONDS", "-1"),
        ("ALLOWED_CHANNEL_IDS", "123,general"),
        ("CONVERSATION_IDLE_MINUTES", "0"),
        ("DISCORD_API_BASE", "127.0.0.1:9999"),
        ("DISCORD_GATEWAY_URL", "http://127.0.0.1/gateway"),
        ("LOG_LEVEL", "LOUD"),
        ("KNOWLEDGE_DIR", "/no/such/dir"),
        ("ANSWER_QUOTES", "9"),
        ("ANONYMIZE_USERS", "maybe"),
        ("LOG_RETENTION_DAYS", "1.5"),
    ],
)
def test_a_bad_value_is_one_sentence_naming_the_key(key: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({key: value}, dotenv_path=None)
    message = str(caught.value)
    assert message.startswith(key) and message.endswith(".") and "\n" not in message


def test_anonymising_needs_a_key() -> None:
    with pytest.raises(SettingsError, match="^ANONYMIZE_KEY"):
        load_settings({"ANONYMIZE_USERS": "true"}, dotenv_path=None)


def test_secrets_never_show_in_repr() -> None:
    settings = load_settings({"DISCORD_TOKEN": "tok.en.value", "ANONYMIZE_KEY": "k3y-value"}, dotenv_path=None)
    assert "tok.en.value" not in repr(settings) and "tok.en.value" not in str(settings)
    assert "k3y-value" not in repr(settings)
    assert settings.has_token


def test_the_default_knowledge_dir_is_the_engines_packaged_folder() -> None:
    from knowledge.articles import PACKAGED_DIR

    assert PACKAGED_ARTICLES == PACKAGED_DIR.resolve()


def test_env_example_documents_every_setting_and_loads() -> None:
    from dataclasses import fields

    example = Path(__file__).resolve().parents[1] / ".env.example"
    lines = [line for line in example.read_text().splitlines() if "=" in line and not line.startswith("#")]
    keys = {line.split("=", 1)[0] for line in lines}
    assert keys == {f.name.upper() for f in fields(Settings)}
    assert load_settings({}, dotenv_path=example) == Settings()
