"""Which column holds what: roles, the English and German headers that name them, explicit mappings.

A *role* is what a metric needs from a file ("the customer id", "the order date", "the NPS answer").
:func:`map_columns` finds each role's column by its header (compared without case, spaces,
punctuation or umlaut spelling, so ``Kunden-ID``, ``kunden_id`` and ``KUNDENID`` are one name) or
takes it from an explicit mapping, and records how each was chosen so the user can check.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..metrics import KpiInputError
from ..metrics.catalog import ROLE_KINDS
from ..metrics.rules import Kind

__all__ = ["Role", "ROLES", "ColumnMap", "map_columns", "normalise_header", "is_generic_score_header"]


@dataclass(frozen=True)
class Role:
    """Something a metric reads from a file.

    ``kind`` is the engine's vocabulary (:data:`kpi_xl.metrics.rules.KINDS`), which says how values
    are parsed and checked: ``"id"`` (kept as text), ``"date"``, ``"amount"`` (money, not
    negative), ``"count"``, ``"score"`` (whole numbers on a survey scale) and ``"flag"`` (yes/no).
    """

    name: str
    kind: Kind
    label: str
    headers: tuple[str, ...]


def normalise_header(text: object) -> str:
    """Lower case, umlauts spelt out (ä -> ae, ß -> ss), accents and everything but a-z/0-9 dropped."""
    t = str(text).strip().lower()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        t = t.replace(a, b)
    t = unicodedata.normalize("NFKD", t).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", t)


def _role(name: str, label: str, *headers: str) -> Role:
    # The kind of value a role holds is the engine catalog's, not this module's.
    return Role(name, ROLE_KINDS[name], label, tuple(normalise_header(h) for h in headers))


# Order matters twice: roles listed first claim a header first (so "created" is a ticket date, not an
# order date), and within a role the earlier header wins when a file has several candidates.
ROLES: tuple[Role, ...] = (
    _role(
        "customer_id",
        "customer id",
        "customer_id",
        "customer",
        "customer_number",
        "customer_no",
        "client_id",
        "client",
        "user_id",
        "account_id",
        "member_id",
        "cust_id",
        "Kunden-ID",
        "Kundennummer",
        "Kundennr",
        "Kunden-Nr",
        "Kd-Nr",
        "KdNr",
        "Kunde",
        "Mitgliedsnummer",
    ),
    _role(
        "order_id",
        "order id",
        "order_id",
        "order_number",
        "order_no",
        "order",
        "invoice",
        "invoice_id",
        "invoice_number",
        "transaction_id",
        "Bestellnummer",
        "Bestell-ID",
        "Bestellung",
        "Auftragsnummer",
        "Rechnungsnummer",
        "Belegnummer",
    ),
    _role(
        "created",
        "ticket created",
        "created",
        "created_at",
        "created_date",
        "creation_date",
        "opened",
        "opened_at",
        "ticket_created",
        "submitted_at",
        "erstellt",
        "erstellt_am",
        "Erstelldatum",
        "eroeffnet",
        "angelegt",
        "angelegt_am",
        "Eingang",
        "Eingangsdatum",
    ),
    _role(
        "first_response",
        "first reply",
        "first_response",
        "first_response_at",
        "first_reply",
        "first_reply_at",
        "first_responded_at",
        "responded_at",
        "erste_antwort",
        "erste Antwort am",
        "Erstantwort",
        "beantwortet",
        "beantwortet_am",
    ),
    _role(
        "resolved",
        "resolved",
        "resolved",
        "resolved_at",
        "solved",
        "solved_at",
        "closed",
        "closed_at",
        "resolution_date",
        "geloest",
        "geloest_am",
        "geschlossen",
        "geschlossen_am",
        "erledigt",
        "erledigt_am",
    ),
    _role(
        "signup_date",
        "customer since",
        "signup_date",
        "signup",
        "signed_up",
        "start_date",
        "customer_since",
        "subscription_start",
        "joined",
        "registriert",
        "Registrierungsdatum",
        "Anmeldedatum",
        "Kunde seit",
        "Vertragsbeginn",
        "Startdatum",
    ),
    _role(
        "churn_date",
        "churned on",
        "churn_date",
        "churned_at",
        "churned_on",
        "end_date",
        "cancelled_at",
        "canceled_at",
        "cancellation_date",
        "subscription_end",
        "Kuendigungsdatum",
        "gekuendigt_am",
        "Kuendigung",
        "Vertragsende",
        "Enddatum",
    ),
    _role(
        "date",
        "order date",
        "date",
        "order_date",
        "purchase_date",
        "transaction_date",
        "invoice_date",
        "order_time",
        "timestamp",
        "Datum",
        "Bestelldatum",
        "Kaufdatum",
        "Rechnungsdatum",
        "Belegdatum",
        "Auftragsdatum",
    ),
    _role(
        "amount",
        "order amount",
        "amount",
        "order_value",
        "order_amount",
        "revenue",
        "sales",
        "total",
        "net_amount",
        "value",
        "dollar_value",
        "dollars",
        "price",
        "Betrag",
        "Umsatz",
        "Bestellwert",
        "Gesamtbetrag",
        "Summe",
        "Nettobetrag",
        "Bruttobetrag",
        "Wert",
        "Preis",
    ),
    _role(
        "nps_score",
        "NPS answer (0-10)",
        "nps",
        "nps_score",
        "likelihood_to_recommend",
        "ltr",
        "recommend",
        "recommendation",
        "would_recommend",
        "Weiterempfehlung",
        "Weiterempfehlungsbereitschaft",
        "Empfehlung",
        "NPS-Wert",
    ),
    _role(
        "csat_score",
        "satisfaction answer",
        "csat",
        "csat_score",
        "satisfaction",
        "satisfaction_score",
        "rating",
        "stars",
        "Zufriedenheit",
        "Bewertung",
        "Kundenzufriedenheit",
        "Sterne",
    ),
    _role(
        "ces_score",
        "effort answer",
        "ces",
        "ces_score",
        "effort",
        "customer_effort",
        "effort_score",
        "Aufwand",
        "Kundenaufwand",
    ),
    _role(
        "is_complaint",
        "is a complaint",
        "is_complaint",
        "complaint",
        "complaints",
        "Beschwerde",
        "ist_Beschwerde",
        "Reklamation",
    ),
    _role(
        "refunded",
        "refunded",
        "refunded",
        "is_refunded",
        "refund",
        "Erstattet",
        "Rueckerstattung",
        "erstattet_ja_nein",
    ),
    _role(
        "referred",
        "came through a referral",
        "referred",
        "is_referred",
        "referral",
        "via_referral",
        "geworben",
        "empfohlen",
        "Empfehlungskunde",
    ),
    _role(
        "converted",
        "referred lead converted",
        "converted",
        "purchased",
        "is_converted",
        "conversion",
        "konvertiert",
        "gekauft",
    ),
    _role(
        "units_sold",
        "units sold",
        "units_sold",
        "quantity",
        "qty",
        "units",
        "sold",
        "Menge",
        "Anzahl",
        "Stueck",
        "verkauft",
    ),
    _role(
        "units_returned",
        "units returned",
        "units_returned",
        "returned",
        "returns",
        "returned_units",
        "Retouren",
        "zurueckgegeben",
        "Retoure",
    ),
    _role(
        "engagements",
        "engagements",
        "engagements",
        "engagement",
        "interactions",
        "total_engagements",
        "Interaktionen",
    ),
    _role(
        "followers",
        "followers",
        "followers",
        "follower",
        "fans",
        "audience",
        "Abonnenten",
        "Follower",
    ),
    _role("reach", "reach", "reach", "impressions", "Reichweite", "Impressionen"),
)

ROLE_BY_NAME: dict[str, Role] = {r.name: r for r in ROLES}


@dataclass
class ColumnMap:
    """Role -> column header chosen in one file, with how each was chosen."""

    columns: dict[str, str] = field(default_factory=dict)
    how: dict[str, str] = field(default_factory=dict)

    def __contains__(self, role: str) -> bool:
        return role in self.columns

    def __getitem__(self, role: str) -> str:
        return self.columns[role]

    def get(self, role: str) -> str | None:
        return self.columns.get(role)

    def describe(self) -> list[str]:
        """Lines like ``customer id <- 'Kunden-ID' (recognised header)``."""
        return [
            f"{ROLE_BY_NAME[r].label if r in ROLE_BY_NAME else r} <- {c!r} ({self.how[r]})"
            for r, c in self.columns.items()
        ]


def _find_header(headers: Sequence[str], wanted: str) -> str | None:
    if wanted in headers:
        return wanted
    key = normalise_header(wanted)
    matches = [h for h in headers if normalise_header(h) == key]
    return matches[0] if matches else None


_SCORE_ROLES = ("nps_score", "csat_score", "ces_score")
_GENERIC_SCORE_HEADERS = frozenset(
    normalise_header(h)
    for h in ("score", "rating", "answer", "Bewertung", "Punkte", "Punktzahl", "Antwort", "Note", "Wert")
)


def is_generic_score_header(header: object) -> bool:
    """A header that names a score without saying which survey it answers ("Score", "Bewertung")."""
    return normalise_header(header) in _GENERIC_SCORE_HEADERS


def map_columns(
    headers: Iterable[object],
    *,
    mapping: Mapping[str, str] | None = None,
    roles: Iterable[str] | None = None,
    source: str = "the file",
) -> ColumnMap:
    """Choose a column for each role from the file's headers.

    Parameters
    ----------
    headers:
        The file's column headers, in file order.
    mapping:
        Explicit ``role -> header`` choices; they win over recognition. A header that is not in the
        file is an error listing the headers that are.
    roles:
        Limit recognition to these roles (default: all of :data:`ROLES`).
    source:
        File name for messages.

    Returns
    -------
    ColumnMap
        ``columns`` (role -> header) and ``how`` ("given", or "recognised header").

    Examples
    --------
    >>> m = map_columns(["Kunden-ID", "Datum", "Betrag"])
    >>> m.columns
    {'customer_id': 'Kunden-ID', 'date': 'Datum', 'amount': 'Betrag'}
    """
    heads = [str(h) for h in headers]
    wanted = list(roles) if roles is not None else [r.name for r in ROLES]
    out = ColumnMap()
    taken: set[str] = set()
    for role, header in (mapping or {}).items():
        if role not in ROLE_BY_NAME:
            raise KpiInputError(
                f"unknown column role {role!r}; roles are: {', '.join(ROLE_BY_NAME)}",
                argument="mapping",
                value=role,
            )
        found = _find_header(heads, header)
        if found is None:
            raise KpiInputError(
                f"{source}: no column {header!r} (given for {role}); the columns are: "
                f"{', '.join(map(repr, heads))}",
                argument="mapping",
                value=header,
            )
        out.columns[role] = found
        out.how[role] = "given"
        taken.add(found)
    normalised = {h: normalise_header(h) for h in heads}
    for role in ROLES:
        if role.name not in wanted or role.name in out.columns:
            continue
        for synonym in role.headers:
            hit = next((h for h in heads if h not in taken and normalised[h] == synonym), None)
            if hit is not None:
                out.columns[role.name] = hit
                out.how[role.name] = "recognised header"
                taken.add(hit)
                break
    # A bare "Score" or "Bewertung" column says nothing about which survey it answers. When only one
    # kind of score is asked for (e.g. `kpi-xl metric nps`), such a column answers it, and the
    # mapping report says it was a generic header so the user can check.
    missing_scores = [r for r in _SCORE_ROLES if r in wanted and r not in out.columns]
    if len(missing_scores) == 1 and not any(r in out.columns for r in _SCORE_ROLES):
        hit = next((h for h in heads if h not in taken and normalised[h] in _GENERIC_SCORE_HEADERS), None)
        if hit is not None:
            out.columns[missing_scores[0]] = hit
            out.how[missing_scores[0]] = "generic score header"
    return out
