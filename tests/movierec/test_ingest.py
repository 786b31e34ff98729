"""`movierec ratings ingest FILE` on the real node: CSV and NDJSON through the write path that
POST /ratings:bulk uses, a summary per outcome with the rejected lines, idempotent, one-line errors."""

import itertools
import json

import pytest
from typer.testing import CliRunner

from movierec.cli import app
from movierec.search.indices import IndexNames
from tests.movierec.test_cli import one_line_error
from tests.service.test_users import forget
from tests.service.test_writes import little_rated_movies

_ids = itertools.count(970_001)  # users no other test module hands out


@pytest.fixture
def users(indexed):
    names = IndexNames(indexed.index_prefix)
    taken: list[int] = []

    def more(n):
        new = [next(_ids) for _ in range(n)]
        taken.extend(new)
        return new

    yield more
    for user_id in taken:  # erased through the write path: the movies' statistics are restored
        forget(indexed, names, user_id)


def write_events(path, rows, *, csv_format):
    """`rows`: (user, movie, rating, timestamp) tuples or raw lines (str), written as CSV or NDJSON."""
    if csv_format:
        lines = ["userId,movieId,rating,timestamp"]
        lines += [r if isinstance(r, str) else ",".join(str(x) for x in r) for r in rows]
    else:
        lines = [
            r
            if isinstance(r, str)
            else json.dumps({"event_id": f"e-{r[0]}-{r[1]}-{r[3]}", "user_id": r[0], "movie_id": r[1],
                             "rating": r[2], "timestamp": r[3]})
            for r in rows
        ]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def ingest(path):
    result = CliRunner().invoke(app, ["ratings", "ingest", str(path)])
    assert result.exit_code == 0, result.output
    summary, *listed = result.stdout.splitlines()
    return summary, listed


@pytest.mark.es
@pytest.mark.spark
@pytest.mark.parametrize("csv_format", [True, False], ids=["csv", "ndjson"])
def test_a_file_is_applied_with_a_result_per_outcome_and_a_second_run_changes_nothing(
    api, es, indexed, users, tmp_path, csv_format
):
    names = IndexNames(indexed.index_prefix)
    m1, m2 = (x["movie_id"] for x in little_rated_movies(es, names, 2, low=3, high=30))
    a, b = users(2)
    broken = f"{b},not-a-movie,4.0,1700000003" if csv_format else '{"event_id": "broken", "user_id"'
    rows = [
        (a, m1, 4.0, 1_700_000_000),
        (a, m2, 3.5, 1_700_000_001),
        (b, m1, 5.0, 1_700_000_002),
        broken,  # line 5 of the CSV (after the header), line 4 of the NDJSON
        (b, 99_999_999, 4.0, 1_700_000_004),  # no such movie
        (b, m2, 4.2, 1_700_000_005),  # off the half-star grid
        (a, m1, 2.0, 1_700_000_006),  # the same pair again: replaces a's 4.0
    ]
    path = tmp_path / ("events.csv" if csv_format else "events.ndjson")
    write_events(path, rows, csv_format=csv_format)
    first = 2 if csv_format else 1  # the file line of rows[0]
    before = {m: api.get(f"/movies/{m}").json() for m in (m1, m2)}

    summary, listed = ingest(path)
    assert summary == "applied 3, replaced 1, deleted 0, duplicate 0, rejected 3"
    assert len(listed) == 3
    assert listed[0].startswith(f"  rejected line {first + 3}")  # the malformed line, named by its number
    assert listed[1] == f"  rejected line {first + 4}: no movie with id 99999999"
    assert listed[2].startswith(f"  rejected line {first + 5}: rating 4.2 is not on the half-star grid")
    # Through the HTTP API: the statistics and the users' ratings hold exactly the applied events.
    after = {m: api.get(f"/movies/{m}").json() for m in (m1, m2)}
    n1, total1 = before[m1]["num_ratings"], before[m1]["avg_rating"] * before[m1]["num_ratings"]
    assert after[m1]["num_ratings"] == n1 + 2
    assert after[m1]["avg_rating"] == pytest.approx((total1 + 2.0 + 5.0) / (n1 + 2), rel=1e-12)
    assert after[m2]["num_ratings"] == before[m2]["num_ratings"] + 1
    stored = {u: api.get(f"/users/{u}/export").json()["ratings"] for u in (a, b)}
    assert sorted((r["movie_id"], r["rating"]) for r in stored[a]) == sorted([(m1, 2.0), (m2, 3.5)])
    assert [(r["movie_id"], r["rating"]) for r in stored[b]] == [(m1, 5.0)]

    again, listed_again = ingest(path)  # idempotent: every applied event is recognised
    assert again == "applied 0, replaced 0, deleted 0, duplicate 4, rejected 3" and len(listed_again) == 3
    assert {m: api.get(f"/movies/{m}").json() for m in (m1, m2)} == after
    assert {u: api.get(f"/users/{u}/export").json()["ratings"] for u in (a, b)} == stored


def test_a_missing_file_is_a_one_line_error_naming_it(tmp_path):
    missing = tmp_path / "nowhere.csv"
    assert one_line_error(CliRunner().invoke(app, ["ratings", "ingest", str(missing)])) == (
        f"error: {missing}: no such file\n"
    )


def test_a_directory_and_a_file_that_is_not_utf8_are_one_line_errors_naming_them(tmp_path):
    # (The tests run as root in CI, where a chmod 000 file stays readable: a directory is what cannot be read.)
    stderr = one_line_error(CliRunner().invoke(app, ["ratings", "ingest", str(tmp_path)]))
    assert stderr == f"error: {tmp_path}: is a directory, not a file of rating events\n"
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("userId,movieId,rating,timestamp\n1,1,4.0,0\n# Amélie\n".encode("latin-1"))
    stderr = one_line_error(CliRunner().invoke(app, ["ratings", "ingest", str(latin1)]))
    assert stderr == f"error: {latin1}: line 3 is not UTF-8; nothing was applied\n"


@pytest.mark.es
@pytest.mark.spark
def test_a_csv_with_a_byte_order_mark_keeps_its_header(api, es, indexed, users, tmp_path):
    """Spreadsheets save CSV with a UTF-8 byte-order mark; read as data it would hide `userId`."""
    names = IndexNames(indexed.index_prefix)
    (m,) = (x["movie_id"] for x in little_rated_movies(es, names, 1, low=3, high=30))
    (u,) = users(1)
    path = tmp_path / "excel.csv"
    write_events(path, [(u, m, 4.5, 1_700_000_000)], csv_format=True)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    summary, listed = ingest(path)
    assert summary == "applied 1, replaced 0, deleted 0, duplicate 0, rejected 0" and listed == []
    assert [(r["movie_id"], r["rating"]) for r in api.get(f"/users/{u}/export").json()["ratings"]] == [(m, 4.5)]
