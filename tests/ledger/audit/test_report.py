"""The replay report as JSON: a finding's values keep uint256s exact for any reader."""

from __future__ import annotations

import json

from ledger.audit.report import Kind, Location, Mismatch


def test_a_findings_amounts_cross_json_as_decimal_strings_and_its_location_as_numbers() -> None:
    huge = 2**256 - 1
    mismatch = Mismatch(
        Kind.VIEW,
        Location(block=7, contract="Receivables", view="pieceOf", key="3"),
        expected={"faceValue": huge, "holder": b"\x01" * 20, "defaulted": False},
        actual=[huge - 1, 2**53 + 1],
        detail="faceValue differs",
    )

    written = json.loads(json.dumps(mismatch.as_dict()))

    assert written["expected"] == {"faceValue": str(huge), "holder": "0x" + "01" * 20, "defaulted": False}
    assert written["actual"] == [str(huge - 1), "9007199254740993"]  # a JavaScript number would round it
    assert written["location"] == {"block": 7, "contract": "Receivables", "view": "pieceOf", "key": "3"}
    assert str(huge) in str(mismatch)  # the printed line shows the number as a number
    assert f"'{huge}'" not in str(mismatch)
