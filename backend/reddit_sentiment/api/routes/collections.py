"""Collection run history, and a manual trigger for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from ...collection import CollectionAlreadyRunning
from ...models import RunKind
from ..convert import run_out
from ..deps import ADMIN_RESPONSES, AdminDep, ServiceDep, StoreDep
from ..params import CursorParam, cursor_checked
from ..schemas import Page, RunOut, Started

router = APIRouter(prefix="/collections", tags=["collections"])

RunIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Run id")]


@router.get("", response_model=Page[RunOut], summary="Run history, newest first")
async def list_runs(
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size, 1-100")] = 20,
    cursor: CursorParam = None,
    kind: Annotated[RunKind | None, Query(description="Only runs of this kind")] = None,
) -> Page[RunOut]:
    with cursor_checked():
        page = await store.list_runs(limit=limit, cursor=cursor, kind=kind)
    return Page[RunOut](items=[run_out(r) for r in page.runs], next_cursor=page.next_cursor)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Started,
    dependencies=[AdminDep],
    summary="Start a collection cycle now (admin)",
    responses={
        **ADMIN_RESPONSES,
        409: {"description": "A cycle is already running"},
        503: {"description": "Collection is not configured in this process"},
    },
)
async def start_collection(service: ServiceDep, response: Response) -> Started:
    if not service.collection_enabled:
        raise HTTPException(503, "collection is not configured in this process")
    if not await service.renew_lease():
        if service.store_error:
            raise HTTPException(503, f"storage unavailable: {service.store_error}")
        holder = await service.store.lease_holder(service.LEASE_NAME)
        raise HTTPException(
            409, f"another process ({holder.owner if holder else 'unknown'}) is the collector"
        )
    try:
        run_id, _ = service.start_collection("manual")
    except CollectionAlreadyRunning as running:
        raise HTTPException(409, f"collection {running} is already running") from running
    url = f"/api/v1/collections/{run_id}"
    response.headers["Location"] = url
    return Started(id=run_id, url=url)


@router.get("/{run_id}", response_model=RunOut, responses={404: {"description": "Unknown run"}})
async def get_run(store: StoreDep, run_id: RunIdPath) -> RunOut:
    run = await store.get_run(run_id)
    if run is None:
        raise HTTPException(404, f"collection run {run_id} not found")
    return run_out(run)
