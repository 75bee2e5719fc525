"""Evidence export: verifiable BagIt bundles of the encrypted records (see bundle.py).

Export: `export_bundle`; checking: `verify_bundle`; the headless USB trigger: `run_stick`.
"""

from controller.evidence.bundle import ExportResult, export_bundle
from controller.evidence.selection import Selection, parse_time
from controller.evidence.verify_bundle import BundleReport, verify_bundle

__all__ = [
    "BundleReport",
    "ExportResult",
    "Selection",
    "export_bundle",
    "parse_time",
    "verify_bundle",
]
