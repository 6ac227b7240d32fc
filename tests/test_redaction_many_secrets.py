"""Secrets are redacted from log lines however many accounts (and so secrets) a service holds (issue 22): the
redactor scans a text once, whatever the number of secrets, and still leaves none of them in it."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.networks.private import REDACTED, SecretRedactor

ALNUM = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=4, max_size=24)


@settings(max_examples=300, deadline=None)
@given(secrets=st.lists(ALNUM, min_size=1, max_size=12), pieces=st.lists(st.text(max_size=20), max_size=8),
       picks=st.lists(st.integers(min_value=0, max_value=11), max_size=8))
def test_no_secret_survives_and_other_text_is_kept(secrets, pieces, picks):
    redactor = SecretRedactor()
    redactor.add(secrets)
    # Free text with some of the secrets embedded anywhere in it.
    text = "".join(piece + (secrets[pick % len(secrets)] if n < len(picks) else "")
                   for n, (piece, pick) in enumerate(zip(pieces, picks + [0] * len(pieces))))
    out = redactor.redact(text)
    for secret in secrets:
        assert secret not in out
    if not any(secret in text for secret in secrets):
        assert out == text


@given(text=st.text(max_size=200))
def test_text_without_secrets_is_unchanged(text):
    redactor = SecretRedactor()
    redactor.add(["Zq9_never_in_random_text_Zq9"])
    assert redactor.redact(text) == text or "Zq9_never_in_random_text_Zq9" in text


def test_percent_encoded_form_is_redacted_too():
    redactor = SecretRedactor()
    redactor.add(["a/b c+d=="])
    assert redactor.redact("sig=a%2Fb%20c%2Bd%3D%3D&x=1") == f"sig={REDACTED}&x=1"


def test_the_cost_of_a_line_does_not_grow_with_the_secrets():
    """A thousand accounts' credentials (8,000 values with their encoded forms) cost a log line about what a
    handful do: the old per-secret replace made each publication line take milliseconds."""
    few, many = SecretRedactor(), SecretRedactor()
    few.add([f"tok{n:05d}secretvalue" for n in range(4)])
    many.add([f"tok{n:05d}secretvalue" for n in range(4000)])
    line = "publication post_id=abc-123 slot=2026-12-04T09:00:00-05:00 outcome=sent late_s=0.12 account=o17 " * 2

    def cost(redactor) -> float:
        start = time.perf_counter()
        for _ in range(200):
            redactor.redact(line)
        return time.perf_counter() - start

    cost(few), cost(many)  # warm
    assert cost(many) < 5 * cost(few) + 0.05
