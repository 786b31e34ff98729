"""The write path's pure rules: batch parsing, applying events, live statistics and audience sums."""

import json
import math

import numpy as np
import pytest

from movierec.search import live
from movierec.search.live import Event, MovieDelta, Outcome


def ndjson(*rows) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows).encode()


def test_ratings_must_be_half_stars_in_range():
    assert live.valid_rating(4.5) is None and live.valid_rating(0.5) is None and live.valid_rating(5) is None
    assert "grid" in live.valid_rating(3.7)
    assert "range" in live.valid_rating(5.5) and "range" in live.valid_rating(0)
    assert live.valid_rating(True) and live.valid_rating("4") and live.valid_rating(math.nan)


def test_a_malformed_ndjson_line_is_rejected_with_its_number_and_the_rest_parsed():
    body = ndjson(
        {"event_id": "a", "user_id": 7, "movie_id": 1, "rating": 4.0},
        "{not json",
        "",
        {"event_id": "b", "user_id": 7, "movie_id": 2, "rating": 3.3},
        {"event_id": "c", "user_id": 7, "movie_id": 3, "rating": 5, "timestamp": 964982703},
        {"event_id": "d", "user_id": 0, "movie_id": 3, "rating": 5},
        {"event_id": "", "user_id": 7, "movie_id": 3, "rating": 5},
        {"event_id": "e", "user_id": 7, "movie_id": 3, "rating": 5, "extra": 1},
    )
    events = live.parse_batch(body, max_events=100)
    assert [e.line for e in events] == [1, 2, 4, 5, 6, 7, 8]
    assert [e.outcome for e in events] == [None, "rejected", "rejected", None, "rejected", "rejected", "rejected"]
    assert "line 2 is not JSON" in events[1].reason
    assert "half-star grid" in events[2].reason and events[2].event_id == "b"
    assert events[3].date == 964982703 and events[3].rating == 5.0
    assert "user_id 0 is out of range" in events[4].reason
    assert "event_id" in events[5].reason and "unknown field(s): extra" in events[6].reason


def test_a_json_array_is_a_batch_too_and_size_and_syntax_are_checked():
    rows = [{"event_id": str(i), "user_id": 1, "movie_id": i + 1, "rating": 4} for i in range(3)]
    assert [e.movie_id for e in live.parse_batch(json.dumps(rows).encode(), max_events=3)] == [1, 2, 3]
    with pytest.raises(ValueError, match="at most 2 events"):
        live.parse_batch(json.dumps(rows).encode(), max_events=2)
    with pytest.raises(ValueError, match="malformed"):
        live.parse_batch(b"[{", max_events=2)
    with pytest.raises(ValueError, match="UTF-8"):
        live.parse_batch(b"\xff\xfe", max_events=2)


def test_events_are_applied_in_order_and_a_batch_sent_again_changes_nothing():
    entries = live.entries_of([{"movie_id": 1, "rating": 3.0, "date": 10}])
    batch = [
        Event(7, 1, 4.0, 20, "e1"),  # replaces the stored 3.0
        Event(7, 2, 5.0, 21, "e2"),
        Event(7, 2, 2.0, 22, "e3"),  # the same movie again in the batch: replaces e2
    ]
    changed = live.apply_events(entries, batch)
    assert [e.outcome for e in batch] == [Outcome.REPLACED, Outcome.APPLIED, Outcome.REPLACED]
    assert [e.previous for e in batch] == [3.0, None, 5.0]
    assert changed == {1, 2} and entries[2]["rating"] == 2.0 and entries[2]["event_ids"] == ["e2", "e3"]
    again = [Event(e.user_id, e.movie_id, e.rating, e.date, e.event_id) for e in batch]
    snapshot = json.dumps(entries, sort_keys=True)
    assert live.apply_events(entries, again) == set()
    assert [e.outcome for e in again] == [Outcome.DUPLICATE] * 3
    assert json.dumps(entries, sort_keys=True) == snapshot


