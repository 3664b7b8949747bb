"""Liveness and readiness for load balancers and Kubernetes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from ...models import CollectionRun, RateLimits
from ...settings import rate_budget
from ...store.base import StoreThrottled
from ..convert import ts
from ..deps import ServiceDep, SettingsDep, StoreDep
from ..schemas import Liveness, Readiness

router = APIRouter(prefix="/health", tags=["health"])


_OK = Liveness()


@router.get("", response_model=Liveness, summary="Liveness: the process serves requests")
async def health() -> Liveness:
    """Touches no storage and nothing that can block: answers while a cycle runs."""
    return _OK


def _last_run(run: CollectionRun) -> dict[str, Any]:
    """What a probe or an operator needs of this process's last run: how it ended and, when
    it did not end well, the first error in one line."""
    first = run.errors[0] if run.errors else None
    return {
        "id": run.id,
        "status": run.status.value,
        "finished_at": None if run.finished_at is None else ts(run.finished_at).isoformat(),
        "error": None if first is None else f"{first.error}: {first.message}",
        "errors": len(run.errors),
        "rejected": sum(c.rejected for c in run.subreddits.values()),
    }


def rate_limit(limits: RateLimits) -> dict[str, Any] | None:
    """Reddit's X-Ratelimit-* headers of the last response (None before the first one)."""
    if limits.seen_at is None:
        return None
    return {
        "remaining": limits.remaining,
        "used": limits.used,
        "reset_at": None if limits.reset_at is None else ts(limits.reset_at).isoformat(),
        "seen_at": ts(limits.seen_at).isoformat(),
    }


@router.get(
    "/ready",
    response_model=Readiness,
    summary="Readiness: storage reachable and scheduler running",
    responses={503: {"model": Readiness, "description": "Not ready; the reasons say why"}},
)
async def ready(
    response: Response, settings: SettingsDep, store: StoreDep, service: ServiceDep
) -> Readiness:
    reasons: list[str] = []
    storage: dict[str, Any] = {"backend": store.name, "reachable": True}
    try:
        await store.ping()
    except StoreThrottled as error:
        # It answered, only "not now" (request units used up, account-wide): taking every
        # replica out of the load balancer would not give any back.
        storage.update(throttled=True, error=str(error))
    except Exception as error:
        storage.update(reachable=False, error=str(error))
        reasons.append(f"storage unreachable: {error}")
    if service.store_error:
        storage["writable"] = False
        reasons.append(f"storage not writable by the collector: {service.store_error}")
    if not service.running:
        reasons.append("scheduler not running")
    last = service.last_run
    reconciled = service.last_reconcile
    next_at = service.next_collection_at()
    collection: dict[str, Any] = {
        "configured": service.collection_enabled,
        "reason": settings.collection_not_configured_reason(),
        "subreddits": settings.subreddits,
        "rate_budget": rate_budget(settings),
        "leader": service.is_leader,
        "owner": service.owner,
        "running": service.busy,
        "warm": service.warm,
        "active_run_id": service.active_run_id,
        "next_run_at": next_at.isoformat() if next_at else None,
        "last_run": None if last is None else _last_run(last),
        "last_reconcile": None if reconciled is None else _last_run(reconciled),
        "reddit_rate_limit": rate_limit(service.rate_limits),
    }
    if reasons:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(
        status="ready" if not reasons else "not ready: " + "; ".join(reasons),
        storage=storage,
        scheduler={"running": service.running, "role": settings.role.value},
        collection=collection,
    )
