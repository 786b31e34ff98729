"""The rating write path's pure rules: applying rating events to a user's ratings, and the live
movie statistics and audience sums that follow from them.

Pure (numpy only): the store (search/writes.py) reads and writes the documents, this decides what
goes in them, and tests check it without a server.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from movierec.search.domain import DAMPING, LIKED_MIN_RATING, YEAR_MAX, now_seconds

MAX_EVENT_ID = 200  # characters
EVENT_IDS_KEPT = 16  # event ids remembered per stored rating (a batch re-sent is recognised by them)
ID_MAX = 2**31 - 1
# Rating dates a stream may carry: MovieLens starts in 1995; a date past the year-2100 limit is a typo.
TIMESTAMP_MIN, TIMESTAMP_MAX = 0, int((YEAR_MAX - 1970) * 365.25 * 86400)


class Outcome:
    APPLIED = "applied"  # a new rating
    REPLACED = "replaced"  # replaced the user's earlier rating of the movie
    DUPLICATE = "duplicate"  # this event_id was applied already: nothing changed
    DELETED = "deleted"
    REJECTED = "rejected"
    NOT_FOUND = "not-found"  # a deletion of a rating that is not stored (the single API's 404)


@dataclass
class Event:
    """One rating (rating None: a deletion) of a batch or a single API call, with its outcome."""

    user_id: int
    movie_id: int
    rating: float | None
    date: int = field(default_factory=now_seconds)
    event_id: str | None = None
    line: int | None = None  # NDJSON line or array position (1-based), for the answer
    outcome: str | None = None
    reason: str | None = None
    previous: float | None = None  # the rating replaced or deleted

    def reject(self, reason: str) -> None:
        self.outcome, self.reason = Outcome.REJECTED, reason


def valid_rating(value: object) -> str | None:
    """None if `value` is a rating (0.5 to 5.0 in half stars), else why not."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "rating must be a number"
    if not 0.5 <= value <= 5.0:
        return f"rating {value} is out of range (0.5 to 5.0)"
    if value * 2 != int(value * 2):
        return f"rating {value} is not on the half-star grid (0.5, 1.0, ... 5.0)"
    return None


def _valid_id(raw: dict, key: str) -> int | str:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{key} must be an integer"
    if not 1 <= value <= ID_MAX:
        return f"{key} {value} is out of range (1 to {ID_MAX})"
    return value


def event_of(raw: object, line: int) -> Event:
    """A batch item as an Event; a malformed one comes back rejected, with the reason."""
    if not isinstance(raw, dict):
        return _rejected(line, "an event must be a JSON object")
    event_id = raw.get("event_id")
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > MAX_EVENT_ID:
        return _rejected(line, f"event_id must be a non-empty string of at most {MAX_EVENT_ID} characters")
    user_id, movie_id = _valid_id(raw, "user_id"), _valid_id(raw, "movie_id")
    timestamp = raw.get("timestamp")
    problem = next((p for p in (user_id, movie_id) if isinstance(p, str)), None) or valid_rating(raw.get("rating"))
    if problem is None and timestamp is not None:
        if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
            problem = "timestamp must be epoch seconds"
        elif not TIMESTAMP_MIN <= timestamp <= TIMESTAMP_MAX:
            problem = f"timestamp {timestamp} is out of range (epoch seconds up to the year {YEAR_MAX})"
    unknown = sorted(set(raw) - {"event_id", "user_id", "movie_id", "rating", "timestamp"})
    if problem is None and unknown:
        problem = f"unknown field(s): {', '.join(unknown)}"
    if problem:
        return _rejected(line, problem, event_id=event_id)
    date = int(timestamp) if timestamp is not None else now_seconds()
    return Event(user_id, movie_id, float(raw["rating"]), date, event_id.strip(), line)  # type: ignore[arg-type]


def _rejected(line: int, reason: str, *, event_id: object = None) -> Event:
    event = Event(0, 0, None, 0, event_id if isinstance(event_id, str) else None, line)
    event.reject(reason)
    return event


