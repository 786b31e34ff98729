"""Each MovieLens layout, from small fixture files written in the same format as GroupLens's."""

import pytest

from movierec.pipeline.clean import clean_movies, clean_ratings
from movierec.pipeline.load import DatasetError, detect_layout, load_movielens

pytestmark = pytest.mark.spark


def write(path, text, encoding="utf-8", newline="\n"):
    path.write_bytes(text.replace("\n", newline).encode(encoding))


def test_csv_layout_with_crlf_quotes_and_utf8(spark, tmp_path):
    write(
        tmp_path / "movies.csv",
        'movieId,title,genres\n1,"Matrix, The (1999)",Action|Sci-Fi\n'
        '2,"Amélie (Fabuleux destin d\'Amélie Poulain, Le) (2001)",Comedy\n'
        '3,"""Great Performances"" Cats (1998)",Musical\n',
        newline="\r\n",
    )
    write(
        tmp_path / "ratings.csv",
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,5.0,964981247\n",
        newline="\r\n",
    )
    write(tmp_path / "links.csv", "movieId,imdbId,tmdbId\n1,0133093,603\n2,0211915,\n", newline="\r\n")
    raw = load_movielens(spark, tmp_path)
    assert raw.layout == "csv"
    movies = {r.movieId: r for r in clean_movies(raw.movies, raw.links)[0].collect()}
    assert movies[1].title == "The Matrix" and movies[1].genres == ["Action", "Sci-Fi"]
    assert movies[2].title == "Amélie" and movies[2].alt_titles == ["Le Fabuleux destin d'Amélie Poulain"]
    assert movies[3].title == '"Great Performances" Cats'
    ratings = clean_ratings(raw.ratings)[0].collect()
    assert sorted((r.movieId, r.rating, r.timestamp) for r in ratings) == [(1, 4.0, 964982703), (2, 5.0, 964981247)]


def test_dat_layout_latin1(spark, tmp_path):
    write(
        tmp_path / "movies.dat", "1::Toy Story (1995)::Animation|Children's|Comedy\n2::Léon (1994)::Drama\n", "latin-1"
    )
    write(tmp_path / "ratings.dat", "1::1::5::978300760\n2::2::3::978302109\n")
    raw = load_movielens(spark, tmp_path)
    assert raw.layout == "dat"
    movies = {r.movieId: r for r in clean_movies(raw.movies)[0].collect()}
    assert movies[2].title == "Léon"
    assert movies[1].genres == ["Animation", "Children's", "Comedy"]
    assert clean_ratings(raw.ratings)[0].count() == 2


def test_100k_layout_tab_pipe_and_genre_flags(spark, tmp_path):
    flags = ["0"] * 19
    flags[3] = flags[4] = "1"  # Animation, Children
    write(
        tmp_path / "u.item",
        "1|Toy Story (1995)|01-Jan-1995||http://x|" + "|".join(flags) + "\n"
        "2|Cité des enfants perdus, La (1995)|01-Jan-1995||http://y|" + "|".join(["0"] * 19) + "\n",
        "latin-1",
    )
    write(tmp_path / "u.data", "196\t1\t3\t881250949\n186\t2\t3\t891717742\n")
    raw = load_movielens(spark, tmp_path)
    assert raw.layout == "100k"
    movies = {r.movieId: r for r in clean_movies(raw.movies)[0].collect()}
    assert movies[1].genres == ["Animation", "Children"]
    assert movies[2].title == "La Cité des enfants perdus" and movies[2].genres == []
    assert {r.userId for r in clean_ratings(raw.ratings)[0].collect()} == {196, 186}


def test_unknown_folder_names_what_it_expected(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DatasetError, match="is not a MovieLens folder.*notes.txt"):
        detect_layout(tmp_path)
