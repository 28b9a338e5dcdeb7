"""What every codec shares: sequence checks, currency renames, the venue id."""

from __future__ import annotations

import pytest

from aggregator.adapters.base import SequenceCheck
from aggregator.errors import SequenceGap, VenueError
from aggregator.symbols import currency, unify


def test_a_sequence_starts_at_its_first_number_and_then_steps_by_one() -> None:
    seqs = SequenceCheck()
    for seq in (7, 8, 9):
        seqs.check(seq)
    assert seqs.expected == {None: 10}


@pytest.mark.parametrize("seq", [11, 9, 3])
def test_a_number_out_of_step_is_a_gap_and_forgets_the_key(seq: int) -> None:
    seqs = SequenceCheck()
    seqs.start(9)
    with pytest.raises(SequenceGap, match=f"^sequence gap: expected 10, got {seq}$"):
        seqs.check(seq)
    assert None not in seqs.expected
    seqs.check(42)  # once forgotten, the next number starts the key afresh
    assert seqs.expected == {None: 43}


def test_keys_are_numbered_apart_and_a_gap_names_its_key() -> None:
    seqs = SequenceCheck()
    seqs.start(100, "BTC-USD")
    seqs.start(5, "ETH-USD")
    seqs.check(101, "BTC-USD")
    seqs.check(6, "ETH-USD")
    with pytest.raises(SequenceGap, match=r"^sequence gap on ETH-USD: expected 7, got 8$"):
        seqs.check(8, "ETH-USD")
    assert seqs.expected == {"BTC-USD": 102}
    assert issubclass(SequenceGap, VenueError)  # the runner renews the session on it


def test_a_key_that_needs_a_snapshot_first_has_a_gap_without_one() -> None:
    seqs = SequenceCheck()
    with pytest.raises(SequenceGap, match=r"^sequence gap on X: expected a snapshot, got 4$"):
        seqs.check(4, "X", snapshot_first=True)
    seqs.start(4, "X")
    seqs.check(5, "X", snapshot_first=True)
    seqs.forget("X")
    with pytest.raises(SequenceGap, match="expected a snapshot"):
        seqs.check(6, "X", snapshot_first=True)


def test_renames_apply_before_the_shared_aliases_whatever_the_case() -> None:
    renames = {"WAX": "WAXP", "KALT": "ALT", "OLD": "XBT"}
    assert unify("wax", "usdt", renames=renames) == "WAXP/USDT"
    assert unify("KALT", "Wax", renames=renames) == "ALT/WAXP"
    assert currency("old", renames=renames) == "BTC"  # a rename to an alias ends at the alias
    assert unify("XBT", "EUR") == "BTC/EUR"  # no renames: the shared aliases only
    assert unify("wax", "usdt") == "WAX/USDT"
