import pytest

from movierec.pipeline.features import movie_stats, user_activity, with_movie_stats

pytestmark = pytest.mark.spark


@pytest.fixture
def ratings(spark):
    return spark.createDataFrame(
        [(1, 10, 5.0, 100), (1, 11, 3.0, 200), (2, 10, 4.0, 150), (3, 12, 5.0, 300)],
        "userId int, movieId int, rating double, timestamp long",
    )


@pytest.fixture
def movies(spark):
    return spark.createDataFrame(
        [(10, "A", ["Drama"]), (11, "B", ["Comedy"]), (12, "C", ["Drama", "War"]), (13, "Unrated", [])],
        "movieId int, title string, genres array<string>",
    )


def test_movie_stats_and_damped_mean(ratings):
    stats = {r.movieId: r for r in movie_stats(ratings, damping=2.0).collect()}
    global_mean = (5 + 3 + 4 + 5) / 4
    assert stats[10].num_ratings == 2 and stats[10].avg_rating == 4.5
    assert stats[12].damped_rating == pytest.approx((5 + 2 * global_mean) / 3)


def test_a_single_five_star_rating_does_not_rank_first(spark):
    rows = [(u, 1, 4.5 if u % 5 else 5.0, 0) for u in range(50)] + [(99, 2, 5.0, 0)]
    rows += [(u, 3, 2.0, 0) for u in range(50)]
    ratings = spark.createDataFrame(rows, "userId int, movieId int, rating double, timestamp long")
    stats = {r.movieId: r for r in movie_stats(ratings).collect()}
    assert stats[2].avg_rating == 5.0 > stats[1].avg_rating
    assert stats[1].damped_rating > stats[2].damped_rating


def test_unrated_movies_are_kept(ratings, movies):
    merged = {r.movieId: r for r in with_movie_stats(movies, movie_stats(ratings)).collect()}
    assert merged[13].num_ratings == 0 and merged[13].avg_rating is None


def test_user_activity(ratings, movies):
    users = {r.userId: r for r in user_activity(ratings, movies).collect()}
    assert users[1].num_ratings == 2 and users[1].avg_rating == 4.0
    assert (users[1].first_rating_ts, users[1].last_rating_ts) == (100, 200)
    assert users[1].favourite_genres == ["Drama"]  # only the movie rated above the user's mean
    assert users[3].rating_std == 0.0 and users[3].activity_level == "light"
