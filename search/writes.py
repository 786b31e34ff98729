"""The rating write path: a batch of rating events applied to users, ratings and movies, without a
per-write refresh and without losing a write under contention.

How a batch (one API rating, or a whole `POST /ratings:bulk`) is applied:
1. The user documents are read with one real-time `mget`. Each holds the user's ratings (`ratings`,
   `rated_movie_ids`), so the fold-in needs no search and no refresh; a document the pipeline wrote
   (no `ratings` yet) is completed once from the ratings index, which the pipeline refreshed.
2. Every user's events are applied in order, the user is folded in once (however many of their
   events the batch holds), and the documents are written with one `bulk`, each conditional on the
   `_seq_no` read. A user written by another process meanwhile (a second uvicorn worker) is read
   again and retried, with jittered back-off, up to `USER_ATTEMPTS` times.
3. The rating documents follow, versioned externally by the user document's sequence number, so of
   two processes the later commit always wins, whatever order their writes arrive in.
4. Each movie's statistics and audience sums change by the sum of the batch's changes to it, in one
   conditional partial update per movie, retried on conflict the same way (no lost update).
5. The movies index is refreshed once (coalesced with concurrent writers in this process): a title
   search, the one read that is not real-time, then sees the new statistics and audience vector.

Within a process, writers never race: `WriteQueue` runs one batch at a time and merges every request
that arrived meanwhile into the next one (group commit), so 30 concurrent ratings of one user are a
few folds, not 30 conflicting ones.
"""

from __future__ import annotations

import asyncio
import logging
import random
import statistics
from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from elasticsearch import AsyncElasticsearch, NotFoundError

from movierec.errors import Conflict, Failed
from movierec.modelcard import ModelCard
from movierec.search import added_movies, live, newmovie, queries
from movierec.search.domain import LIKED_MIN_RATING, RatingSource, VectorSource, now_ms
from movierec.search.foldin import fold_in_user
from movierec.search.indices import IndexNames, ensure_shared_index
from movierec.search.live import Event, MovieDelta, Outcome

log = logging.getLogger(__name__)

USER_ATTEMPTS = 40  # conditional user writes that lost a race with another process: read again, retry
MOVIE_ATTEMPTS = 40
BACKOFF_S = (0.002, 0.05)  # jittered back-off between attempts: first, cap (doubling)
MAX_GROUP_EVENTS = 20_000  # events merged into one batch by the queue
# A movie's audience is recomputed from the stored ratings once it had this many approximate updates
# and at least this share of its audience size (see live.needs_refresh; README "Live audience vectors").
AUDIENCE_REFRESH_UPDATES = 20
AUDIENCE_REFRESH_SHARE = 0.2
# External versions of rating documents: above anything internal versioning gave them (the pipeline's
# 1, an older API's re-writes), increasing with the user document's (primary term, sequence number).
_VERSION_BASE = 2**20
USER_FIELDS_KEPT = ("favourite_genres", "activity_level")
MOVIE_STAT_FIELDS = [
    "movie_id",
    "title",
    "genres",
    "num_ratings",
    "avg_rating",
    "damped_rating",
    "audience_vector",
    "audience_size",
    "audience_sum",
    "audience_updates",
]


class UserConflict(Conflict):
    """The user kept changing under every attempt (other processes writing the same user)."""


class WriteNotFinished(Failed):
    """A part of the write after the user's rating was stored failed; the message says which."""

    due: list[int] = []  # movies whose audience was due for a refresh when the write gave up


class Observer:
    """What the write path counts (the service binds it to its Prometheus metrics)."""

    def foldin(self, outcome: str) -> None: ...

    def conflict(self, document: str) -> None: ...

    def live_update(self, kind: str) -> None: ...


@dataclass
class Committed:
    """A user's write that went through: what changed, with the vectors before and after."""

    user_id: int
    before: dict[int, dict]
    after: dict[int, dict]
    changed: set[int]
    old_vector: list[float] | None
    new_vector: list[float] | None
    document: dict
    version: int  # external version of the user's rating documents


@dataclass
class BatchResult:
    events: list[Event]
    users: dict[int, dict] = field(default_factory=dict)  # user id -> the document written (or read)
    attempts: int = 1
    movies_changed: bool = False  # a movie document was written (statistics, audience, item vector)


def _backoff(attempt: int) -> float:
    first, cap = BACKOFF_S
    return random.uniform(0, min(cap, first * 2**attempt))


