"""Alert rules (admin) and the history of fired alerts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from ...alerts import RuleError, build_rule, mask_url
from ...models import Alert, AlertRule
from ..deps import ADMIN_RESPONSES, AdminDep, SettingsDep, StoreDep
from ..params import CursorParam, cursor_checked
from ..schemas import AlertOut, AlertRuleIn, AlertRuleOut, DeliveryOut, EvidencePost, Page

router = APIRouter(prefix="/alerts", tags=["alerts"])

RuleIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Rule id")]


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def rule_out(rule: AlertRule) -> AlertRuleOut:
    return AlertRuleOut(
        id=rule.id, name=rule.name, subreddit=rule.subreddit, keyword=rule.keyword,
        metric=rule.metric, window=rule.window, condition=rule.condition,
        min_items=rule.min_items, min_authors=rule.min_authors, cooldown=rule.cooldown,
        notify=[mask_url(url) for url in rule.notify], source=rule.source,
        created_at=_time(rule.created_at),
    )  # fmt: skip


def alert_out(alert: Alert) -> AlertOut:
    return AlertOut(
        id=alert.id, rule_id=alert.rule_id, rule_name=alert.rule_name,
        fired_at=_time(alert.fired_at), subreddit=alert.subreddit, keyword=alert.keyword,
        metric=alert.metric, window=alert.window, window_start=_time(alert.window_start),
        window_end=_time(alert.window_end), condition=alert.condition, value=alert.value,
        items=alert.items, authors=alert.authors, baseline=alert.baseline, title=alert.title,
        body=alert.body,
        evidence=[EvidencePost.model_validate(post) for post in alert.evidence],
        deliveries=[
            DeliveryOut(target=d.target, status=d.status.value, attempts=d.attempts,
                        error=d.error, updated_at=_time(d.updated_at))
            for d in alert.deliveries
        ],
    )  # fmt: skip


@router.post(
    "/rules",
    status_code=status.HTTP_201_CREATED,
    response_model=AlertRuleOut,
    dependencies=[AdminDep],
    summary="Add an alert rule (admin)",
    responses={
        **ADMIN_RESPONSES,
        400: {"description": "The body cannot be parsed"},
        422: {"description": "A bad rule; the message names the field"},
    },
)
async def create_rule(
    body: AlertRuleIn, settings: SettingsDep, store: StoreDep, response: Response
) -> AlertRuleOut:
    fields: dict[str, Any] = body.model_dump(exclude_unset=True)
    try:
        rule = build_rule(fields, settings)
    except RuleError as error:
        raise HTTPException(422, str(error)) from None
    await asyncio.to_thread(store.save_alert_rule, rule)
    response.headers["Location"] = f"/api/v1/alerts/rules/{rule.id}"
    return rule_out(rule)


@router.get(
    "/rules",
    response_model=list[AlertRuleOut],
    dependencies=[AdminDep],
    summary="Every alert rule (admin)",
    responses=ADMIN_RESPONSES,
)
async def list_rules(store: StoreDep) -> list[AlertRuleOut]:
    return [rule_out(rule) for rule in await store.list_alert_rules()]


@router.get(
    "/rules/{rule_id}",
    response_model=AlertRuleOut,
    dependencies=[AdminDep],
    summary="One alert rule (admin)",
    responses={**ADMIN_RESPONSES, 404: {"description": "Unknown rule"}},
)
async def get_rule(store: StoreDep, rule_id: RuleIdPath) -> AlertRuleOut:
    rule = await store.get_alert_rule(rule_id)
    if rule is None:
        raise HTTPException(404, f"alert rule {rule_id} not found")
    return rule_out(rule)


@router.delete(
    "/rules/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[AdminDep],
    summary="Delete an alert rule (admin)",
    responses={**ADMIN_RESPONSES, 404: {"description": "Unknown rule"}},
)
async def delete_rule(store: StoreDep, rule_id: RuleIdPath) -> Response:
    if not await asyncio.to_thread(store.delete_alert_rule, rule_id):
        raise HTTPException(404, f"alert rule {rule_id} not found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("", response_model=Page[AlertOut], summary="Fired alerts, newest first")
async def list_alerts(
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size, 1-100")] = 20,
    cursor: CursorParam = None,
    rule_id: Annotated[
        str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Only this rule's")
    ] = None,
) -> Page[AlertOut]:
    with cursor_checked():
        page = await store.list_alerts(limit=limit, cursor=cursor, rule_id=rule_id)
    return Page[AlertOut](items=[alert_out(a) for a in page.alerts], next_cursor=page.next_cursor)
