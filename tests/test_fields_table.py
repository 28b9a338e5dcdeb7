"""docs/fields.md is what the codecs make of their fixtures (tests/fields_table.py)."""

from __future__ import annotations

from .fields_table import DOC, document, records


def test_the_committed_field_table_is_what_the_codecs_make() -> None:
    assert DOC.read_text() == document(), "run: python -m tests.fields_table"


def test_a_field_the_venue_does_not_send_is_null_in_the_table() -> None:
    """Kraken's v2 ticker stream sends every field, Upbit's ticker stream no book: the table
    tells them apart."""
    recs, source = records("kraken", "ws")
    assert source == "recorded" and all(r.last is not None for r in recs)
    row = next(x for x in document().splitlines() if x.startswith("| upbit | ws |"))
    assert row.split(" | ")[3:7] == ["null"] * 4  # no book fields in Upbit's ticker stream
