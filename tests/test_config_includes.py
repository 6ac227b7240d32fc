"""`include = ["accounts/*.toml"]`: [[accounts]] from files of their own, checked as inline ones, with errors naming
the included file and line; the command line says the same and exits 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.config import load_config
from scheduler.domain.errors import ConfigError

CLINIC = '[[accounts]]\nname = "{name}"\nhandle = "{handle}"\ncredentials_env = "{env}"\n'


def clinic(name: str, handle: str | None = None) -> str:
    return CLINIC.format(name=name, handle=handle or f"Clinic_{name}"[:15], env=name.upper().replace("-", "_"))


def tree(tmp_path: Path, main: str, files: dict[str, str]) -> Path:
    config = tmp_path / "conf" / "scheduler.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(main, encoding="utf-8")
    for name, text in files.items():
        path = config.parent / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return config


def load(path: Path):
    return load_config(path, env={"SCHEDULER_HOME": str(path.parent / "home")})


def test_included_accounts_follow_the_inline_ones_file_by_file_in_sorted_order(tmp_path, monkeypatch):
    path = tree(tmp_path, 'default_account = "b2"\ninclude = ["accounts/*.toml", "more/m.toml"]\n\n'
                          '[calendar]\nslots = ["daily 08:00"]\n\n' + clinic("inline"), {
        "accounts/b.toml": clinic("b1") + "\n" + clinic("b2") + '\n[accounts.calendar]\nslots = ["sat 11:30"]\n',
        "accounts/a.toml": clinic("a1"),
        "accounts/notes.txt": "not a toml file: the pattern leaves it out",
        "more/m.toml": '[[accounts]]\nname = "bsky"\nnetwork = "bluesky"\nhandle = "clinic.bsky.social"\n',
    })
    monkeypatch.chdir(tmp_path)  # patterns are relative to the configuration file's folder, not to the cwd
    config = load(path)
    assert [a.name for a in config.accounts] == ["inline", "a1", "b1", "b2", "bsky"]
    assert config.account_name == "b2" and config["calendar"]["slots"] == ("sat 11:30",)
    assert config.for_account("a1")["calendar"]["slots"] == ("daily 08:00",)
    assert config.for_account("bsky").network == "bluesky"


def test_a_file_matched_twice_is_read_once_and_an_absolute_pattern_works(tmp_path):
    path = tree(tmp_path, "", {"accounts/a.toml": clinic("a1")})
    path.write_text(f'include = ["accounts/a.toml", "{path.parent}/accounts/*.toml"]\n', encoding="utf-8")
    assert [a.name for a in load(path).accounts] == ["a1"]


BAD = [
    # (scheduler.toml, included files, expected error)
    ('include = ["accounts/*.toml"]\n', {},
     r"scheduler\.toml:1: include 'accounts/\*\.toml' matches no file \(.*conf/accounts/\*\.toml\); patterns are "
     r"relative to the configuration file's folder"),
    ('include = "accounts/*.toml"\n', {"accounts/a.toml": clinic("a1")},
     r"scheduler\.toml:1: include must be a list of file patterns, e\.g\. include = \[\"accounts/\*\.toml\"\]"),
    ('include = ["accounts/*.toml"]\n', {"accounts/a.toml": clinic("a1"), "accounts/b.toml": clinic("a1", "Other")},
     r"accounts/b\.toml:1: two \[\[accounts\]\] are named 'a1' \(here and at .*accounts/a\.toml:1\); names must "
     r"differ"),
    ('include = ["accounts/*.toml"]\n\n' + clinic("a1"), {"accounts/b.toml": "\n\n" + clinic("A1", "Other")},
     r"accounts/b\.toml:3: two \[\[accounts\]\] are named 'A1' \(here and at .*scheduler\.toml:3\)"),
    ('include = ["accounts/*.toml"]\n', {"accounts/a.toml": clinic("a1"), "accounts/b.toml": clinic("b1", "Clinic_a1")},
     r"accounts/b\.toml:1: accounts 'a1' and 'b1' are the same x account \(clinic_a1\); keep one \(the other is at "
     r".*accounts/a\.toml:1\)"),
    ('include = ["accounts/*.toml"]\n', {"accounts/a.toml": 'include = ["other/*.toml"]\n\n' + clinic("a1")},
     r"accounts/a\.toml:1: an included file cannot include others; list every pattern in the include of "
     r".*scheduler\.toml"),
    ('include = ["accounts/*.toml"]\n', {"accounts/a.toml": '[calendar]\nslots = ["daily 10:00"]\n\n' + clinic("a1")},
     r"accounts/a\.toml:1: 'calendar' in an included file, which holds only \[\[accounts\]\] tables"),
    ('include = ["accounts/*.toml"]\n', {"accounts/a.toml": "# nothing yet\n"},
     r"accounts/a\.toml: included by .*scheduler\.toml, but holds no \[\[accounts\]\] table"),
    ('include = ["accounts/*.toml"]\n', {"accounts/a.toml": "[[accounts]\nname = 1\n"},
     r"accounts/a\.toml: not valid TOML"),
    ('include = ["accounts/*.toml"]\n', {"accounts/a.toml": clinic("a1") + "\n" + clinic("b1") + 'colour = "red"\n'},
     r"accounts/a\.toml:10: unknown key 'colour' in \[\[accounts\]\] #2 \(b1\); allowed: name, network"),
    ('include = ["accounts/*.toml"]\n', {"accounts/a.toml": clinic("a1") + '\n[[accounts]]\nname = "m"\n'
                                                           'network = "mastodon"\nhandle = "clinic"\n'},
     r"accounts/a\.toml:6: \[\[accounts\]\] #2 \(m\) is on Mastodon and needs its server"),
    ('include = ["accounts/*.toml"]\n', {"accounts/a.toml": clinic("a1") + '\n[accounts.quota]\ndaily = -1\n'},
     r"accounts/a\.toml:7: \[\[accounts\]\] #1 \(a1\) quota\.daily: -1 is not a whole number"),
    ('include = ["accounts/*.toml"]\n', {"accounts/a.toml": clinic("a1") + '\n[accounts.calendar]\n'
                                                           'slots = [\n  "daily 10:00",\n  "dialy 11:00",\n]\n'},
     r"accounts/a\.toml:9: \[accounts\.calendar\] slots: 'dialy 11:00' is not a slot"),
    ('include = ["*.toml"]\n', {"a.toml": clinic("a1")},
     r"scheduler\.toml:1: include '\*\.toml' matches .*scheduler\.toml itself"),
    ('include = ["accounts/*.toml"]\n\n[account]\nhandle = "Solo"\n', {"accounts/a.toml": clinic("a1")},
     r"scheduler\.toml:3: \[account\] and \[\[accounts\]\] cannot both be given \(inline or included\)"),
    ('default_account = "zz"\ninclude = ["accounts/*.toml"]\n', {"accounts/a.toml": clinic("a1")},
     r"default_account 'zz' names no account; configured: a1"),
]


@pytest.mark.parametrize("main, files, expected", BAD, ids=range(len(BAD)))
def test_bad_includes_name_the_file_line_and_what_to_do(tmp_path, main, files, expected):
    path = tree(tmp_path, main, files)
    with pytest.raises(ConfigError, match=expected):
        load(path).account


def test_an_unreadable_included_file_is_named(tmp_path):
    path = tree(tmp_path, 'include = ["accounts/*.toml"]\n', {"accounts/a.toml": clinic("a1")})
    (path.parent / "accounts" / "b.toml").write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(ConfigError, match=r"accounts/b\.toml: cannot read this included file"):
        load(path)


def scheduler(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SCHEDULER_HOME": str(home)}
    env.pop("SCHEDULER_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "scheduler", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_command_line_reads_included_accounts_and_says_what_is_wrong_with_one(tmp_path):
    path = tree(tmp_path, 'include = ["accounts/*.toml"]\n', {"accounts/a.toml": clinic("a1"),
                                                               "accounts/b.toml": clinic("b1")})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    listed = scheduler("--config", str(path), "auth", "status", "--json", cwd=elsewhere, home=tmp_path / "home")
    assert listed.returncode == 0, listed.stderr
    assert '"account": "a1"' in listed.stdout and '"account": "b1"' in listed.stdout

    (path.parent / "accounts" / "b.toml").write_text(clinic("a1", "Other"), encoding="utf-8")
    twice = scheduler("--config", str(path), "queue", "list", "--account", "a1", cwd=elsewhere, home=tmp_path / "home")
    assert twice.returncode == 2
    assert f"{path.parent}/accounts/b.toml:1: two [[accounts]] are named 'a1' (here and at " \
           f"{path.parent}/accounts/a.toml:1)" in twice.stderr

    path.write_text('include = ["clinics/*.toml"]\n', encoding="utf-8")
    nothing = scheduler("queue", "list", cwd=path.parent, home=tmp_path / "home")
    assert nothing.returncode == 2
    assert "scheduler.toml:1: include 'clinics/*.toml' matches no file" in nothing.stderr


PIECES = st.sampled_from([
    "[[accounts]]\n", "[accounts.calendar]\n", "[accounts.quota]\n", "[calendar]\n", 'name = "a1"\n',
    'name = "b1"\n', 'handle = "Clinic"\n', 'handle = "x.bsky.social"\n', 'network = "bluesky"\n',
    'credentials_env = "B"\n', 'slots = ["daily 10:00"]\n', 'slots = ["nope"]\n', "daily = 3\n",
    'include = ["x/*.toml"]\n', "accounts = [{name = \"c\", handle = \"C\"}]\n", "accounts = 3\n", "\n", "[\n",
])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(PIECES, max_size=12), noise=st.text(max_size=20))
def test_whatever_an_included_file_holds_it_loads_or_an_error_names_it(tmp_path, pieces, noise):
    path = tree(tmp_path, 'include = ["accounts/*.toml"]\n', {"accounts/a.toml": "".join(pieces) + noise})
    try:
        config = load(path)
    except ConfigError as exc:
        assert str(exc).startswith(str(path.parent / "accounts" / "a.toml")), exc
    else:
        assert config.accounts and all(account.name for account in config.accounts)
