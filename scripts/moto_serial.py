"""moto's server, answering one request at a time.

moto runs a DynamoDB transaction by snapshotting the whole table and, when the
transaction is cancelled, restoring the snapshot. With requests served
concurrently, that restore silently drops every write other requests made in
between. DynamoDB itself is serializable, so the local endpoint serializes
requests to behave the same. Usage: moto_serial.py HOST PORT
"""

import os
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def serialized(app):
    lock = threading.Lock()

    def handle(environ, start_response):
        with lock:
            # Drain the body inside the lock: a lazy iterable would run the
            # backend after the lock is released.
            return list(app(environ, start_response))

    return handle


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, serialized(app), threaded=True)


if __name__ == "__main__":
    main()