def test_deletions_remove_and_a_missing_one_is_not_found():
    entries = live.entries_of([{"movie_id": 1, "rating": 3.0, "date": 10}])
    gone, missing = Event(7, 1, None), Event(7, 9, None)
    assert live.apply_events(entries, [gone, missing]) == {1}
    assert (gone.outcome, gone.previous, missing.outcome) == (Outcome.DELETED, 3.0, Outcome.NOT_FOUND)
    assert entries == {}


def test_event_ids_kept_per_rating_are_bounded():
    entries: dict = {}
    live.apply_events(entries, [Event(1, 1, 4.0, i, f"e{i}") for i in range(40)])
    assert entries[1]["event_ids"] == [f"e{i}" for i in range(40 - live.EVENT_IDS_KEPT, 40)]


def test_live_statistics_use_the_pipelines_formulas():
    ratings = [4.0, 3.5, 5.0, 0.5]
    mean = 3.6
    stats = live.movie_statistics(len(ratings), sum(ratings), mean)
    assert stats == {
        "num_ratings": 4,
        "avg_rating": sum(ratings) / 4,
        "damped_rating": (sum(ratings) + live.DAMPING * mean) / (4 + live.DAMPING),
        "popularity": math.log1p(4),
    }
    assert live.movie_statistics(0, 0.0, mean) == {
        "num_ratings": 0,
        "avg_rating": None,
        "damped_rating": None,
        "popularity": 0.0,
    }
    # The sum comes back exactly from a stored mean, however many half-star ratings it averages.
    many = [0.5 * (i % 10 + 1) for i in range(99_999)]
    assert live.rating_total(sum(many) / len(many), len(many)) == sum(many)


def test_a_delta_moves_the_count_the_sum_and_the_liked_audience():
    old_v, new_v = [1.0, 0.0], [0.0, 2.0]
    d = MovieDelta()
    d.change(None, 5.0, None, new_v)  # a new like
    assert (d.count, d.total, d.audience_size, list(d.audience)) == (1, 5.0, 1, [0.0, 2.0])
    d = MovieDelta()
    d.change(4.5, 3.0, old_v, new_v)  # dropped below 4: leaves the audience
    assert (d.count, d.total, d.audience_size, list(d.audience)) == (0, -1.5, -1, [-1.0, 0.0])
    d = MovieDelta()
    d.change(2.0, None, old_v, new_v)  # deleting a dislike: statistics only
    assert (d.count, d.total, d.audience_size, d.audience) == (-1, -2.0, 0, None)
    d = MovieDelta()
    d.change(None, 5.0, None, None)  # a user without a vector (no consent) counts, but joins no audience
    assert (d.count, d.audience_size, d.audience) == (1, 0, None)


def test_the_audience_sum_is_derived_from_the_pipelines_vector_and_kept_after():
    overall = np.array([0.1, -0.2, 0.3])
    liked = np.array([[1.0, 2.0, 3.0], [0.5, 0.0, -1.0]])
    fields = live.audience_fields(liked.sum(axis=0), 2, overall, 0)
    assert np.allclose(fields["audience_vector"], liked.mean(axis=0) - overall)
    pipeline_doc = {"audience_vector": fields["audience_vector"], "audience_size": 2}
    assert np.allclose(live.audience_sum(pipeline_doc, overall), liked.sum(axis=0))
    assert np.allclose(live.audience_sum(fields, overall), liked.sum(axis=0))
    assert live.audience_fields(np.zeros(3), 0, overall, 3)["audience_vector"] is None
    assert not live.audience_sum({}, overall).any()


def test_an_audience_is_refreshed_past_a_count_and_a_share_of_its_size():
    assert not live.needs_refresh(19, 10, threshold=20, share=0.2)
    assert live.needs_refresh(20, 100, threshold=20, share=0.2)
    assert not live.needs_refresh(20, 101, threshold=20, share=0.2)


def test_a_byte_order_mark_before_a_batch_is_not_data():
    row = {"event_id": "e1", "user_id": 1, "movie_id": 2, "rating": 4.0}
    for body in (json.dumps(row).encode(), json.dumps([row]).encode()):
        (event,) = live.parse_batch(b"\xef\xbb\xbf" + body, max_events=5)
        assert (event.outcome, event.user_id, event.movie_id) == (None, 1, 2)
