"""Projections of contract settings: one row per setting, its value as the event's JSON arguments.

TradeEscrow's oracle thresholds per kind, its windows and allowed tokens, and Receivables'
grace period. Values keep the stored JSON form of the arguments (wide integers as decimal
strings, ``Page.json_args``); a setting of one value is stored as that value.
"""

from __future__ import annotations

from ledger.index.projections.projector import Event, Page, Touch, on


def _setting_name(log: Event) -> str:
    a = log.args
    if log.event == "ThresholdSet":
        return f"threshold:{a['kind']}"
    if log.event == "TokenAllowed":
        return f"tokenAllowed:{a['token']}"
    return {"WindowsSet": "windows", "GracePeriodSet": "gracePeriod"}[log.event]


def _setting(log: Event) -> list[Touch]:
    return [("settings", (log.contract, _setting_name(log)))]


def _set(page: Page, log: Event) -> None:
    value = {k: v for k, v in page.json_args(log).items() if k not in ("admin", "kind", "token")}
    if log.event in ("ThresholdSet", "TokenAllowed", "GracePeriodSet"):
        (value,) = value.values()
    page.get_or_create("settings", (log.contract, _setting_name(log)), dict)["value"] = value


for _contract, _event in (
    ("TradeEscrow", "ThresholdSet"),
    ("TradeEscrow", "WindowsSet"),
    ("TradeEscrow", "TokenAllowed"),
    ("Receivables", "GracePeriodSet"),
):
    on(_contract, _event, _setting)(_set)
