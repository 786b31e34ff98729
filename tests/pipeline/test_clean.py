import pytest

from movierec.pipeline.clean import (
    DELETIONS_SCHEMA,
    LIVE_RATINGS_SCHEMA,
    CleaningReport,
    clean_movies,
    clean_ratings,
    drop_deleted_ratings,
    drop_unknown_movies,
    merge_live_ratings,
)

pytestmark = pytest.mark.spark


def raw_ratings(spark, rows):
    return spark.createDataFrame(rows, "userId string, movieId string, rating string, timestamp string")


def test_bad_ratings_are_rejected_with_reasons(spark):
    report = CleaningReport()
    ratings, rejected = clean_ratings(
        raw_ratings(
            spark,
            [
                ("1", "10", "4.0", "100"),
                ("1", "11", "7.5", "100"),  # out of range
                ("x", "10", "3.0", "100"),  # bad user id
                ("2", "10", "", "100"),  # missing rating
                ("2", "11", "3.0", "100"),  # older duplicate
                ("2", "11", "4.5", "200"),  # latest wins
                (" 3 ", "12", "0.5", "100"),  # padded ids are fine
            ],
        ),
        report,
    )
    got = {(r.userId, r.movieId): r.rating for r in ratings.collect()}
    assert got == {(1, 10): 4.0, (2, 11): 4.5, (3, 12): 0.5}
    reasons = sorted(r.reason for r in rejected.collect())
    assert reasons == [
        "duplicate (userId, movieId): older rating",
        "rating missing or not a number",
        "rating outside 0.5..5.0",
        "userId missing or not an integer",
    ]
    assert any(r.line == "1,11,7.5,100" for r in rejected.collect())
    assert report.counts["ratings rejected: rating outside 0.5..5.0"] == 1


def test_movies_are_parsed_split_and_linked(spark):
    raw = spark.createDataFrame(
        [
            ("1", "Matrix, The (1999)", "Action|Sci-Fi"),
            ("2", "Babylon 5", "(no genres listed)"),
            ("3", "Seven (a.k.a. Se7en) (1995)", "Crime|Crime"),
            ("oops", "Broken (2000)", "Drama"),
            ("4", "", "Drama"),
            ("5", "Emma (1996)", "Drama"),
            ("6", "Emma (1996)", "Romance"),  # the same title under two ids: both kept, counted
        ],
        "movieId string, title string, genres string",
    )
    links = spark.createDataFrame(
        [("1", "0133093", "603"), ("2", "0105946", "")], "movieId string, imdbId string, tmdbId string"
    )
    report = CleaningReport()
    movies, rejected = clean_movies(raw, links, report)
    got = {r.movieId: r for r in movies.collect()}
    assert got[1].title == "The Matrix" and got[1].year == 1999 and got[1].genres == ["Action", "Sci-Fi"]
    assert got[1].imdb_id == "tt0133093" and got[1].tmdb_id == "603"
    assert got[2].year is None and got[2].genres == [] and got[2].tmdb_id is None
    assert got[3].alt_titles == ["Se7en"] and got[3].genres == ["Crime"]
    assert sorted(r.reason for r in rejected.collect()) == ["movieId missing or not an integer", "title missing"]
    assert report.counts["movies no genres"] == 1
    assert report.counts["movies no year"] == 1
    assert got[5].title == got[6].title == "Emma"
    assert report.counts["movies sharing title and year with another id (kept)"] == 2


def test_ratings_of_unknown_movies_are_counted(spark):
    ratings, _ = clean_ratings(raw_ratings(spark, [("1", "1", "4", "1"), ("1", "99", "4", "1")]))
    movies = spark.createDataFrame([(1,)], "movieId int")
    report = CleaningReport()
    assert drop_unknown_movies(ratings, movies, report).count() == 1
    assert report.counts["ratings of unknown movieId (dropped)"] == 1


def test_live_ratings_join_the_file_ratings_and_the_latest_wins(spark):
    report = CleaningReport()
    files = spark.createDataFrame([(1, 10, 3.0, 100), (1, 11, 4.0, 100), (2, 10, 2.0, 500)], LIVE_RATINGS_SCHEMA)
    live = spark.createDataFrame(
        [
            (1, 11, 5.0, 200),  # the user changed their mind through the API: replaces the file's 4.0
            (2, 10, 4.5, 300),  # older than the file's rating for the pair: dropped
            (7, 10, 3.5, 400),  # a user only the API knows
            (1, 12, 1.0, 100),
        ],
        LIVE_RATINGS_SCHEMA,
    )
    merged = merge_live_ratings(files, live, report)
    got = {(r.userId, r.movieId): (r.rating, r.source) for r in merged.collect()}
    assert got == {
        (1, 10): (3.0, "movielens"),
        (1, 11): (5.0, "api"),
        (1, 12): (1.0, "api"),
        (2, 10): (2.0, "movielens"),
        (7, 10): (3.5, "api"),
    }
    assert report.counts == {
        "live ratings carried over": 3,
        "file ratings replaced by a later live rating": 1,
        "live ratings older than the file's (dropped)": 1,
    }


