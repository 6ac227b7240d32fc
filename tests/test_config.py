"""scheduler.toml: found where documented, checked whole, errors naming key, line and what is allowed."""

from datetime import timedelta
from pathlib import Path

import pytest

from scheduler.config import load_config, parse_config
from scheduler.config.schema import SCHEMA
from scheduler.domain.errors import ConfigError


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
    # No account is built in: anything needing one says how to name it.
    with pytest.raises(ConfigError, match=r'\[account\]\n  handle = "YourHandle"'):
        config.handle
    with pytest.raises(ConfigError, match="no account handle"):
        config.account
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
        ('[account]\nhandle = "GleiberMD"\ntimezone = "Mars/Olympus"\n', r"scheduler\.toml:3: \[account\] timezone: 'Mars/Olympus' is not an IANA time zone"),
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
    config = parse_config("[account]\nhandle = 'GleiberMD'\n", source=None, env={"SCHEDULER_HOME": "/tmp/x"})
    for section, keys in SCHEMA.items():
        assert set(config[section]) == set(keys)


def test_environment_overrides_database_and_api(tmp_path, monkeypatch):
    monkeypatch.setenv("SCHEDULER_DATABASE_URL", "postgresql://postgres@127.0.0.1/test")
    monkeypatch.setenv("SCHEDULER_X_API_URL", "http://127.0.0.1:9/")
    config = parse_config("[account]\nhandle = 'GleiberMD'\n", source=None, env={"SCHEDULER_HOME": str(tmp_path)})
    assert config.database_url == "postgresql://postgres@127.0.0.1/test"
    assert config.api_url == "http://127.0.0.1:9"


THREE_ACCOUNTS = """\
default_account = "x"

[calendar]
slots = ["mon-fri 09:00"]

[quota]
daily = 5

[compose]
hashtags = ["BackPain"]

[[accounts]]
name = "x"
handle = "GleiberMD"

[[accounts]]
name = "bsky"
network = "bluesky"
handle = "@Clinic.bsky.social"
timezone = "Europe/Paris"
hashtags = ["Rücken"]
credentials_env = "CLINIC_BSKY"

[accounts.calendar]
slots = ["daily 10:00"]

[[accounts]]
name = "masto"
network = "mastodon"
handle = "clinic"
instance = "https://mastodon.example/"

[accounts.quota]
daily = 3
"""


def test_accounts_each_see_their_own_settings_over_the_shared_ones():
    config = parse_config(THREE_ACCOUNTS, source=None)
    assert [a.name for a in config.accounts] == ["x", "bsky", "masto"]
    assert config.account_name == "x" and config.account == "gleibermd"  # default_account
    x, bsky, masto = (config.for_account(name) for name in ("x", "bsky", "masto"))
    assert x["calendar"]["slots"] == ("mon-fri 09:00",) and x["quota"]["daily"] == 5
    assert bsky.network == "bluesky" and bsky.handle == "clinic.bsky.social" and bsky.account == "clinic.bsky.social"
    assert bsky.tz.key == "Europe/Paris" and bsky["calendar"]["slots"] == ("daily 10:00",)
    assert bsky["compose"]["hashtags"] == ("Rücken",) and x["compose"]["hashtags"] == ("BackPain",)
    assert bsky.chosen.credentials_env == "CLINIC_BSKY" and masto.chosen.credentials_env == "MASTODON"
    # X's plan caps are X's: other networks have none unless the account sets one.
    assert bsky["quota"]["daily"] is None and masto["quota"]["daily"] == 3 and masto["quota"]["monthly"] is None
    assert masto.account == "clinic@mastodon.example" and masto.chosen.instance == "https://mastodon.example"
    # By handle too, and selecting twice starts from the shared settings, not the first account's.
    assert config.for_account("@clinic.bsky.social").for_account("x")["calendar"]["slots"] == ("mon-fri 09:00",)


def test_the_single_account_keeps_its_ledger_key_and_is_chosen_without_a_name():
    config = parse_config('[account]\nhandle = "GleiberMD"\ntimezone = "Europe/Paris"\n', source=None)
    assert [a.name for a in config.accounts] == ["gleibermd"]
    assert config.for_account(None).account == "gleibermd" == config.for_account("GleiberMD").account