# ---- reading ---------------------------------------------------------------------------------------


async def stored_entries(es: AsyncElasticsearch, names: IndexNames, user_id: int, doc: dict | None) -> dict[int, dict]:
    """The user's ratings: from their document when the write path keeps them there, else (a document
    the pipeline wrote) from the ratings index, which the pipeline refreshed."""
    if doc is not None and "ratings" in doc:
        return live.entries_of(doc["ratings"])
    if doc is None:
        return {}
    hits = await user_hits(es, names.ratings, user_id, source=["movie_id", "rating", "date"])
    return live.entries_of(hit["_source"] for hit in hits)


async def user_hits(es: AsyncElasticsearch, index: str, user_id: int, *, source: list[str] | bool) -> list[dict]:
    """Every hit of the user's documents in `index` (ratings or deletions), however many: the one paging
    reader (search_after, `queries.USER_PAGE` a page) behind the fold-in, exclusion, export and erasure."""
    hits: list[dict] = []
    after = None
    while True:
        body = queries.user_page_body(user_id, source=source, search_after=after)
        page = (await es.search(index=index, body=body))["hits"]["hits"]
        hits += page
        if len(page) < queries.USER_PAGE:
            return hits
        after = page[-1]["sort"]


async def _consents(es: AsyncElasticsearch, names: IndexNames, users: Sequence[int], default: bool) -> dict[int, bool]:
    try:
        docs = (await es.mget(index=names.consents, ids=[str(u) for u in users]))["docs"]
    except NotFoundError:  # no consents index yet: nobody chose
        return dict.fromkeys(users, default)
    return {
        u: bool(d["_source"]["personalisation"]) if d.get("found") else default
        for u, d in zip(users, docs, strict=True)
    }


class VectorCache:
    """Item vectors read during one batch (each movie once, however many users rated it)."""

    def __init__(self, known: dict[int, list[float] | None] | None = None) -> None:
        self.vectors: dict[int, list[float] | None] = dict(known or {})

    async def get(self, es: AsyncElasticsearch, names: IndexNames, movie_ids: set[int]) -> dict[int, list | None]:
        missing = sorted(movie_ids - self.vectors.keys())
        if missing:
            docs = (await es.mget(index=names.movies, ids=[str(m) for m in missing], source_includes=["item_vector"]))[
                "docs"
            ]
            for m, doc in zip(missing, docs, strict=True):
                self.vectors[m] = doc.get("_source", {}).get("item_vector") if doc.get("found") else None
        return self.vectors


def fold(model: ModelCard, entries: dict[int, dict], vectors: dict[int, list | None]) -> list[float] | None:
    """The user's vector from their ratings of movies the model knows; None without any."""
    rated = [(vectors.get(m), e["rating"]) for m, e in sorted(entries.items())]
    rated = [(v, r) for v, r in rated if v]
    if not rated:
        return None
    solved = fold_in_user(
        np.array([v for v, _ in rated]),
        [r for _, r in rated],
        reg_param=model.reg_param,
        implicit=model.implicit,
        alpha=model.alpha,
        gram=model.gram,
    )
    return [float(x) for x in solved]


def user_document(
    previous: dict, user_id: int, entries: dict[int, dict], vector: list[float] | None, model_version: str
) -> dict:
    """The user document for these ratings; it keeps them (`ratings`), sorted by movie id."""
    values = [e["rating"] for e in entries.values()]
    dates = [e["date"] for e in entries.values() if e.get("date") is not None]
    ordered = [entries[m] for m in sorted(entries)]
    doc = {
        **{k: v for k, v in previous.items() if k in USER_FIELDS_KEPT},
        "user_id": user_id,
        "num_ratings": len(values),
        "avg_rating": statistics.fmean(values) if values else None,
        "rating_std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "first_rating_at": min(dates) if dates else None,
        "last_rating_at": max(dates) if dates else None,
        "vector_source": VectorSource.FOLD_IN if vector else VectorSource.NONE,
        "model_version": model_version,
        "updated_at": now_ms(),
        "rated_movie_ids": sorted(entries),
        "ratings": [{k: v for k, v in e.items() if v is not None and v != []} for e in ordered],
    }
    if vector:
        doc["user_vector"] = vector
    return {k: v for k, v in doc.items() if v is not None}


# ---- the batch -------------------------------------------------------------------------------------


