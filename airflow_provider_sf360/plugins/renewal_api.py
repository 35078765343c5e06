"""The renewal endpoint tasks call: one refresh-token redemption per credential, under the metadata-DB lock.

(Being written for issue 9.)
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
