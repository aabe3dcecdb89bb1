"""http(s) image URLs fetched by the filter (IMAGE_FETCH=on): a loopback image server, the
openai SDK, real Envoy (dynamic forward proxy cluster) and the emulator. Good images reach
Bedrock as inline bytes; bad ones are refused with a 400 that names the image, and then nothing
is sent to Bedrock."""

import base64
import json
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import openai
import pytest

from conftest import HAIKU, Gateway, gateway_env


def png(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes((x * 7 + y * 3) % 256 for x in range(width * 3)) for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


CAT = png(32, 24)
DOG = png(8, 8)
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
FETCH_TIMEOUT_MS = 1500
# name → (status, content type, body, delay in seconds)
FILES = {
    "/cat.png": (200, "image/png", CAT, 0),
    "/dog.png": (200, "image/png", DOG, 0),
    "/anim.gif": (200, "image/gif", GIF, 0),
    "/huge.png": (200, "image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 3_800_000, 0),
    "/page.html": (200, "text/html", b"<html>not an image</html>", 0),
    "/fake.png": (200, "image/png", b"this is plain text, not a PNG", 0),
    "/slow.png": (200, "image/png", CAT, 3),
}


def make_tls_files(directory):
    """A throwaway CA and a certificate for 'localhost' signed by it."""
    d = Path(directory)
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test image CA",
        "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", str(d / "host.key"), "-out", str(d / "host.csr"))
    (d / "san.ext").write_text("subjectAltName=DNS:localhost\n")
    run("x509", "-req", "-in", str(d / "host.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
        "-CAcreateserial", "-days", "2", "-extfile", str(d / "san.ext"), "-out", str(d / "host.pem"))
    return d


class ImageServer:
    """Loopback HTTP(S) server with good and bad images; remembers what it was asked."""

    def __init__(self, tls_dir=None):
        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}})
                status, kind, body, delay = FILES.get(self.path, (404, "text/plain", b"not found", 0))
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("content-type", kind)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls_dir:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls_dir / "host.pem", tls_dir / "host.key")
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path, host="127.0.0.1"):
        return f"http://{host}:{self.port}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def tls_dir():
    return make_tls_files(tempfile.mkdtemp(prefix="img-tls-"))


@pytest.fixture(scope="module")
def images():
    server = ImageServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def tls_images(tls_dir):
    server = ImageServer(tls_dir)
    yield server
    server.close()


@pytest.fixture(scope="module")
def fetching(emulator, tls_dir):
    """A gateway that fetches image URLs, with the loopback hosts explicitly allowed and the
    test CA trusted for https:// ones."""
    config = Path(tempfile.mkdtemp(prefix="img-")) / "plugin.json"
    config.write_text(json.dumps({"image_fetch_timeout_ms": FETCH_TIMEOUT_MS,
                                  "image_fetch_allowed_hosts": ["127.0.0.1", "localhost"]}))
    gw = Gateway(gateway_env(emulator, IMAGE_FETCH="on", PLUGIN_CONFIG_FILE=str(config),
                             CA_BUNDLE=str(tls_dir / "ca.pem")))
    yield gw
    gw.close()


@pytest.fixture(autouse=True)
def _fresh_image_log(images, tls_images):
    images.seen.clear()
    tls_images.seen.clear()


def image_part(url):
    return {"type": "image_url", "image_url": {"url": url, "detail": "auto"}}


def sent_images(emulator):
    """The image blocks of the last Converse request, as (format, bytes)."""
    body = emulator.runtime_requests()[-1]["body"]
    return [(block["image"]["format"], base64.b64decode(block["image"]["source"]["bytes"]))
            for message in body["messages"] for block in message["content"] if "image" in block]