async def apply_batch(
    es: AsyncElasticsearch,
    names: IndexNames,
    model: ModelCard,
    events: list[Event],
    *,
    consent_default: bool = True,
    observer: Observer | None = None,
    live_updates: bool = True,
) -> BatchResult:
    """Apply the events (each gets its outcome); see the module docstring for the steps."""
    observer = observer or Observer()
    todo = [e for e in events if e.outcome is None]
    users = sorted({e.user_id for e in todo})
    # The first reads go out together: the movies (titles, statistics with their sequence numbers, item
    # vectors), the users and their consents. Measured on a single rating, in process, quiet machine:
    # 22 ms for the batch when these were four sequential round trips (benchmarks/writes.py, README).
    movies, first_read = await asyncio.gather(
        _movies(es, names, {e.movie_id for e in todo}), _read_users(es, names, users, consent_default)
    )
    # An added movie that a pipeline run merged into a data file's movie answers as an alias of it:
    # its ratings are the file movie's (the run moved the earlier ones there too).
    aliases = await added_movies.merged_targets(es, names, {e.movie_id for e in todo} - movies.keys())
    if aliases:
        for event in todo:
            event.movie_id = aliases.get(event.movie_id, event.movie_id)
        movies |= await _movies(es, names, set(aliases.values()) - movies.keys())
    for event in todo:
        if event.movie_id not in movies:
            event.reject(f"no movie with id {event.movie_id}")
    by_user: dict[int, list[Event]] = defaultdict(list)
    for event in todo:
        if event.outcome is None:
            by_user[event.user_id].append(event)
    result = BatchResult(events)
    if not by_user:
        return result
    vectors = VectorCache({m: doc["_source"].get("item_vector") for m, doc in movies.items()})
    committed, result.attempts = await _commit_users(
        es, names, model, by_user, consent_default, observer, result, vectors=vectors, first_read=first_read
    )
    if committed:
        # The rating documents and the movies' statistics both follow from the committed users alone.
        sources = {m: doc["_source"] for m, doc in movies.items()}
        deltas = movie_deltas(committed) if live_updates else {}
        prefetched = {m: movies[m] for m in deltas if m in movies}
        # Both run to the end whatever the other does (gather would leave one running after the other
        # failed, with the next batch started meanwhile); then the first error is raised. The users'
        # documents hold the ratings either way, so statistics that count them agree with the profiles.
        written, moved = await asyncio.gather(
            _write_ratings(es, names, committed, sources),
            apply_movie_deltas(es, names, model, deltas, observer, prefetched=prefetched, refresh=False),
            return_exceptions=True,
        )
        due = getattr(moved, "due", []) if isinstance(moved, BaseException) else moved
        if due and not isinstance(written, BaseException):  # after the rating documents: it recounts them
            await refresh_audiences(es, names, model, due, observer=observer)
        for outcome in (written, moved):
            if isinstance(outcome, BaseException):
                raise outcome
        changed_movies = sorted({m for c in committed for m in c.changed})
        result.movies_changed = bool(deltas) or any(newmovie.is_added_id(m) for m in changed_movies)
        await _after_movies_rated(es, names, model, changed_movies)
    return result


async def _after_movies_rated(
    es: AsyncElasticsearch, names: IndexNames, model: ModelCard, movie_ids: list[int]
) -> None:
    """The one place for what follows a stored rating of a movie on the item side: movies added through
    the API refold their item vector from their raters (`added_movies.on_rating`). Trained movies keep
    their trained vectors, so the common case costs nothing; only a batch touching an added movie pays
    one refresh of the ratings index, which the item fold-in reads with a search."""
    added = [m for m in movie_ids if newmovie.is_added_id(m)]
    if not added:
        return
    await es.indices.refresh(index=names.ratings)
    for movie_id in added:
        await added_movies.on_rating(es, names, model, movie_id)


async def _movies(es: AsyncElasticsearch, names: IndexNames, movie_ids: set[int]) -> dict[int, dict]:
    """movie id -> its mget hit (with `_seq_no`): what the rating documents copy, the statistics the live
    update starts from, and the item vector the fold-in uses."""
    if not movie_ids:
        return {}
    ids = sorted(movie_ids)
    source = [*MOVIE_STAT_FIELDS, "item_vector"]
    docs = (await es.mget(index=names.movies, ids=[str(m) for m in ids], source_includes=source))["docs"]
    return {m: d for m, d in zip(ids, docs, strict=True) if d.get("found")}


