"""moto's server, answering one request at a time, with transactions undone
from a log of the items they touch.

moto runs a DynamoDB transaction by deep-copying the whole table once per
item of the transaction and, when the transaction is cancelled, putting the
copy back. That has two costs here:

- With requests served concurrently, the restore silently drops every write
  other requests made in between. DynamoDB itself is serializable, so this
  server serializes requests to behave the same.
- Every transaction copies the whole table, so each is slower than the last
  and memory grows without bound (5.6 GB of RSS over one run of the API
  tests). Since requests are served one at a time, nothing but the
  transaction itself changes the table while it runs: keeping a copy of each
  item it touches, as it was before, is enough to undo it.

Usage: moto_serial.py HOST PORT
"""

import copy
import os
import sys
import threading

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
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


class _TablesNotCopied:
    """The `copy` module as moto's transaction code sees it, except that a
    table is not copied: its snapshot is the table itself, so moto's own
    restore puts back what is already there, and the undo log does the rest."""

    def deepcopy(self, value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def __getattr__(self, name):
        return getattr(copy, name)


def _touched_item(backend, operation):
    """`(table, hash, range)` of the item one transaction entry names, or
    None when it names none that exists in a form moto accepts (moto then
    refuses the transaction before writing anything)."""
    _, op = next(iter(operation.items()))
    table = backend.tables.get(op.get("TableName"))
    if table is None:
        return None
    key = op.get("Item") if "Item" in op else op.get("Key")
    if not isinstance(key, dict) or table.hash_key_attr not in key:
        return None
    range_value = None
    if table.range_key_attr is not None:
        if table.range_key_attr not in key:
            return None
        range_value = DynamoType(key[table.range_key_attr])
    return table, DynamoType(key[table.hash_key_attr]), range_value


def _restore(table, hash_value, range_value, before):
    if before is None:
        table.delete_item(hash_value, range_value)
    elif range_value is None:
        table.items[hash_value] = before
    else:
        table.items[hash_value][range_value] = before


def _transact_write_items(original):
    def transact_write_items(self, transact_items):
        undo = []
        for operation in transact_items:
            touched = _touched_item(self, operation)
            if touched is not None:
                table, hash_value, range_value = touched
                before = copy.deepcopy(table.get_item(hash_value, range_value))
                undo.append((table, hash_value, range_value, before))
        dynamodb_models.copy = _TablesNotCopied()
        try:
            return original(self, transact_items)
        except BaseException:
            # Newest first, so an item named twice ends as it was at the start.
            for table, hash_value, range_value, before in reversed(undo):
                _restore(table, hash_value, range_value, before)
            raise
        finally:
            dynamodb_models.copy = copy

    return transact_write_items


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    DynamoDBBackend.transact_write_items = _transact_write_items(DynamoDBBackend.transact_write_items)
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, serialized(app), threaded=True)


if __name__ == "__main__":
    main()
