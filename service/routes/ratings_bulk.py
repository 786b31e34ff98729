"""`POST /ratings:bulk`: a stream of rating events (NDJSON or a JSON array), applied as one batch.

The body has its own limit (`MOVIEREC_MAX_BULK_BODY_BYTES`, 413 above it), checked while it is read,
so an oversized body is refused without being held in memory whole.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from movierec.errors import BadInput
from movierec.search import live, writes
from movierec.service.deps import EsDep, NamesDep, SettingsDep, WriteAccess
from movierec.service.schemas import BulkEventResult, BulkOut

router = APIRouter(tags=["users"])
MAX_EVENTS = 10_000


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(status_code=413, detail=f"the body is over the bulk limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(status_code=413, detail=f"the body is over the bulk limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/ratings:bulk",
    response_model=BulkOut,
    dependencies=[WriteAccess],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "maxItems": MAX_EVENTS, "items": {"type": "object"}}},
            },
        }
    },
)
async def bulk_ratings(request: Request, es: EsDep, names: NamesDep, settings: SettingsDep) -> BulkOut:
    """Up to 10,000 events `{event_id, user_id, movie_id, rating, timestamp?}`: a result per event
    (applied, replaced, duplicate event_id, rejected with the reason). Sending a batch again changes
    nothing; each user and movie of the batch is written once."""
    body = await read_limited(request, settings.max_bulk_body_bytes)
    try:
        events = live.parse_batch(body, max_events=MAX_EVENTS)
    except ValueError as exc:
        if "at most" in str(exc):
            raise HTTPException(status_code=413, detail=str(exc)) from None
        raise BadInput(str(exc)) from None
    model = await request.app.state.models.current(es, names)
    result = await request.app.state.writes.submit(
        es, names, model, events, consent_default=settings.consent_default, live_updates=settings.live_updates
    )
    return bulk_answer(result)


def bulk_answer(result: writes.BatchResult) -> BulkOut:
    counts = writes.outcome_counts(result.events)
    rows = [
        BulkEventResult(
            line=e.line,
            event_id=e.event_id,
            outcome=e.outcome if e.outcome in ("applied", "replaced", "duplicate") else "rejected",
            reason=e.reason,
            previous=e.previous if e.outcome == "replaced" else None,
        )
        for e in result.events
    ]
    return BulkOut(
        events=len(result.events),
        applied=counts["applied"],
        replaced=counts["replaced"],
        duplicate=counts["duplicate"],
        rejected=len(result.events) - counts["applied"] - counts["replaced"] - counts["duplicate"],
        users=len({e.user_id for e in result.events if e.outcome in ("applied", "replaced")}),
        results=rows,
    )
