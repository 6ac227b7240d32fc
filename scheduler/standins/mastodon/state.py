"""The stand-in Mastodon's limits and state: accounts, statuses, media attachments and the rate-limit windows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

MAX_MEDIA = 4


IMAGE_SIZE_LIMIT = 16 * 1024 * 1024


IDEMPOTENCY_WINDOW_S = 3600.0


GIF_PROCESSING_S = 0.5  # how long the background processing of a GIF takes here


API_BUDGET = (300, 300.0)  # requests per 5 minutes per account


STATUS_BUDGET = (300, 3 * 3600.0)  # statuses per 3 hours per account


@dataclass
class Account:
    id: str
    username: str
    token: str
    domain: str | None = None  # None: an account of this server

    @property
    def acct(self) -> str:
        return f"{self.username}@{self.domain}" if self.domain else self.username


@dataclass
class _Media:
    account_id: str
    mime: str
    ready_at: float  # processed from then on
    status_id: str | None = None  # attached to


@dataclass
class Status:
    id: str
    account_id: str
    text: str  # as posted: what the author's /source shows
    content: str  # as rendered: HTML
    in_reply_to_id: str | None
    media_ids: tuple[str, ...]
    visibility: str
    created_at: datetime
    idempotency_key: str | None


@dataclass
class _Window:
    limit: int
    seconds: float
    start: float = 0.0
    used: int = 0

    def spend(self, now: float) -> bool:
        self._roll(now)
        if self.used >= self.limit:
            return False
        self.used += 1
        return True

    def _roll(self, now: float) -> None:
        if now >= self.start + self.seconds:
            self.start, self.used = now, 0

    def headers(self, now: float) -> dict[str, str]:
        self._roll(now)
        reset = datetime.fromtimestamp(self.start + self.seconds, timezone.utc)
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(max(self.limit - self.used, 0)),
                "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}


@dataclass
class _State:
    accounts: dict[str, Account] = field(default_factory=dict)  # by id
    tokens: dict[str, str] = field(default_factory=dict)  # token -> account id
    statuses: dict[str, Status] = field(default_factory=dict)
    media: dict[str, _Media] = field(default_factory=dict)
    app_tokens: set[str] = field(default_factory=set)  # tokens without a user
    keys: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)  # (account, key) -> (status, at)
    api_windows: dict[str, _Window] = field(default_factory=dict)
    status_windows: dict[str, _Window] = field(default_factory=dict)
