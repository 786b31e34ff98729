"""What a run finds left by a run that did not finish, and finishes or removes it.

- Indices of a version whose load never finished and was never verified (no complete model card):
  deleted, and said so. Only versions older than this run's own are considered.
- A version that was switched to but whose late-ratings stage never ran (a run killed between the
  switch and that stage): the API ratings that arrived in the version it replaced during that run are
  copied over now, so no rating given through the API is lost.
"""

from __future__ import annotations

import logging

from elasticsearch import Elasticsearch, NotFoundError

from movierec.connection import EsConnection
from movierec.modelcard import card_from_document
from movierec.search import carryover, indices

log = logging.getLogger(__name__)


def late_record(previous: str | None, since: int) -> dict:
    """Written into the model card before the switch: what the late-ratings stage has to do."""
    return {"from": previous, "since": since, "done": previous is None}


def mark_late_done(es: Elasticsearch, names: indices.IndexNames, version: str, record: dict) -> None:
    es.update(index=names.models, id=version, doc={"late_ratings": {**record, "done": True}}, refresh=True)


def recover(
    es: Elasticsearch,
    conn: EsConnection,
    names: indices.IndexNames,
    *,
    this_version: str,
    consent_default: bool,
) -> list[str]:
    """Clean up after killed runs; returns one line per thing done (for the load stage's detail)."""
    notes = []
    dropped = indices.drop_incomplete(es, names, before=this_version)
    if dropped:
        notes.append(f"deleted incomplete version(s) {', '.join(dropped)} left by a run that did not finish")
    serving = indices.serving_version(es, names)
    if serving is None:
        return notes
    try:
        card = es.get(index=names.models, id=serving)["_source"]
    except NotFoundError:
        return notes
    late = card.get("late_ratings") or {}
    if late.get("done", True) or not late.get("from"):
        return notes
    if not es.indices.exists(index=names.concrete("ratings", late["from"])):
        notes.append(f"late API ratings of {late['from']} could not be copied: that version is gone")
    else:
        result = carryover.carry_over(
            es,
            conn,
            names,
            from_version=late["from"],
            to_version=serving,
            since=late["since"],
            model=card_from_document(serving, card),
            consent_default=consent_default,
        )
        notes.append(
            f"finished the late-ratings stage of {serving} (its run stopped after the switch): "
            f"{result.found} API ratings from {late['from']}, {len(result.users)} users refolded"
        )
    mark_late_done(es, names, serving, late)
    return notes