async def _read_users(
    es: AsyncElasticsearch, names: IndexNames, users: Sequence[int], consent_default: bool
) -> tuple[list[dict], dict[int, bool]]:
    """The users' documents (real-time mget, with sequence numbers) and their consents."""
    if not users:
        return [], {}
    docs, consents = await asyncio.gather(
        es.mget(index=names.users, ids=[str(u) for u in users]), _consents(es, names, users, consent_default)
    )
    return docs["docs"], consents


async def _commit_users(
    es: AsyncElasticsearch,
    names: IndexNames,
    model: ModelCard,
    by_user: dict[int, list[Event]],
    consent_default: bool,
    observer: Observer,
    result: BatchResult,
    *,
    vectors: VectorCache,
    first_read: tuple[list[dict], dict[int, bool]] | None = None,
) -> tuple[list[Committed], int]:
    pending = sorted(by_user)
    committed: list[Committed] = []
    for attempt in range(1, USER_ATTEMPTS + 1):
        if attempt == 1 and first_read is not None:  # read with the movies; may hold users all rejected
            docs, consents = first_read
            seen = {int(d["_id"]): d for d in docs}
        else:
            docs, consents = await _read_users(es, names, pending, consent_default)
            seen = dict(zip(pending, docs, strict=True))
        bases = await asyncio.gather(
            *(stored_entries(es, names, u, seen[u]["_source"] if seen[u].get("found") else None) for u in pending)
        )
        plans = []
        for u, before in zip(pending, bases, strict=True):
            events = by_user[u]
            for event in events:
                event.outcome = event.reason = event.previous = None
            after = {m: dict(e) for m, e in before.items()}
            changed = live.apply_events(after, events)
            source = seen[u].get("_source", {}) if seen[u].get("found") else {}
            stored = any(e.outcome in (Outcome.APPLIED, Outcome.REPLACED) for e in events)
            if not changed and not stored:  # duplicates and deletions of nothing only: nothing to write
                result.users[u] = source
                continue
            plans.append((u, before, after, changed, source))
        allowed_ids = {m for u, _, after, _, _ in plans if consents[u] for m in after}
        cache = await vectors.get(es, names, allowed_ids) if allowed_ids else {}
        operations, built = [], []
        for u, before, after, changed, source in plans:
            vector = fold(model, after, cache) if consents[u] else None
            doc = user_document(source, u, after, vector, model.version)
            if not consents[u]:
                doc["vector_source"] = VectorSource.NO_CONSENT
            found = seen[u]
            if found.get("found"):
                head = {"_id": str(u), "if_seq_no": found["_seq_no"], "if_primary_term": found["_primary_term"]}
                operations += [{"index": {"_index": found["_index"], **head}}, doc]
            else:
                operations += [{"create": {"_index": names.users, "_id": str(u)}}, doc]
            old_vector = source.get("user_vector")
            built.append(Committed(u, before, after, changed, old_vector, vector, doc, 0))
        retry = []
        if operations:
            items = (await es.bulk(operations=operations))["items"]
            for plan, item in zip(built, items, strict=True):
                outcome = next(iter(item.values()))
                if outcome.get("status") == 409:
                    observer.conflict("user")
                    retry.append(plan.user_id)
                    continue
                if outcome.get("error"):
                    raise Failed(f"user {plan.user_id} not written: {outcome['error'].get('reason')}")
                observer.foldin("ok" if plan.new_vector else "no-vector")
                plan.version = _VERSION_BASE + (outcome["_primary_term"] << 40) + outcome["_seq_no"]
                result.users[plan.user_id] = plan.document
                committed.append(plan)
        if not retry:
            return committed, attempt
        log.info("%d users changed under a batch (attempt %d); retrying them", len(retry), attempt)
        pending = retry
        await asyncio.sleep(_backoff(attempt))
    for u in pending:
        observer.foldin("conflict")
        for event in by_user[u]:
            event.reject(f"user {u} was updated concurrently {USER_ATTEMPTS} times; rating not stored")
    return committed, USER_ATTEMPTS


