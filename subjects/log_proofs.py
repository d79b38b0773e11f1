"""The transparency-log proofs a person is given with an erasure or objection receipt and an access
package: one inclusion proof (or "pending") for each audit event about the request and its receipt.

The views pass them to the receipt and package templates (compliance/_log_proofs.html); the access
package's builder can add ``package_file`` to the ZIP as ``log-proofs.json``.
"""

from __future__ import annotations

import json

from audit import receipts
from subjects.models import AccessPackage, ErasureReceipt, SubjectRequest


def receipt_proofs(
    *, request: SubjectRequest, receipt: ErasureReceipt | None
) -> list[receipts.EventProof]:
    """The proofs shown beside an erasure or objection receipt; none before there is a receipt."""
    if receipt is None:
        return []
    return receipts.proofs_about(request, receipt)


def package_proofs(*, package: AccessPackage) -> list[receipts.EventProof]:
    """The proofs shown with an access package: the events about its request."""
    return receipts.proofs_about(package.request)


def package_file(*, request: SubjectRequest) -> str:
    """``log-proofs.json`` for the ZIP: the proofs sequenced so far and how many are pending."""
    document = receipts.proofs_document(receipts.proofs_about(request))
    return json.dumps(document, ensure_ascii=False, indent=1)
