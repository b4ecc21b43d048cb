"""dashboard.allowed_hosts: bare host names or IP literals, normalised; anything else refused
with a message naming the key."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import BotConfig, ConfigError, load_config, parse_config


def test_default_is_empty():
    assert BotConfig().dashboard.allowed_hosts == []


def test_names_are_normalised():
    config = parse_config({"dashboard": {"allowed_hosts": ["MyBox.LAN.", "[::1]", "192.168.1.20", "mybox.lan",
                                                           "2001:DB8::1"]}})
    assert config.dashboard.allowed_hosts == ["mybox.lan", "::1", "192.168.1.20", "2001:db8::1"]


@pytest.mark.parametrize("bad", ["http://mybox.lan", "mybox.lan:8080", "mybox.lan/x", "*", "", "my box",
                                 "-mybox.lan", "a" * 64 + ".lan", "user@mybox.lan", "mybox..lan"])
def test_bad_names_are_refused(bad):
    with pytest.raises(ConfigError) as raised:
        parse_config({"dashboard": {"allowed_hosts": [bad]}})
    assert str(raised.value) == (f"dashboard.allowed_hosts: entry {bad!r} is not a host name or IP address "
                                 "(give the bare name, such as bot.example.lan, without scheme, port or path)")


def test_wrong_types_are_refused():
    with pytest.raises(ConfigError, match=r"^dashboard\.allowed_hosts\.0: Input should be a valid string"):
        parse_config({"dashboard": {"allowed_hosts": [5]}})
    with pytest.raises(ConfigError, match=r"^dashboard\.allowed_hosts: Input should be a valid list"):
        parse_config({"dashboard": {"allowed_hosts": "mybox.lan"}})


def test_the_shipped_config_file_has_the_entry():
    assert load_config(Path(__file__).resolve().parents[1] / "config.yaml").dashboard.allowed_hosts == []