def test_fetched_image_reaches_bedrock_as_exact_bytes(fetching, emulator, images):
    client = fetching.client()
    resp = client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": [
        {"type": "text", "text": "Describe it."}, image_part(images.url("/cat.png"))]}])
    assert resp.choices[0].message.content == "Echo: Describe it."
    assert sent_images(emulator) == [("png", CAT)]
    assert [s["path"] for s in images.seen] == ["/cat.png"]
    # The client's key is the gateway's business, never the image server's.
    assert "authorization" not in images.seen[0]["headers"]


def test_several_images_stream_and_formats_come_from_the_bytes(fetching, emulator, images):
    client = fetching.client()
    stream = client.chat.completions.create(model=HAIKU, stream=True, messages=[
        {"role": "user", "content": [{"type": "text", "text": "Compare."},
                                     image_part(images.url("/cat.png")), image_part(images.url("/anim.gif")),
                                     image_part(images.url("/dog.png")), image_part(images.url("/cat.png"))]}])
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Echo: Compare."
    assert sent_images(emulator) == [("png", CAT), ("gif", GIF), ("png", DOG), ("png", CAT)]
    assert sorted(s["path"] for s in images.seen) == ["/anim.gif", "/cat.png", "/dog.png"]


def test_responses_api_fetches_input_images(fetching, emulator, images):
    client = fetching.client()
    resp = client.responses.create(model=HAIKU, input=[{"role": "user", "content": [
        {"type": "input_text", "text": "What is this?"},
        {"type": "input_image", "image_url": images.url("/dog.png")}]}])
    assert resp.output_text == "Echo: What is this?"
    assert sent_images(emulator) == [("png", DOG)]


@pytest.mark.parametrize("path, expected", [
    ("/missing.png", "the server answered HTTP 404"),
    ("/page.html", "is not an image (content type 'text/html')"),
    ("/huge.png", "is larger than the 3750000-byte image limit"),
    ("/fake.png", "is not a PNG, JPEG, GIF or WebP image"),
    ("/slow.png", "could not be fetched"),
])
def test_bad_images_are_refused_and_nothing_is_forwarded(fetching, emulator, images, path, expected):
    client = fetching.client()
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=HAIKU, messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Look."}, image_part(images.url("/cat.png")),
                                         image_part(images.url(path))]}])
    body = err.value.body
    assert body["message"].startswith(f"messages[1]: the image at '{images.url(path)}'"), body
    assert expected in body["message"], body
    assert body["param"] == "messages[1].content[2]" and body["code"] == "invalid_image_url"
    assert emulator.runtime_requests() == []


def test_https_images_are_fetched_with_sni_and_a_checked_certificate(fetching, emulator, tls_images):
    client = fetching.client()
    url = tls_images.url("/cat.png").replace("http://127.0.0.1", "https://localhost")
    client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": [image_part(url)]}])
    assert sent_images(emulator) == [("png", CAT)]

    # The certificate names localhost, not 127.0.0.1: Envoy refuses the connection.
    emulator.reset()
    bad = tls_images.url("/cat.png").replace("http://", "https://")
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": [image_part(bad)]}])
    assert "could not be fetched" in err.value.body["message"], err.value.body
    assert emulator.runtime_requests() == []


def test_hosts_outside_the_allow_list_are_not_fetched(fetching, emulator, images):
    client = fetching.client()
    for url in [images.url("/cat.png", host="127.0.0.2"), images.url("/cat.png", host="[::1]"),
                "https://example.com/cat.png", "ftp://127.0.0.1/cat.png"]:
        with pytest.raises(openai.BadRequestError) as err:
            client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": [image_part(url)]}])
        assert err.value.body["code"] in ("unsupported_image_url",), err.value.body
        assert err.value.body["param"].startswith("messages[0]"), err.value.body
    assert images.seen == []
    assert emulator.runtime_requests() == []


def test_without_image_fetching_urls_are_refused_as_before(client, emulator, images):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": [
            image_part(images.url("/cat.png"))]}])
    assert "data: URL" in err.value.body["message"]
    assert images.seen == []
    assert emulator.runtime_requests() == []