async def _write_ratings(
    es: AsyncElasticsearch, names: IndexNames, committed: list[Committed], movies: dict[int, dict]
) -> None:
    """The rating documents (and deletion records) of the committed users; no refresh: nothing that
    must see a change at once reads them with a search (fold-in, exclusion and export read the user
    document)."""
    operations, deletions = [], []
    for c in committed:
        for m in sorted(c.changed):
            head = {"_index": names.ratings, "_id": f"{c.user_id}_{m}", "version": c.version}
            head["version_type"] = "external"
            entry = c.after.get(m)
            if entry is None:
                operations.append({"delete": head})
                deletions.append((c.user_id, m))
                continue
            movie = movies.get(m, {})
            doc = {
                "user_id": c.user_id,
                "movie_id": m,
                "rating": entry["rating"],
                "date": entry["date"],
                "genres": movie.get("genres", []),
                "title": movie.get("title"),
                "source": RatingSource.API,  # so the next pipeline run carries it over (carryover.py)
            }
            operations += [{"index": head}, doc]
    if deletions:
        await ensure_shared_index(es, names, "deletions")
        for u, m in deletions:  # remembered, so a retrain does not bring the rating back
            doc = {"kind": "rating", "user_id": u, "movie_id": m, "date": now_ms()}
            operations += [{"index": {"_index": names.deletions, "_id": f"{u}_{m}"}}, doc]
    if not operations:
        return
    items = (await es.bulk(operations=operations))["items"]
    # 409: a later commit of the same user wrote this rating already; 404: a delete of nothing.
    failed = [next(iter(i.values())) for i in items if next(iter(i.values())).get("status") not in (200, 201, 404, 409)]
    if failed:
        raise WriteNotFinished(
            f"{len(failed)} rating documents not written (the users' profiles hold the ratings): "
            f"{failed[0].get('error', {}).get('reason')}"
        )


# ---- movies ----------------------------------------------------------------------------------------


def movie_deltas(committed: list[Committed]) -> dict[int, MovieDelta]:
    deltas: dict[int, MovieDelta] = defaultdict(MovieDelta)
    for c in committed:
        for m in c.changed:
            old, new = c.before.get(m), c.after.get(m)
            deltas[m].change(old["rating"] if old else None, new["rating"] if new else None, c.old_vector, c.new_vector)
    return {m: d for m, d in deltas.items() if not d.empty}


async def apply_movie_deltas(
    es: AsyncElasticsearch,
    names: IndexNames,
    model: ModelCard,
    deltas: dict[int, MovieDelta],
    observer: Observer,
    *,
    leaving: frozenset[int] = frozenset(),
    prefetched: dict[int, dict] | None = None,
    refresh: bool = True,
) -> list[int]:
    """Add each delta to its movie with a conditional partial update; conflicts are read again and
    retried. The statistics are exact; the audience refreshed from the stored ratings past the threshold
    (without the `leaving` users, whose ratings are still stored while the deltas take them out).
    `prefetched`: the movies' mget hits read earlier in the batch, used for the first attempt (a write
    since then fails its condition and is read again). -> the movies whose audience is due for a refresh
    from the stored ratings: refreshed here, or left to the caller with `refresh=False` (a caller whose
    rating documents are still being written, which the refresh must see)."""
    pending = sorted(deltas)
    due: list[int] = []
    if not pending:
        return due
    overall = model.user_mean
    for attempt in range(1, MOVIE_ATTEMPTS + 1):
        if attempt == 1 and prefetched is not None and all(m in prefetched for m in pending):
            docs = [prefetched[m] for m in pending]
        else:
            ids = [str(m) for m in pending]
            docs = (await es.mget(index=names.movies, ids=ids, source_includes=MOVIE_STAT_FIELDS))["docs"]
        operations, order = [], []
        refreshes = []
        for m, doc in zip(pending, docs, strict=True):
            if not doc.get("found"):
                continue  # gone with a new version: the next pipeline run counts the rating
            src = doc["_source"]
            delta = deltas[m]
            update = _statistics(src, delta, _rating_mean(model, src))
            if overall is not None and (delta.audience is not None or delta.audience_size):
                total = live.audience_sum(src, overall) + (delta.audience if delta.audience is not None else 0)
                size = int(src.get("audience_size") or 0) + delta.audience_size
                updates = int(src.get("audience_updates") or 0) + delta.audience_updates
                if live.needs_refresh(updates, size, threshold=AUDIENCE_REFRESH_UPDATES, share=AUDIENCE_REFRESH_SHARE):
                    refreshes.append(m)
                update |= live.audience_fields(total, size, overall, updates)
                observer.live_update("audience")
            observer.live_update("statistics")
            head = {"_index": doc["_index"], "_id": doc["_id"]}
            head |= {"if_seq_no": doc["_seq_no"], "if_primary_term": doc["_primary_term"]}
            operations += [{"update": head}, {"doc": update}]
            order.append(m)
        retry = []
        if operations:
            items = (await es.bulk(operations=operations))["items"]
            for m, item in zip(order, items, strict=True):
                outcome = item["update"]
                if outcome.get("status") == 409:
                    observer.conflict("movie")
                    retry.append(m)
                elif outcome.get("error"):
                    raise WriteNotFinished(f"movie {m}: statistics not updated: {outcome['error'].get('reason')}")
        due += [m for m in refreshes if m not in retry]
        if not retry:
            break
        pending = retry
        await asyncio.sleep(_backoff(attempt))
    else:
        pending_error = WriteNotFinished(
            f"movies {pending} kept changing: their statistics miss this write until the next run"
        )
        if due and refresh:
            await refresh_audiences(es, names, model, due, observer=observer, leaving=leaving)
        pending_error.due = due  # the movies already due, for a caller that refreshes them itself
        raise pending_error
    if due and refresh:
        await refresh_audiences(es, names, model, due, observer=observer, leaving=leaving)
    return due


