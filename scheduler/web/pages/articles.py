"""The article pages: the list of articles, uploading one, and an article's tips as their posts would read."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from scheduler.app import views
from scheduler.compose.composer import compose_tip
from scheduler.compose.templates import TIP, templates_for
from scheduler.domain.errors import SchedulerError
from scheduler.planning.evergreen import _article
from scheduler.text.limits import rule_for
from scheduler.web.pages.base import _back, error_page, render, web_of
from scheduler.web.handlers import domain_status


async def articles(request: Request, *, error: str | None = None, status: int = 200, notice: str | None = None):
    web = web_of(request)
    summaries = await run_in_threadpool(web.store.article_summaries, web.config.account)
    return await render(request, "articles.html", status, title="Articles", articles=summaries, error=error,
                        notice=notice)


async def articles_upload(request: Request):
    web = web_of(request)
    async with request.form(max_part_size=3 * 1024 * 1024) as form:
        upload = form.get("file")
        if upload is None or isinstance(upload, str) or not upload.filename:
            return await articles(request, error="choose an article file to upload (.md, .txt or .html)", status=400)
        data = await upload.read()
        filename = upload.filename
    try:
        results = await run_in_threadpool(web.actions(request).import_upload, filename, data)
    except SchedulerError as exc:
        return await articles(request, error=str(exc), status=domain_status(exc))
    first = results[0]

    kept = [line.strip() for r in results for line in views.kept_live_lines(r.report)]
    if kept:
        # Posts that may be live kept their text: say so here rather than on a page that does not mention it.
        return await article(request, key=first.article.key, notice=" ".join(kept))
    return _back(f"/articles/{first.article.key}", request)


def _article_detail(web, key: str):
    article = _article(web.store, web.config, key)
    if article is None:
        return None
    # The variants as this account's network would get them: its templates, its length rule, the disclaimer.
    env, rule = templates_for(web.config), rule_for(web.config)
    hashtags = article.hashtags or web.config["compose"]["hashtags"]
    tips = []
    for tip in article.tips:
        variants, seen = [], set()
        for n in range(len(env.variants(TIP))):
            post = compose_tip(article, tip, handle=web.config.handle, hashtags=hashtags, variant=n, env=env,
                               rule=rule, disclaimer=web.config["review"]["disclaimer"])
            if post.text not in seen:
                seen.add(post.text)
                variants.append(post)
        tips.append((tip, variants))
    return article, tips


async def article(request: Request, *, key: str | None = None, notice: str | None = None):
    web = web_of(request)
    key = key or request.path_params["key"]
    try:
        found = await run_in_threadpool(_article_detail, web, key)
    except SchedulerError as exc:
        return error_page(request, 422, str(exc))
    if found is None:
        return error_page(request, 404, f"no article {key!r}; the Articles page lists them")
    art, tips = found
    return await render(request, "article.html", title=art.title, article=art, key=key, tips=tips, notice=notice)
