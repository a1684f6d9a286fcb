"""Settings activations: where a partition's records switch settings version, and lookups."""

from __future__ import annotations

from services.replay.recorded_rules import RecordedSettings
from services.store.settings_activations import Activation, SettingsUse, new_activations


def use(offset: int, version: int, merchant: str = "m", partition: int = 0) -> SettingsUse:
    return SettingsUse("orders", partition, offset, merchant, version)


def test_first_use_of_a_key_activates_its_version() -> None:
    assert new_activations({}, [use(4, 1), use(5, 1)]) == [Activation("orders", 0, "m", 4, 1)]


def test_unchanged_version_adds_nothing() -> None:
    assert new_activations({("orders", 0, "m"): 2}, [use(7, 2), use(8, 2)]) == []


def test_each_change_in_offset_order_is_an_activation() -> None:
    uses = [use(12, 3), use(10, 2), use(11, 2), use(13, 3), use(14, 2)]
    assert new_activations({("orders", 0, "m"): 1}, uses) == [
        Activation("orders", 0, "m", 10, 2),
        Activation("orders", 0, "m", 12, 3),
        Activation("orders", 0, "m", 14, 2),
    ]


def test_keys_are_independent() -> None:
    uses = [use(1, 2, "a"), use(2, 1, "b"), use(3, 2, "a", partition=1)]
    assert new_activations({("orders", 0, "a"): 2}, uses) == [
        Activation("orders", 0, "b", 2, 1),
        Activation("orders", 1, "a", 3, 2),
    ]


RECORDED = RecordedSettings(
    activations={("orders", 0, "m"): ((0, 1), (5, 2), (9, 3))},
    next_offsets={0: 12, 1: 4},
)


def test_version_at_takes_last_activation() -> None:
    assert [RECORDED.version_at(("orders", 0, offset), "m") for offset in (0, 4, 5, 8, 9, 11)] == [
        1,
        1,
        2,
        2,
        3,
        3,
    ]


def test_version_at_unknown_cases() -> None:
    assert RECORDED.version_at(("orders", 0, 12), "m") is None
    assert RECORDED.version_at(("orders", 0, 3), "other") is None
    assert RECORDED.version_at(("orders", 1, 2), "m") is None
    assert RECORDED.count == 3


def test_version_at_before_first_activation() -> None:
    recorded = RecordedSettings({("orders", 0, "m"): ((3, 2),)}, {0: 10})
    assert recorded.version_at(("orders", 0, 2), "m") is None
    assert recorded.version_at(("orders", 0, 3), "m") == 2