def _rating_mean(model: ModelCard, src: dict) -> float:
    """The training-time mean of all ratings (damping): from the model card, else (an older card) from
    the movie's own pipeline statistics, which were computed with it."""
    if model.rating_mean is not None:
        return model.rating_mean
    n, damped = int(src.get("num_ratings") or 0), src.get("damped_rating")
    if n and damped is not None:
        return (damped * (n + live.DAMPING) - live.rating_total(src.get("avg_rating"), n)) / live.DAMPING
    return 0.0


def _statistics(src: dict, delta: MovieDelta, global_mean: float) -> dict:
    count = int(src.get("num_ratings") or 0)
    total = live.rating_total(src.get("avg_rating"), count)
    return live.movie_statistics(count + delta.count, total + delta.total, global_mean)


async def refresh_audiences(
    es: AsyncElasticsearch,
    names: IndexNames,
    model: ModelCard,
    movie_ids: Sequence[int],
    *,
    observer: Observer | None = None,
    leaving: frozenset[int] = frozenset(),
) -> None:
    """Recompute the movies' audience sums exactly from the stored ratings and the users' current
    vectors (the ratings index is refreshed first: this is the one reader that must see every rating).
    `leaving`: users being erased, whose ratings are deleted only after their contribution is taken out;
    counted here, they would be added back for good (measured: a drift of 0.56 left by 30 erasures).

    All the movies at once: one paged search for their likes, one mget of the users, one conditional
    bulk (measured on `benchmarks/writes.py`'s batch of 1,000 events, which refreshes about 50 movies:
    0.6-1.3 s one movie at a time, four round trips each). A movie's sequence number is read before its
    likes, so a live delta applied in between fails the conditional write and the movie is counted again."""
    if model.user_mean is None or not movie_ids:
        return
    await es.indices.refresh(index=names.ratings)
    pending = sorted(set(movie_ids))
    for _ in range(MOVIE_ATTEMPTS):
        docs = (await es.mget(index=names.movies, ids=[str(m) for m in pending], source_includes=["movie_id"]))["docs"]
        seen = {m: d for m, d in zip(pending, docs, strict=True) if d.get("found")}
        if not seen:
            return
        liked = await liked_by(es, names, list(seen))
        vectors = await user_vectors(es, names, sorted({u for users in liked.values() for u in users} - leaving))
        operations, order = [], []
        for m, doc in seen.items():
            users = [vectors[u] for u in liked.get(m, []) if u in vectors]
            total = np.sum(users, axis=0) if users else np.zeros(0)
            head = {"_index": doc["_index"], "_id": doc["_id"]}
            head |= {"if_seq_no": doc["_seq_no"], "if_primary_term": doc["_primary_term"]}
            operations += [{"update": head}, {"doc": live.audience_fields(total, len(users), model.user_mean, 0)}]
            order.append(m)
        items = (await es.bulk(operations=operations))["items"]
        retry = []
        for m, item in zip(order, items, strict=True):
            outcome = item["update"]
            if outcome.get("status") == 409:  # a write in between: count again
                retry.append(m)
            elif outcome.get("error"):
                raise WriteNotFinished(f"movie {m}: audience not refreshed: {outcome['error'].get('reason')}")
            elif observer:
                observer.live_update("audience-refresh")
        if not retry:
            return
        pending = retry


