"""scheduler.toml: found where documented, checked whole, errors naming key, line and what is allowed."""

from datetime import timedelta
from pathlib import Path

import pytest

from scheduler.config import SCHEMA, load_config, parse_config
from scheduler.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scheduler.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCHEDULER_CONFIG", raising=False)
    monkeypatch.setenv("SCHEDULER_HOME", str(tmp_path / "home"))
    config = load_config()
    assert config.source is None
    assert config.handle == "GleiberMD"
    assert config.tz.key == "America/New_York"
    assert config.database_url == f"sqlite:///{tmp_path / 'home' / 'ledger.sqlite3'}"
    assert config["calendar"]["grace"] == timedelta(minutes=15)


def test_complete_example_is_read(tmp_path):
    path = write(tmp_path, """
[account]
handle = "@SpineDoc"
timezone = "Australia/Sydney"

[calendar]
slots = ["mon-fri 09:00", "sat 11:30"]
cron = ["30 17 * * 3"]
blackout = ["2026-12-25", "2026-12-31..2027-01-01"]
min_spacing = "2h"
series_gap = "1d"
grace = "10m"

[queue]
duplicate_window = "30d"
evergreen = true
evergreen_cooldown = "60d"

[quota]
daily = 100
monthly = 0
""")
    config = load_config(path, env={"SCHEDULER_HOME": str(tmp_path)})
    assert config.handle == "SpineDoc" and config.account == "spinedoc"
    assert config["calendar"]["min_spacing"] == timedelta(hours=2)
    assert config["quota"]["monthly"] is None  # 0 means no cap
    assert config["queue"]["evergreen"] is True
    assert config.calendar().describe()


def test_config_found_through_environment(tmp_path, monkeypatch):
    path = write(tmp_path, '[account]\nhandle = "Other"\n')
    monkeypatch.chdir(tmp_path.parent)
    config = load_config(env={"SCHEDULER_CONFIG": str(path), "SCHEDULER_HOME": str(tmp_path)})
    assert config.handle == "Other"


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    "text, expected",
    [
        ('[account]\nhandle = "x"\ncolour = "blue"\n', r"scheduler\.toml:3: unknown key 'colour' in \[account\]; allowed: handle, timezone"),
        ('[acount]\nhandle = "x"\n', r"scheduler\.toml:1: unknown section \[acount\]; allowed: account"),
        ('[quota]\n\ndaily = "ten"\n', r"scheduler\.toml:3: \[quota\] daily: 'ten' is not a whole number"),
        ('[account]\ntimezone = "Mars/Olympus"\n', r"scheduler\.toml:2: \[account\] timezone: 'Mars/Olympus' is not an IANA time zone"),
        ('[calendar]\nslots = ["mon-fry 09:00"]\n', r"scheduler\.toml:2: \[calendar\] slots: .*'mon-fry 09:00'.*day must be one of"),
        ('[calendar]\nslots = [\n  "mon 09:00",\n  "tue 25:00",\n]\n', r"scheduler\.toml:4: \[calendar\] slots: .*'tue 25:00'"),
        ('[calendar]\ncron = ["61 * * * *"]\n', r"scheduler\.toml:2: \[calendar\] cron: '61 \* \* \* \*' is not a cron expression"),
        ('[calendar]\nblackout = ["2026-02-30"]\n', r"scheduler\.toml:2: \[calendar\] blackout: .*2026-02-30"),
        ('[calendar]\ngrace = "soon"\n', r"scheduler\.toml:2: \[calendar\] grace: .*soon"),
        ('[publisher]\nkind = "carrier-pigeon"\n', r"scheduler\.toml:2: \[publisher\] kind: 'carrier-pigeon' is not one of: auto, x, outbox"),
        ('[account\nhandle = 1\n', r"scheduler\.toml: not valid TOML"),
    ],
)
def test_bad_values_name_key_line_and_what_is_allowed(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=expected.replace("scheduler\\.toml", ".*scheduler\\.toml")):
        load_config(path, env={"SCHEDULER_HOME": str(tmp_path)})


def test_every_default_passes_its_own_check():
    config = parse_config("", source=None, env={"SCHEDULER_HOME": "/tmp/x"})
    for section, keys in SCHEMA.items():
        assert set(config[section]) == set(keys)


def test_environment_overrides_database_and_api(tmp_path, monkeypatch):
    monkeypatch.setenv("SCHEDULER_DATABASE_URL", "postgresql://postgres@127.0.0.1/test")
    monkeypatch.setenv("SCHEDULER_X_API_URL", "http://127.0.0.1:9/")
    config = parse_config("", source=None, env={"SCHEDULER_HOME": str(tmp_path)})
    assert config.database_url == "postgresql://postgres@127.0.0.1/test"
    assert config.api_url == "http://127.0.0.1:9"