def parse_batch(body: bytes, *, max_events: int) -> list[Event]:
    """A JSON array or NDJSON (one object a line; blank lines skipped) as Events; ValueError when the
    body as a whole is unusable (not UTF-8, a broken array, too many events). A malformed NDJSON line
    is one rejected event, named by its line number; the other lines are applied."""
    try:
        text = body.decode("utf-8-sig")  # a leading byte-order mark (as editors and spreadsheets write) is not data
    except UnicodeDecodeError as exc:
        raise ValueError(f"the body is not UTF-8 (byte {exc.start})") from None
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the JSON array is malformed: {exc.msg} at line {exc.lineno}") from None
        numbered = list(enumerate(items, start=1))
        events = None
    else:
        numbered, events = [], []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                numbered.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                events.append(_rejected(number, f"line {number} is not JSON: {exc.msg}"))
    if len(numbered) + len(events or []) > max_events:
        raise ValueError(f"a batch holds at most {max_events} events, this one {len(numbered) + len(events or [])}")
    parsed = [event_of(raw, number) for number, raw in numbered]
    return sorted([*parsed, *(events or [])], key=lambda e: e.line or 0)


def read_events(path_lines: Iterable[str], *, csv_format: bool) -> Iterable[Event]:
    """A file's events, one a line (NDJSON objects, or CSV with a header naming userId/user_id,
    movieId/movie_id, rating, timestamp and optionally event_id): each an Event or a rejected one with
    the line number. A CSV row without event_id gets `csv:<user>:<movie>:<timestamp>`, so ingesting a
    file again is recognised as duplicates."""
    import csv

    if not csv_format:
        for number, line in enumerate(path_lines, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                yield _rejected(number, f"line {number} is not JSON: {exc.msg}")
                continue
            yield event_of(raw, number)
        return
    aliases = {"userId": "user_id", "movieId": "movie_id"}
    reader = csv.reader(path_lines)
    header = [aliases.get(h.strip(), h.strip()) for h in next(reader, [])]
    for number, row in enumerate(reader, start=2):
        if not row:
            continue
        raw: dict = dict(zip(header, row, strict=False))
        try:
            for key in ("user_id", "movie_id", "timestamp"):
                if raw.get(key, "") != "":
                    raw[key] = int(raw[key])
                else:
                    raw.pop(key, None)
            raw["rating"] = float(raw["rating"])
        except (ValueError, KeyError) as exc:
            yield _rejected(number, f"line {number}: not a rating row ({exc})")
            continue
        raw.setdefault("event_id", f"csv:{raw.get('user_id')}:{raw.get('movie_id')}:{raw.get('timestamp', '')}")
        yield event_of(raw, number)


# --- a user's ratings -------------------------------------------------------------------------------


def entries_of(ratings: Iterable[dict]) -> dict[int, dict]:
    """The ratings kept on a user document (or read from the ratings index) by movie id."""
    return {
        int(r["movie_id"]): {
            "movie_id": int(r["movie_id"]),
            "rating": float(r["rating"]),
            "date": int(r["date"]) if isinstance(r.get("date"), int | float) else None,
            "event_ids": list(r.get("event_ids", [])),
        }
        for r in ratings
    }


def apply_events(entries: dict[int, dict], events: Sequence[Event]) -> set[int]:
    """Apply one user's events in order to their ratings (`entries`, changed in place), setting each
    event's outcome; -> the movie ids whose stored rating changed (value or presence)."""
    changed: set[int] = set()
    for event in events:
        current = entries.get(event.movie_id)
        if event.event_id and current and event.event_id in current["event_ids"]:
            event.outcome, event.previous = Outcome.DUPLICATE, current["rating"]
            continue
        if event.rating is None:
            if current is None:
                event.outcome = Outcome.NOT_FOUND
                event.reason = f"user {event.user_id} has no rating for movie {event.movie_id}"
                continue
            del entries[event.movie_id]
            event.outcome, event.previous = Outcome.DELETED, current["rating"]
            changed.add(event.movie_id)
            continue
        kept = (current["event_ids"] if current else []) + ([event.event_id] if event.event_id else [])
        entries[event.movie_id] = {
            "movie_id": event.movie_id,
            "rating": event.rating,
            "date": event.date,
            "event_ids": kept[-EVENT_IDS_KEPT:],
        }
        event.outcome = Outcome.REPLACED if current else Outcome.APPLIED
        event.previous = current["rating"] if current else None
        if current is None or current["rating"] != event.rating or current["date"] != event.date:
            changed.add(event.movie_id)
    return changed


# --- live movie statistics and audience sums ----------------------------------------------------------


Vector = Sequence[float] | None


@dataclass
class MovieDelta:
    """What a set of committed rating changes does to one movie."""

    count: int = 0
    total: float = 0.0
    audience: np.ndarray | None = None  # change of the sum of liked-by users' vectors
    audience_size: int = 0
    audience_updates: int = 0  # approximate updates (see `audience_fields`)

    def rating(self, old: float | None, new: float | None) -> None:
        self.count += (new is not None) - (old is not None)
        self.total += (new or 0.0) - (old or 0.0)

    def liked(self, vector: Sequence[float] | None, sign: int) -> None:
        if vector is None:
            return
        v = np.asarray(vector, dtype=np.float64) * sign
        self.audience = v if self.audience is None else self.audience + v
        self.audience_size += sign
        self.audience_updates += 1

    def change(self, old: float | None, new: float | None, old_vector: Vector, new_vector: Vector) -> None:
        """A user's rating of the movie went from `old` to `new` (None: none) and their vector from
        `old_vector` to `new_vector`: the statistics change exactly; the audience loses the vector it
        had from them (approximately: the one they have now, before this fold-in) and gains the new one."""
        self.rating(old, new)
        if old is not None and old >= LIKED_MIN_RATING:
            self.liked(old_vector, -1)
        if new is not None and new >= LIKED_MIN_RATING:
            self.liked(new_vector, +1)

    @property
    def empty(self) -> bool:
        return self.count == 0 and self.total == 0.0 and self.audience_size == 0 and self.audience is None


def rating_total(avg: float | None, count: int) -> float:
    """The sum of a movie's ratings from its mean and count: exact, since ratings are half stars."""
    return round((avg or 0.0) * count * 2) / 2 if count else 0.0


def movie_statistics(count: int, total: float, global_mean: float, *, damping: float = DAMPING) -> dict:
    """num_ratings, avg_rating, damped_rating, popularity: the pipeline's formulas (pipeline/features.py)."""
    if count <= 0:
        return {"num_ratings": 0, "avg_rating": None, "damped_rating": None, "popularity": 0.0}
    return {
        "num_ratings": count,
        "avg_rating": total / count,
        "damped_rating": (total + damping * global_mean) / (count + damping),
        "popularity": math.log1p(count),
    }


def audience_sum(doc: dict, overall: np.ndarray) -> np.ndarray:
    """The sum of the liked-by users' vectors: kept on the movie once the API has written it, else
    derived from the pipeline's mean-minus-overall vector and size."""
    if doc.get("audience_sum") is not None:
        return np.asarray(doc["audience_sum"], dtype=np.float64)
    size = int(doc.get("audience_size") or 0)
    if not size or not doc.get("audience_vector"):
        return np.zeros(len(overall))
    return (np.asarray(doc["audience_vector"], dtype=np.float64) + overall) * size


def audience_fields(total: np.ndarray, size: int, overall: np.ndarray, updates: int) -> dict:
    """The audience fields of a movie: the vector is the liked-by mean minus the all-users mean (as the
    pipeline computes it, pipeline/als.py), so its product with an item vector is the lift."""
    if size <= 0:
        return {"audience_vector": None, "audience_size": 0, "audience_sum": None, "audience_updates": 0}
    vector = total / size - overall
    return {
        "audience_vector": [float(x) for x in vector],
        "audience_size": size,
        "audience_sum": [float(x) for x in total],
        "audience_updates": updates,
    }


def needs_refresh(updates: int, size: int, *, threshold: int, share: float) -> bool:
    """Recompute a movie's audience from the stored ratings once its approximate updates pass both a
    count and a share of its audience (a big audience tolerates more: each update moves its mean less)."""
    return updates >= threshold and updates >= share * size
