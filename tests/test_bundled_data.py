import hashlib
import re

from tests.conftest import BUNDLED, SHARED, shared_dataset

EXPECTED_FILES = {"README.txt", "links.csv", "movies.csv", "ratings.csv", "tags.csv"}


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_bundled_files_match_the_checksums_in_sources_md():
    shared_dataset("ml-latest-small")
    text = (SHARED / "SOURCES.md").read_text()
    section = text.split("## ml-latest-small/")[1].split("\n## ")[0]
    expected = dict(re.findall(r"^\| ([\w.]+) \| \d+ \| \d+ \| ([0-9a-f]{64}) \|", section, re.MULTILINE))
    assert set(expected) == EXPECTED_FILES
    for name, digest in expected.items():
        assert sha256(BUNDLED / name) == digest, name


def test_bundled_checksum_file_is_current():
    # data/movielens/ml-latest-small.sha256 lets users verify the bundle without ../shared.
    listed = dict(
        line.split()[::-1] for line in (BUNDLED.parent / "ml-latest-small.sha256").read_text().splitlines() if line
    )
    assert set(listed) == EXPECTED_FILES
    for name, digest in listed.items():
        assert sha256(BUNDLED / name) == digest, name


def test_bundled_csvs_keep_their_crlf_line_endings():
    assert b"\r\n" in (BUNDLED / "movies.csv").read_bytes()[:200]