@pytest.mark.parametrize(
    "text, expected",
    [
        (THREE_ACCOUNTS.replace('default_account = "x"\n', ""),
         r"3 accounts are configured \(x, bsky, masto\): choose one with --account NAME, or set default_account"),
        (THREE_ACCOUNTS.replace('default_account = "x"', 'default_account = "y"'),
         r"scheduler\.toml:1: default_account 'y' names no account; configured: x, bsky, masto"),
        (THREE_ACCOUNTS.replace('instance = "https://mastodon.example/"\n', ""),
         r"\[\[accounts\]\] #3 \(masto\) is on Mastodon and needs its server: instance = "),
        (THREE_ACCOUNTS.replace('name = "bsky"', 'name = "x"'), r"two \[\[accounts\]\] are named 'x'"),
        (THREE_ACCOUNTS.replace('handle = "@Clinic.bsky.social"', 'handle = "clinic"'),
         r"\[\[accounts\]\] #2 \(bsky\) handle: 'clinic' is not a Bluesky handle"),
        (THREE_ACCOUNTS.replace('network = "bluesky"', 'network = "myspace"'),
         r"scheduler\.toml:\d+: \[\[accounts\]\] #2 \(bsky\) network: 'myspace' is not one of: x, bluesky, mastodon"),
        (THREE_ACCOUNTS.replace('slots = ["daily 10:00"]', 'slotz = ["daily 10:00"]'),
         r"unknown key 'slotz' in \[accounts.calendar\] of \[\[accounts\]\] #2 \(bsky\)"),
        (THREE_ACCOUNTS.replace('slots = ["daily 10:00"]', 'slots = ["dialy 10:00"]'),
         r"scheduler\.toml:25: \[accounts.calendar\] slots: .*'dialy 10:00'"),
        (THREE_ACCOUNTS + '\n[[accounts]]\nname = "x2"\nhandle = "gleibermd"\n',
         r"accounts 'x' and 'x2' are the same x account \(gleibermd\)"),
        ('[account]\nhandle = "GleiberMD"\n\n[[accounts]]\nname = "x"\nhandle = "GleiberMD"\n',
         r"\[account\] and \[\[accounts\]\] cannot both be given"),
        (THREE_ACCOUNTS.replace('name = "masto"\n', ""), r"\[\[accounts\]\] #3 has no name"),
        # Two accounts of one network on the same credentials would post as one user.
        (THREE_ACCOUNTS + '\n[[accounts]]\nname = "second-x"\nhandle = "ClinicB"\n',
         r"accounts 'x' and 'second-x' are both on x and read their credentials from the same X_\* environment "
         r"variables, so both would post as one user; give one of them a credentials_env of its own "
         r"\(e\.g\. credentials_env = \"SECOND_X\" in 'second-x'\)"),
        (THREE_ACCOUNTS.replace('instance = "https://mastodon.example/"\n',
                                'instance = "https://mastodon.example/"\ncredentials_file = "same.secret"\n')
         + '\n[[accounts]]\nname = "masto2"\nnetwork = "mastodon"\nhandle = "other"\n'
                          'instance = "https://mastodon.example/"\ncredentials_env = "M2"\n'
                          'credentials_file = "same.secret"\n',
         r"accounts 'masto' and 'masto2' are both on mastodon and read the same credentials_file 'same.secret'"),
    ],
)
def test_bad_accounts_say_what_and_where(tmp_path, text, expected):
    config = write(tmp_path, text)
    with pytest.raises(ConfigError, match=expected):
        load_config(config).account


@pytest.mark.parametrize("value", ["0", "-2", '"three"'])
def test_evergreen_review_ahead_must_be_a_positive_whole_number(value):
    with pytest.raises(ConfigError, match="evergreen_review_ahead"):
        parse_config(f'[account]\nhandle = "X"\n\n[queue]\nevergreen_review_ahead = {value}\n', source=None)