def test_no_live_ratings_leaves_the_file_ratings_alone(spark):
    files = spark.createDataFrame([(1, 10, 3.0, 100)], LIVE_RATINGS_SCHEMA)
    merged = merge_live_ratings(files, spark.createDataFrame([], LIVE_RATINGS_SCHEMA), CleaningReport())
    assert [tuple(r) for r in merged.collect()] == [(1, 10, 3.0, 100, "movielens")]


def test_deleted_ratings_stay_deleted_unless_given_again_later(spark):
    report = CleaningReport()
    ratings = spark.createDataFrame([(1, 10, 3.0, 100), (1, 11, 4.0, 100), (2, 10, 5.0, 900)], LIVE_RATINGS_SCHEMA)
    deletions = spark.createDataFrame([(1, 10, 500), (2, 10, 500)], DELETIONS_SCHEMA)
    kept = drop_deleted_ratings(ratings, deletions, report)
    assert sorted((r.userId, r.movieId) for r in kept.collect()) == [(1, 11), (2, 10)]  # (2, 10) was rated again
    assert kept.columns == ["userId", "movieId", "rating", "timestamp"]
    assert report.counts == {"ratings deleted through the API (dropped)": 1, "ratings of erased users (dropped)": 0}


def test_an_erased_user_loses_every_rating_given_before_the_erasure(spark):
    report = CleaningReport()
    ratings = spark.createDataFrame(
        [(1, 10, 3.0, 100), (1, 11, 4.0, 200), (1, 12, 5.0, 900), (2, 10, 5.0, 100)], LIVE_RATINGS_SCHEMA
    )
    erasure = spark.createDataFrame([(1, None, 500)], DELETIONS_SCHEMA)
    kept = drop_deleted_ratings(ratings, erasure, report)
    assert sorted((r.userId, r.movieId) for r in kept.collect()) == [(1, 12), (2, 10)]  # (1, 12) came after
    assert report.counts["ratings of erased users (dropped)"] == 2


def test_users_without_consent_get_no_vector(spark):
    from movierec.pipeline.consent import CONSENTS_SCHEMA, consented_vectors

    vectors = spark.createDataFrame([(1, [0.1]), (2, [0.2]), (3, [0.3])], "userId int, user_vector array<double>")
    consents = spark.createDataFrame([(1, False), (2, True)], CONSENTS_SCHEMA)
    opt_out = consented_vectors(vectors, consents, default=True)
    assert sorted(r.userId for r in opt_out.collect()) == [2, 3]  # 3 made no choice: the default applies
    assert opt_out.columns == ["userId", "user_vector"]
    assert [r.userId for r in consented_vectors(vectors, consents, default=False).collect()] == [2]


def test_a_duplicate_movie_id_keeps_the_first_title_and_rejects_the_others_with_their_lines(spark):
    raw = spark.createDataFrame(
        [("7", "Zed (2001)", "Drama"), ("7", "Alpha (2001)", "Drama|Drama|Comedy"), ("8", "Solo (1990)", "")],
        "movieId string, title string, genres string",
    )
    links = spark.createDataFrame(
        [("7", "12345678", " 42 "), ("7", "1", "1"), ("8", "tt1", "x")], "movieId string, imdbId string, tmdbId string"
    )
    report = CleaningReport()
    movies, rejected = clean_movies(raw, links, report)
    got = {r.movieId: r for r in movies.collect()}
    assert got[7].title == "Alpha" and got[7].genres == ["Drama", "Comedy"]
    assert (got[7].imdb_id, got[7].tmdb_id) == ("tt12345678", "42")  # 8 digits kept whole; the first link wins
    assert (got[8].imdb_id, got[8].tmdb_id, got[8].genres) == (None, None, [])
    assert [(r.source, r.reason, r.line) for r in rejected.collect()] == [
        ("movies", "duplicate movieId", "7,Zed (2001),Drama")
    ]
    assert report.counts["movies rejected: duplicate movieId"] == 1 and report.counts["movies no tmdb id"] == 1
