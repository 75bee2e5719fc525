"""The encrypted, sealed record store (see KEYS.md for keys, layout and formats).

Service side: `RecordWriter.open(data_dir, cfg)` then `append`, `add_media`, `flush`,
`enforce_retention`, `close`. Client side: `unlock_identity` then `HistoryReader`.
Checking: `verify_store`. Setting up: `initialise`.
"""

from controller.store.history import HistoryReader
from controller.store.identity import load_identity_file, unlock_identity
from controller.store.initialise import InitResult, initialise
from controller.store.records import KINDS, MediaRef, Record
from controller.store.verify import VerifyReport, verify_store
from controller.store.writer import RecordNotStored, RecordWriter, RetentionReport, Ticket

__all__ = [
    "KINDS",
    "HistoryReader",
    "InitResult",
    "MediaRef",
    "Record",
    "RecordNotStored",
    "RecordWriter",
    "RetentionReport",
    "Ticket",
    "VerifyReport",
    "initialise",
    "load_identity_file",
    "unlock_identity",
    "verify_store",
]
