"""A local Roblox Open Cloud for the schema fuzzer and `make dev`: answers
place publishing (POST /universes/v1/{universe}/places/{place}/versions)
after checking what Roblox checks: the x-api-key, the version type, an XML
place file (application/xml, starting <roblox), at most 10 MiB. Any
universe and place are accepted. tests/api/roblox.rs has the same Open
Cloud for the Rust tests.

Usage: fake_open_cloud.py PORT API_KEY
"""

import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

PORT, API_KEY = int(sys.argv[1]), sys.argv[2]
PATH = re.compile(r"^/universes/v1/(\d+)/places/(\d+)/versions$")
versions = {}


class OpenCloud(BaseHTTPRequestHandler):
    def answer(self, status, body, content_type="application/json"):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        url = urlsplit(self.path)
        matched = PATH.match(url.path)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        if not matched:
            return self.answer(404, {"message": "Not found"})
        if self.headers.get("x-api-key") != API_KEY:
            return self.answer(401, {"message": "Invalid API Key"})
        if url.query != "versionType=Published" or self.headers.get("content-type") != "application/xml":
            return self.answer(400, {"message": "Invalid request"})
        if length > 10 * 1024 * 1024 or not body.startswith(b"<roblox"):
            return self.answer(400, {"message": "Invalid file content."})
        place = matched.groups()
        versions[place] = versions.get(place, 0) + 1
        self.answer(200, {"versionNumber": versions[place]}, "text/plain")

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), OpenCloud).serve_forever()
