"""Domain errors.

Every error a user can cause is one of these. Each carries a message that names the
file, line, key or value at fault and says how to fix it; the CLI prints it and exits
non-zero. Nothing below the CLI calls ``sys.exit``.
"""


class SchedulerError(Exception):
    """Base class: a problem the user can act on."""

    exit_code = 1


class ConfigError(SchedulerError):
    """scheduler.toml (or an environment variable) holds a bad key or value."""

    exit_code = 2


class InputError(SchedulerError):
    """A value typed by a person (a date-time, a number) that cannot be read as it is."""

    exit_code = 2


class ArticleError(SchedulerError):
    """An article could not be read or holds no recognisable tips."""


class TemplateError(SchedulerError):
    """A post template is broken or cannot produce a valid post."""


class QueueError(SchedulerError):
    """A queue command cannot be carried out (unknown post, bad position...)."""


class TextError(QueueError):
    """A post's text the account's network would refuse (empty, over its limit, a character it refuses): the
    same validation error wherever the text comes from (the API answers it with 422 on POST and PATCH alike)."""


class DuplicateError(QueueError):
    """The text was already sent or queued within the duplicate window."""


class CredentialsError(SchedulerError):
    """X credentials are missing, unreadable, or stored insecurely."""


class StoreError(SchedulerError):
    """The ledger cannot be opened or migrated."""


class OutputError(SchedulerError):
    """A file the command was asked to write (an --ics export...) cannot be written."""


class FetchError(SchedulerError):
    """A page or feed could not be fetched (not found, not HTML, too large, timed out...).

    ``transient``: trying again later may work (timeouts, 5xx, 429); ``retry_after``: the wait
    the server asked for; ``status``: the HTTP status, when there was one."""

    def __init__(self, message: str, *, status: int | None = None, transient: bool = False,
                 retry_after=None):
        super().__init__(message)
        self.status = status
        self.transient = transient
        self.retry_after = retry_after


class FeedError(SchedulerError):
    """A feed cannot be added, read or found."""


class ReviewError(SchedulerError):
    """A review decision cannot be taken (post not waiting, changed since shown, a blocking finding...)."""


class NoticeError(SchedulerError):
    """A notice to reviewers could not be delivered (it is kept and retried)."""


class AccessError(SchedulerError):
    """The dashboard's sign-in or API tokens cannot be set up as asked (weak password, unknown token...)."""
