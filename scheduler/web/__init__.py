"""The dashboard and HTTP API (`scheduler web`, `scheduler serve --web`).

A thin layer, as thin as the CLI: every handler parses the request, calls the domain function the CLI
calls (scheduler.planning.agenda, scheduler.app.queueing, scheduler.app.health, scheduler.articles.library, the Store), and renders
the result with the CLI's own JSON shapes (scheduler.app.views). Security lives in one place,
``security.Guard``: sessions, API tokens, CSRF, the host check and the response headers.

Nothing here is imported by the CLI's start-up: the commands import it inside their functions.
"""
