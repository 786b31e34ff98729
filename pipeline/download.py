"""`movierec data download NAME`: fetch a MovieLens zip from GroupLens, verify it, unpack it.

Verification: the size the server announced, the sha256 pinned here where known, else the md5
GroupLens publishes next to each zip (`<name>.zip.md5`). The zip is unpacked into a temporary
folder and renamed into place only when complete, so a failed download leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx

from movierec.errors import Failed
from movierec.pipeline.load import DatasetError, detect_layout

GROUPLENS = "https://files.grouplens.org/datasets/movielens"
DATASETS = ("ml-latest-small", "ml-latest", "ml-100k", "ml-1m", "ml-10m", "ml-20m", "ml-25m", "ml-32m")
# Checksums we have verified ourselves (ml-latest-small: the 2018-09-26 release).
KNOWN_SHA256 = {"ml-latest-small": "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436"}
# Zip members' top folder when it differs from the dataset name.
TOP_FOLDER = {"ml-10m": "ml-10M100K"}


class DownloadError(Failed):
    pass


def progress_bar(name: str) -> Callable[[int, int | None], None]:
    def show(done: int, total: int | None) -> None:
        if total:
            filled = int(30 * done / total)
            sys.stderr.write(f"\r{name} [{'#' * filled}{'.' * (30 - filled)}] {done / 1e6:.1f}/{total / 1e6:.1f} MB")
        else:
            sys.stderr.write(f"\r{name} {done / 1e6:.1f} MB")
        sys.stderr.flush()

    return show


def download_dataset(
    name: str,
    dest: Path,
    *,
    base_url: str = GROUPLENS,
    progress: Callable[[int, int | None], None] | None = None,
    timeout: float = 60.0,
) -> Path:
    if name not in DATASETS:
        raise DownloadError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    dest = Path(dest)
    target = dest / name
    if target.is_dir():
        return target
    dest.mkdir(parents=True, exist_ok=True)
    zip_url = f"{base_url.rstrip('/')}/{name}.zip"
    part = dest / f".{name}.zip.part"
    staging = dest / f".{name}.unpacking"
    try:
        sha256, md5 = _fetch(zip_url, part, progress, timeout)
        _verify(name, zip_url, sha256, md5, base_url, timeout)
        _unpack(part, staging)
        top = staging / TOP_FOLDER.get(name, name)
        detect_layout(top if top.is_dir() else staging)
        (top if top.is_dir() else staging).rename(target)
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{zip_url}: the download is not a valid zip ({exc})") from exc
    except DatasetError as exc:
        raise DownloadError(f"{zip_url}: unpacked, but {exc}") from exc
    finally:
        part.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _fetch(url: str, part: Path, progress: Callable[[int, int | None], None] | None, timeout: float) -> tuple[str, str]:
    sha256, md5 = hashlib.sha256(), hashlib.md5()
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as resp:
            if resp.status_code != 200:
                raise DownloadError(f"{url}: HTTP {resp.status_code}")
            total = int(resp.headers["content-length"]) if "content-length" in resp.headers else None
            done = 0
            with part.open("wb") as out:
                for chunk in resp.iter_bytes(1 << 20):
                    out.write(chunk)
                    sha256.update(chunk)
                    md5.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
    except httpx.HTTPError as exc:
        raise DownloadError(f"{url}: download failed ({type(exc).__name__}: {exc})") from exc
    finally:
        if progress:
            sys.stderr.write("\n")
    if total is not None and done != total:
        raise DownloadError(f"{url}: truncated download, {done} of {total} bytes")
    return sha256.hexdigest(), md5.hexdigest()


def _verify(name: str, url: str, sha256: str, md5: str, base_url: str, timeout: float) -> None:
    if name in KNOWN_SHA256:
        if sha256 != KNOWN_SHA256[name]:
            raise DownloadError(f"{url}: sha256 {sha256} does not match the pinned {KNOWN_SHA256[name]}")
        return
    try:
        resp = httpx.get(f"{url}.md5", timeout=timeout, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise DownloadError(f"{url}.md5: cannot fetch the published checksum ({exc})") from exc
    if resp.status_code != 200:
        raise DownloadError(f"{url}.md5: HTTP {resp.status_code}; refusing an unverified download")
    published = resp.text.split()[0].lower() if resp.text.split() else ""
    # GroupLens writes either "<md5>  name.zip" or "MD5 (name.zip) = <md5>".
    if "=" in resp.text:
        published = resp.text.rsplit("=", 1)[1].strip().lower()
    if published != md5:
        raise DownloadError(f"{url}: md5 {md5} does not match the published {published}")


def _unpack(zip_path: Path, staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(zip_path) as archive:
        bad = archive.testzip()
        if bad is not None:
            raise DownloadError(f"{zip_path.name}: member {bad} is corrupt")
        for member in archive.namelist():
            if member.startswith("/") or ".." in Path(member).parts:
                raise DownloadError(f"{zip_path.name}: unsafe member path {member!r}")
        archive.extractall(staging)


def unpack_dataset_zip(zip_path: Path, into: Path) -> Path:
    """A MovieLens zip as downloaded from GroupLens (`--data ml-latest-small.zip`), unpacked under
    `into`: -> the folder inside it that holds the dataset."""
    try:
        _unpack(zip_path, into)
    except zipfile.BadZipFile as exc:
        raise DatasetError(f"{zip_path}: not a readable zip file ({exc})") from None
    except DownloadError as exc:
        raise DatasetError(str(exc)) from None
    for folder in sorted({into, *(p.parent for p in into.rglob("*") if p.is_file())}, key=lambda p: len(p.parts)):
        try:
            detect_layout(folder)
        except DatasetError:
            continue
        return folder
    raise DatasetError(f"{zip_path}: no MovieLens dataset inside (ratings.csv + movies.csv, .dat or ml-100k files)")