async def liked_by(es: AsyncElasticsearch, names: IndexNames, movie_ids: Sequence[int]) -> dict[int, list[int]]:
    """movie id -> every user whose stored rating of it is a like (paged, however many)."""
    liked: dict[int, list[int]] = defaultdict(list)
    after = None
    while True:
        body = queries.liked_by_page_body(movie_ids, LIKED_MIN_RATING, search_after=after)
        page = (await es.search(index=names.ratings, body=body))["hits"]["hits"]
        for hit in page:
            liked[hit["_source"]["movie_id"]].append(hit["_source"]["user_id"])
        if len(page) < queries.USER_PAGE:
            return liked
        after = page[-1]["sort"]


async def user_vectors(es: AsyncElasticsearch, names: IndexNames, users: Sequence[int]) -> dict[int, np.ndarray]:
    """user id -> their current vector, for those of `users` who have one (mget in pages)."""
    vectors: dict[int, np.ndarray] = {}
    for start in range(0, len(users), queries.USER_PAGE):
        chunk = users[start : start + queries.USER_PAGE]
        docs = (await es.mget(index=names.users, ids=[str(u) for u in chunk], source_includes=["user_vector"]))["docs"]
        for u, d in zip(chunk, docs, strict=True):
            vector = d.get("_source", {}).get("user_vector") if d.get("found") else None
            if vector:
                vectors[u] = np.asarray(vector, dtype=np.float64)
    return vectors


async def move_audience(
    es: AsyncElasticsearch,
    names: IndexNames,
    model: ModelCard,
    entries: dict[int, dict],
    old_vector: list[float] | None,
    new_vector: list[float] | None,
    *,
    statistics: bool = False,
    user_id: int | None = None,
) -> None:
    """A user's contribution to the movies they rated changes: their vector in the audiences of the
    movies they liked goes from `old_vector` to `new_vector` (None: none), and with `statistics` their
    ratings leave the movies' statistics too (erasure of `user_id`, whose ratings are still stored)."""
    deltas: dict[int, MovieDelta] = {}
    for m, entry in entries.items():
        delta = MovieDelta()
        if statistics:
            delta.change(entry["rating"], None, old_vector, None)
        else:
            delta.change(entry["rating"], entry["rating"], old_vector, new_vector)  # statistics unchanged
        if not delta.empty:
            deltas[m] = delta
    if deltas:
        leaving = frozenset([user_id]) if statistics and user_id is not None else frozenset()
        await apply_movie_deltas(es, names, model, deltas, Observer(), leaving=leaving)
    await es.indices.refresh(index=visible_indices(names))


INGEST_BATCH = 10_000  # events per batch, as POST /ratings:bulk takes them
INGEST_REJECTIONS_KEPT = 100  # rejected events listed in a summary (all of them are counted)


@dataclass
class IngestSummary:
    counts: dict[str, int]  # events per outcome
    rejections: list[tuple[int | None, str]] = field(default_factory=list)  # (line, reason), the first ones


async def ingest(
    es: AsyncElasticsearch,
    names: IndexNames,
    model: ModelCard,
    events: Iterable[Event],
    *,
    consent_default: bool = True,
    progress: Callable[[int], None] = lambda _: None,
) -> IngestSummary:
    """A file's events through the same batches as POST /ratings:bulk; -> counts per outcome and the
    first INGEST_REJECTIONS_KEPT rejected events with their line numbers."""
    summary = IngestSummary(dict.fromkeys(outcome_counts([]), 0))
    chunk: list[Event] = []

    async def flush() -> None:
        await apply_batch(es, names, model, chunk, consent_default=consent_default)
        await es.indices.refresh(index=visible_indices(names))
        for key, value in outcome_counts(chunk).items():
            summary.counts[key] += value
        for e in chunk:
            if e.outcome not in CHANGES + (Outcome.DUPLICATE,) and len(summary.rejections) < INGEST_REJECTIONS_KEPT:
                summary.rejections.append((e.line, e.reason or e.outcome or "rejected"))
        progress(len(chunk))
        chunk.clear()

    for event in events:
        chunk.append(event)
        if len(chunk) >= INGEST_BATCH:
            await flush()
    if chunk:
        await flush()
    return summary


# ---- one batch at a time per process ------------------------------------------------------------------


