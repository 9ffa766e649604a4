"""A local Stripe for the schema fuzzer: answers the three endpoints the
payments function calls (customers, Checkout Sessions, Billing Portal
sessions) after checking what Stripe checks first: the secret key as a
bearer token, the pinned Stripe-Version, an Idempotency-Key, a form body,
and only parameters the endpoint knows. tests/api/payments.rs has the same
Stripe for the Rust tests.

Usage: fake_stripe.py PORT API_KEY API_VERSION
"""

import json
import sys
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

PORT, API_KEY, API_VERSION = int(sys.argv[1]), sys.argv[2], sys.argv[3]

ALLOWED = {
    "/v1/customers": {"name", "metadata[org_id]"},
    "/v1/checkout/sessions": {
        "mode", "customer", "line_items[0][price]", "line_items[0][quantity]", "success_url", "cancel_url",
        "client_reference_id", "metadata[org_id]", "subscription_data[metadata][org_id]",
    },
    "/v1/billing_portal/sessions": {"customer", "return_url"},
}
customers = {}


class Stripe(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def refuse(self, status, message):
        self.answer(status, {"error": {"type": "invalid_request_error", "message": message}})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
        if self.headers.get("authorization") != f"Bearer {API_KEY}":
            return self.refuse(401, "Invalid API Key provided")
        if self.headers.get("stripe-version") != API_VERSION or not self.headers.get("idempotency-key"):
            return self.refuse(400, "a version and an idempotency key are required")
        if not self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return self.refuse(400, "the body must be a form")
        if self.path not in ALLOWED:
            return self.refuse(404, "Unrecognized request URL")
        form = dict(parse_qsl(body, keep_blank_values=True))
        unknown = set(form) - ALLOWED[self.path]
        if unknown:
            return self.refuse(400, f"Received unknown parameter: {sorted(unknown)[0]}")
        if self.path == "/v1/customers":
            key = self.headers["idempotency-key"]
            customers.setdefault(key, f"cus_fuzz_{uuid.uuid4().hex[:14]}")
            return self.answer(200, {"id": customers[key], "object": "customer"})
        if self.path == "/v1/checkout/sessions":
            return self.answer(200, {"id": f"cs_fuzz_{uuid.uuid4().hex[:14]}", "object": "checkout.session",
                                     "url": "https://checkout.stripe.com/c/pay/fuzz", "expires_at": 1900000000})
        return self.answer(200, {"id": "bps_fuzz", "object": "billing_portal.session",
                                 "url": "https://billing.stripe.com/p/session/fuzz"})

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Stripe).serve_forever()
