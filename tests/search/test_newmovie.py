import pytest

from movierec.search import newmovie
from movierec.search.newmovie import InvalidMovie, new_movie


def test_the_title_is_parsed_as_the_pipeline_parses_movies_csv():
    movie = new_movie("Matrix Reloaded, The (a.k.a. Matrix 2)", 2003, ["sci-fi", "Action"])
    assert (movie.title, movie.original_title, movie.year) == (
        "The Matrix Reloaded",
        "Matrix Reloaded, The (a.k.a. Matrix 2)",
        2003,
    )
    assert movie.alt_titles == ["Matrix 2"] and movie.genres == ["Sci-Fi", "Action"]
    assert new_movie("Heat (1995)").year == 1995
    assert movie.key == "the matrix reloaded|2003"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"title": "  ?!  "}, "no letters or digits"),
        ({"title": "x" * 10_000}, "at most 300"),
        ({"title": "Foo", "year": 1200}, "outside 1870..2100"),
        ({"title": "Foo (1999)", "year": 2000}, "says 1999"),
        ({"title": "Foo", "genres": ["Scifi"]}, "unknown genre 'Scifi'"),
        ({"title": "Foo", "imdb": "nm123"}, "imdb_id"),
    ],
)
def test_bad_movies_name_the_rule(kwargs, message):
    with pytest.raises(InvalidMovie, match=message):
        new_movie(**kwargs)


def test_new_genres_must_be_named_twice():
    assert new_movie("Foo", genres=["Solarpunk"], new_genres=["solarpunk"]).genres == ["Solarpunk"]


def test_ids_start_far_above_movielens_and_stop_at_the_integer_limit():
    assert newmovie.added_id(1) == 1_000_000_000 and newmovie.is_added_id(1_000_000_000)
    assert not newmovie.is_added_id(292_757)
    with pytest.raises(InvalidMovie, match="exhausted"):
        newmovie.added_id(2**31)


def test_the_document_has_the_pipelines_fields_with_empty_statistics():
    doc = newmovie.movie_document(
        new_movie("Amélie 2", 2030), 1_000_000_000, "v1", item_vector=[1.0], audience_vector=None
    )
    assert doc["title_norm"] == "amelie 2" and doc["suggest"]["input"] == ["amelie 2"]
    assert doc["num_ratings"] == 0 and doc["popularity"] == 0.0 and "avg_rating" not in doc
    assert doc["vector_source"] == "content" and doc["source"] == "api"