class Refresher:
    """Refreshes of an index, coalesced: a caller waits for a refresh that starts after its call;
    every caller arriving meanwhile shares that one."""

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Task] = {}
        self._next: dict[str, asyncio.Task] = {}

    async def __call__(self, es: AsyncElasticsearch, index: str) -> None:
        task = self._next.get(index)
        if task is None:
            task = asyncio.ensure_future(self._run(es, index, self._running.get(index)))
            self._next[index] = task
        await asyncio.shield(task)

    async def _run(self, es: AsyncElasticsearch, index: str, running: asyncio.Task | None) -> None:
        if running is not None:  # started before the callers' writes: it may miss them
            await asyncio.gather(running, return_exceptions=True)
        me = asyncio.current_task()
        self._next.pop(index, None)
        self._running[index] = me
        try:
            await es.indices.refresh(index=index)
        finally:
            if self._running.get(index) is me:
                del self._running[index]


class WriteQueue:
    """Group commit: one batch at a time per (index prefix, model); requests arriving meanwhile are merged
    into the next batch, so writers in this process never race each other."""

    def __init__(self, observer: Observer | None = None) -> None:
        self.observer = observer or Observer()
        self.refresh = Refresher()
        self._pending: dict[tuple, list[tuple[list[Event], asyncio.Future]]] = defaultdict(list)
        self._running: set[tuple] = set()
        self._tasks: set[asyncio.Task] = set()  # held, so the loop does not drop a running task

    def _spawn(self, coro: Coroutine) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def submit(
        self,
        es: AsyncElasticsearch,
        names: IndexNames,
        model: ModelCard,
        events: list[Event],
        *,
        consent_default: bool = True,
        live_updates: bool = True,
    ) -> BatchResult:
        key = (names.prefix, model.version, consent_default, live_updates)
        future = asyncio.get_running_loop().create_future()
        self._pending[key].append((events, future))
        if key not in self._running:
            self._running.add(key)
            self._spawn(self._drain(key, es, names, model, consent_default, live_updates))
        return await asyncio.shield(future)  # a client gone away does not cancel the batch

    async def _drain(
        self,
        key: tuple,
        es: AsyncElasticsearch,
        names: IndexNames,
        model: ModelCard,
        consent_default: bool,
        live_updates: bool,
    ) -> None:
        try:
            while self._pending[key]:
                group, size = [], 0
                while self._pending[key] and (not group or size + len(self._pending[key][0][0]) <= MAX_GROUP_EVENTS):
                    item = self._pending[key].pop(0)
                    group.append(item)
                    size += len(item[0])
                events = [e for evs, _ in group for e in evs]
                try:
                    result = await apply_batch(
                        es,
                        names,
                        model,
                        events,
                        consent_default=consent_default,
                        observer=self.observer,
                        live_updates=live_updates,
                    )
                except Exception as exc:  # every request of the batch gets the error
                    _settle(group, exc)
                    continue
                # The answers wait for the movies refresh; the next batch does not.
                self._spawn(self._finish(es, names, group, result))
        finally:
            self._running.discard(key)
            self._pending.pop(key, None)

    async def _finish(self, es: AsyncElasticsearch, names: IndexNames, group: list, result: BatchResult) -> None:
        try:
            if any(e.outcome in CHANGES for evs, _ in group for e in evs):
                await self.refresh(es, visible_indices(names, movies=result.movies_changed))
        except Exception as exc:
            _settle(group, exc)
            return
        for evs, future in group:
            if not future.done():
                future.set_result(BatchResult(evs, result.users, result.attempts))


def visible_indices(names: IndexNames, *, movies: bool = True) -> str:
    """What a write refreshes: the movies (title search), unless no movie document changed (live updates
    off), and the users (the kNN's vector lookup reads the users index as a search does, not as a
    real-time GET; measured on 9.5.3: a lookup of an unrefreshed document is a 404)."""
    return f"{names.movies},{names.users}" if movies else names.users


CHANGES = (Outcome.APPLIED, Outcome.REPLACED, Outcome.DELETED)


def _settle(group: list, exc: Exception) -> None:
    for _, future in group:
        if not future.done():
            future.set_exception(exc)


def outcome_counts(events: Sequence[Event]) -> dict[str, int]:
    counts = dict.fromkeys((Outcome.APPLIED, Outcome.REPLACED, Outcome.DELETED, Outcome.DUPLICATE, Outcome.REJECTED), 0)
    for e in events:
        outcome = e.outcome if e.outcome in counts else Outcome.REJECTED
        counts[outcome] += 1
    return counts
