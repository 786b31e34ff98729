"""What the pipeline refuses to read or to publish, and how it says so."""

import json
import random
import zipfile

import pytest

from movierec.pipeline.download import unpack_dataset_zip
from movierec.pipeline.load import DatasetError, load_movielens
from movierec.pipeline.run import NotPublished, PipelineConfig, RunOptions, check_quality, run_pipeline
from movierec.search import indices

MOVIES = "movieId,title,genres\n" + "".join(f"{m},Movie {m} ({1990 + m % 20}),Drama|Comedy\n" for m in range(1, 31))


def dataset(folder, users=40, per_user=12, seed=7, header="userId,movieId,rating,timestamp", extra_rows=""):
    rnd = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movies.csv").write_text(MOVIES)
    rows = []
    for u in range(1, users + 1):
        for m in rnd.sample(range(1, 31), per_user):
            rows.append(f"{u},{m},{rnd.choice([3.0, 3.5, 4.0, 4.5, 5.0])},{1_000_000_000 + u * 100 + m}")
    (folder / "ratings.csv").write_text(header + "\n" + "\n".join(rows) + "\n" + extra_rows)
    return folder


@pytest.mark.spark
def test_a_reordered_header_is_read_by_name(spark, tmp_path):
    folder = tmp_path / "swapped"
    folder.mkdir()
    (folder / "movies.csv").write_text(MOVIES)
    (folder / "ratings.csv").write_text("movieId,userId,timestamp,rating\n7,1,964982703,4.5\n9,2,964982704,2.0\n")
    got = sorted(
        tuple(r) for r in load_movielens(spark, folder).ratings.select(*["userId", "movieId", "rating"]).collect()
    )
    assert got == [("1", "7", "4.5"), ("2", "9", "2.0")]


@pytest.mark.spark
def test_an_unknown_header_names_the_file_and_the_expected_columns(spark, tmp_path):
    folder = dataset(tmp_path / "d", header="user,item,score,ts")
    with pytest.raises(DatasetError) as info:
        load_movielens(spark, folder)
    message = str(info.value)
    assert str(folder / "ratings.csv") in message and "userId,movieId,rating,timestamp" in message
    assert "unknown: user, item, score, ts" in message


@pytest.mark.spark
@pytest.mark.es
def test_rejected_rows_keep_file_line_and_raw_text_and_ids_must_be_positive(spark, es, settings, tmp_path):
    bad = "-5,3,4.0,1000000001\n0,4,4.0,1000000002\n2,5,4.0,1000000003,surplus\n"
    folder = dataset(tmp_path / "d", extra_rows=bad)
    total_lines = len((folder / "ratings.csv").read_text().splitlines())
    report = run_pipeline(
        spark,
        PipelineConfig.of(settings),
        RunOptions(data=folder, evaluate=False, index=False),
        progress=lambda _: None,
    )
    (part,) = (settings.runs_dir / report.version / "rejected").glob("part-*.json")
    rows = [json.loads(line) for line in part.read_text().splitlines()]
    by_line = {r["line_no"]: r for r in rows if r["file"] == "ratings.csv"}
    assert by_line[total_lines - 2] == {
        "file": "ratings.csv",
        "line_no": total_lines - 2,
        "source": "ratings",
        "reason": "userId not positive",
        "line": "-5,3,4.0,1000000001",
    }
    assert by_line[total_lines - 1]["reason"] == "userId not positive"
    assert by_line[total_lines]["reason"] == "extra fields after the expected columns"
    # A valid user id is masked (rejected rows hold no personal data); file and line locate the row.
    assert by_line[total_lines]["line"] == "<userId>,5,4.0,1000000003,surplus"
    assert oct(part.stat().st_mode & 0o777) == "0o600"


@pytest.mark.spark
@pytest.mark.es
def test_a_ratings_file_with_only_its_header_is_a_named_error_and_publishes_nothing(spark, es, settings, tmp_path):
    folder = dataset(tmp_path / "d", users=0)
    with pytest.raises(DatasetError, match="yields no ratings of known movies after cleaning"):
        run_pipeline(spark, PipelineConfig.of(settings), RunOptions(data=folder, evaluate=False), es, lambda _: None)
    assert indices.serving_version(es, indices.IndexNames(settings.index_prefix)) is None


