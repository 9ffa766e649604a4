"""How a Roblox game server signs its requests (docs/api.md, and the
generated game's Api.luau): X-Environment-Key names the environment,
X-Signature is hex HMAC-SHA256(secret, "{timestamp}.POST.{path}.{hex sha256(body)}")."""

import hashlib
import hmac
import time


def headers(key_id, secret, path, body, timestamp=None):
    """The headers of a POST of `body` (bytes) to `path`, signed at
    `timestamp` (unix seconds; now by default)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    message = f"{timestamp}.POST.{path}.{hashlib.sha256(body).hexdigest()}"
    signature = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return {"X-Environment-Key": key_id, "X-Timestamp": str(timestamp), "X-Signature": signature}
