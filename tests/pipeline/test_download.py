"""The downloader against a local HTTP server (no internet here)."""

import hashlib
import http.server
import io
import threading
import zipfile

import pytest

from movierec.pipeline.download import DownloadError, download_dataset


def make_zip(name: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{name}/movies.csv", "movieId,title,genres\r\n1,Toy Story (1995),Animation\r\n")
        zf.writestr(f"{name}/ratings.csv", "userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n")
        zf.writestr(f"{name}/README.txt", "test")
    return buf.getvalue()


@pytest.fixture
def server():
    files: dict[str, bytes] = {}
    lie_about_length: set[str] = set()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            length = len(body) + (1000 if self.path in lie_about_length else 0)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", files, lie_about_length
    httpd.shutdown()


def test_download_verifies_md5_and_unpacks(server, tmp_path):
    base, files, _ = server
    body = make_zip("ml-latest")
    files["/ml-latest.zip"] = body
    files["/ml-latest.zip.md5"] = f"{hashlib.md5(body).hexdigest()}  ml-latest.zip\n".encode()
    seen = []
    target = download_dataset("ml-latest", tmp_path, base_url=base, progress=lambda d, t: seen.append((d, t)))
    assert (target / "movies.csv").is_file() and target.name == "ml-latest"
    assert seen[-1] == (len(body), len(body))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ml-latest"]


def test_checksum_mismatch_leaves_nothing_behind(server, tmp_path):
    base, files, _ = server
    files["/ml-25m.zip"] = make_zip("ml-25m")
    files["/ml-25m.zip.md5"] = b"MD5 (ml-25m.zip) = 00000000000000000000000000000000\n"
    with pytest.raises(DownloadError, match="md5 .* does not match the published 0000"):
        download_dataset("ml-25m", tmp_path, base_url=base)
    assert list(tmp_path.iterdir()) == []


def test_truncated_download_is_a_clear_error(server, tmp_path):
    base, files, lie = server
    files["/ml-32m.zip"] = make_zip("ml-32m")
    lie.add("/ml-32m.zip")
    with pytest.raises(DownloadError, match="ml-32m.zip"):
        download_dataset("ml-32m", tmp_path, base_url=base)
    assert list(tmp_path.iterdir()) == []


def test_corrupt_zip_is_rejected(server, tmp_path):
    base, files, _ = server
    body = b"PK\x03\x04 this is not really a zip"
    files["/ml-1m.zip"] = body
    files["/ml-1m.zip.md5"] = hashlib.md5(body).hexdigest().encode()
    with pytest.raises(DownloadError, match="not a valid zip"):
        download_dataset("ml-1m", tmp_path, base_url=base)
    assert list(tmp_path.iterdir()) == []


def test_missing_published_checksum_refuses(server, tmp_path):
    base, files, _ = server
    files["/ml-20m.zip"] = make_zip("ml-20m")
    with pytest.raises(DownloadError, match="refusing an unverified download"):
        download_dataset("ml-20m", tmp_path, base_url=base)


def test_unknown_name(tmp_path):
    with pytest.raises(DownloadError, match="unknown dataset 'ml-99m'"):
        download_dataset("ml-99m", tmp_path)