@pytest.mark.spark
@pytest.mark.es
@pytest.mark.slow
def test_a_version_far_smaller_than_the_serving_one_from_the_same_source_is_refused(spark, es, settings, tmp_path):
    config, names = PipelineConfig.of(settings), indices.IndexNames(settings.index_prefix)
    folder = dataset(tmp_path / "d", users=40)
    first = run_pipeline(spark, config, RunOptions(data=folder, evaluate=False), es, lambda _: None)
    dataset(folder, users=12)  # the same path, a truncated file
    with pytest.raises(NotPublished, match=r"users 12 \(serving: 40\).*--allow-shrink"):
        run_pipeline(spark, config, RunOptions(data=folder, evaluate=False), es, lambda _: None)
    assert indices.serving_version(es, names) == first.version
    allowed = run_pipeline(
        spark, config, RunOptions(data=folder, evaluate=False, allow_shrink=True), es, lambda _: None
    )
    assert allowed.published and indices.serving_version(es, names) == allowed.version


def test_a_model_below_the_popularity_baseline_is_not_published_without_force():
    metrics = {"als": {"ndcg": 0.10}, "popularity": {"ndcg": 0.15}}
    with pytest.raises(NotPublished, match="below the popularity baseline's 0.1500.*--force"):
        check_quality(metrics)
    check_quality(metrics, force=True)
    check_quality({"als": {"ndcg": 0.3}, "popularity": {"ndcg": 0.15}})


def test_a_zip_is_unpacked_and_a_plain_file_is_refused(tmp_path):
    folder = dataset(tmp_path / "ml-tiny")
    archive = tmp_path / "ml-tiny.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("movies.csv", "ratings.csv"):
            zf.write(folder / name, f"ml-tiny/{name}")
    unpacked = unpack_dataset_zip(archive, tmp_path / "out")
    assert unpacked == tmp_path / "out" / "ml-tiny" and (unpacked / "ratings.csv").is_file()
    not_zip = tmp_path / "notes.zip"
    not_zip.write_text("hello")
    with pytest.raises(DatasetError, match="not a readable zip file"):
        unpack_dataset_zip(not_zip, tmp_path / "out2")


def test_only_the_newest_run_folders_are_kept(tmp_path):
    from movierec.pipeline.run import prune_runs

    for name in ("v20260101000000-aaaa", "v20260102000000-bbbb", "v20260103000000-cccc", "v20260104000000-dddd"):
        (tmp_path / name / "rejected").mkdir(parents=True)
        (tmp_path / name / "checkpoints" / "rdd-1").mkdir(parents=True)
    deleted = prune_runs(tmp_path, keep=2)
    assert [p.name for p in deleted] == ["v20260101000000-aaaa", "v20260102000000-bbbb"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v20260103000000-cccc", "v20260104000000-dddd"]
    # A kept run's checkpoints (left by a run that failed) go too: they hold ALS blocks keyed by user id.
    assert [p.name for p in (tmp_path / "v20260104000000-dddd").iterdir()] == ["rejected"]
    assert prune_runs(tmp_path / "missing", keep=1) == []


@pytest.mark.spark
@pytest.mark.es
@pytest.mark.slow
def test_no_known_ratings_is_named_even_with_api_ratings_and_another_source_says_what_it_replaces(
    spark, es, settings, tmp_path
):
    from fastapi.testclient import TestClient

    from movierec.service.main import create_app

    config, names = PipelineConfig.of(settings), indices.IndexNames(settings.index_prefix)
    first_folder = dataset(tmp_path / "first")
    first = run_pipeline(spark, config, RunOptions(data=first_folder, evaluate=False), es, lambda _: None)
    with TestClient(create_app()) as client:  # an API rating the run would carry over
        assert client.post("/users/3/ratings", json={"movie_id": 2, "rating": 4.0}).status_code == 200
    unknown = dataset(tmp_path / "unknown", users=5)
    (unknown / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,500,4.0,1000000000\n2,501,3.0,1000000001\n"
    )
    with pytest.raises(DatasetError, match="no ratings of known movies after cleaning"):
        run_pipeline(spark, config, RunOptions(data=unknown, evaluate=False), es, lambda _: None)
    assert indices.serving_version(es, names) == first.version
    lines = []
    other = run_pipeline(spark, config, RunOptions(data=dataset(tmp_path / "other"), evaluate=False), es, lines.append)
    assert other.published
    assert any(line.startswith("[guards]") and f"replaces dataset {first_folder}" in line for line in lines), lines
