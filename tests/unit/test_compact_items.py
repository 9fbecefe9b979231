"""The compact item store's encoding (infra/compact_items.py): every attribute type survives the round trip."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.compact_items import LEARN_AT, Codec, CompactItems

pytestmark = pytest.mark.disable_socket

EVERY_TYPE = {
    "pk": {"S": "T#1#STOCK"},
    "sk": {"S": "ünïcode ✓ and a lone \ud800 surrogate"},
    "n38": {"N": "12345678901234567890123456789012345678"},
    "small": {"N": "-0.00000000000000000000000000000000000001"},
    "big": {"N": "9.9999999999999999999999999999999999999E+125"},
    "b64": {"B": "AAEC/w=="},
    "raw": {"B": b"\x00\x01\x02\xff"},
    "ss": {"SS": ["a", "b", "c"]},
    "ns": {"NS": ["1", "2.5", "-3"]},
    "bs": {"BS": ["AAE=", "/w=="]},
    "raw_bs": {"BS": [b"\x00", b"\xff"]},
    "yes": {"BOOL": True},
    "no": {"BOOL": False},
    "nothing": {"NULL": True},
    "empty_s": {"S": ""},
    "list": {"L": [{"S": "x"}, {"N": "1"}, {"L": []}, {"M": {}}, {"NULL": True}]},
    "map": {"M": {"inner": {"M": {"deep": {"L": [{"SS": ["z"]}, {"B": b"\x07"}]}}, "n": {"N": "0"}}}},
}


def test_every_attribute_type_round_trips_raw_and_deflated() -> None:
    codec = Codec("pk", "sk")
    assert codec.unpack(codec.pack(EVERY_TYPE)) == EVERY_TYPE  # before the table has a dictionary
    for n in range(LEARN_AT[-1]):
        codec.pack({"pk": {"S": "T#1#STOCK"}, "sk": {"S": f"{n:08}"}, "name": {"S": "Round bar 50mm S355"}})
    blob = codec.pack(EVERY_TYPE)
    assert blob[0] == len(LEARN_AT)  # deflated against the last dictionary learnt
    assert codec.unpack(blob) == EVERY_TYPE


def test_blobs_made_with_an_older_dictionary_still_decode() -> None:
    codec = Codec("pk", None)
    blobs = []
    for n in range(LEARN_AT[-1] + 10):
        item = {"pk": {"S": f"item-{n}"}, "qty": {"N": str(n)}, "tags": {"SS": ["steel", f"t{n % 7}"]}}
        blobs.append((item, codec.pack(item)))
    assert {blob[0] for _, blob in blobs} == set(range(len(LEARN_AT) + 1))
    assert all(codec.unpack(blob) == item for item, blob in blobs)


def test_a_stored_record_is_a_fraction_of_its_json() -> None:
    codec = Codec("pk", "sk")
    record = {
        "pk": {"S": "T#38f2a03e-6035-4dd4-ad39-b41bdbb7dea0#STOCK"},
        "name": {"S": "Round bar 80mm S355"},
        "attributes": {"M": {"heat_code": {"S": "H-0002"}, "weight": {"N": "396.534"}}},
        "on_hand": {"N": "377"},
    }
    sizes = []
    for n in range(LEARN_AT[0] + 1):
        sizes.append(len(codec.pack(record | {"sk": {"S": f"4d19ee38-5c1d-56c7-a467-{n:012}"}})))
    assert sizes[-1] < sizes[0] / 2


def test_items_decode_to_moto_items_with_their_keys() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    codec = Codec("pk", "sk")
    attrs = EVERY_TYPE | {"sk": {"S": "ünïcode ✓"}}  # moto's own Item cannot size a lone surrogate
    item = Item(DynamoType(attrs["pk"]), DynamoType(attrs["sk"]), attrs)
    decoded = codec.decode(codec.encode(item))
    assert decoded == item
    assert decoded.hash_key == DynamoType(attrs["pk"]) and decoded.range_key == DynamoType(attrs["sk"])
    assert decoded.to_json() == item.to_json()
    decoded.attrs["n38"] = DynamoType({"N": "1"})  # a decoded item is a copy: changing it changes nothing stored
    assert codec.decode(codec.encode(item)).attrs["n38"] == DynamoType(EVERY_TYPE["n38"])


def test_number_keys_compare_by_value_as_dynamodb_does() -> None:
    from types import SimpleNamespace

    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    table = SimpleNamespace(hash_key_attr="id", range_key_attr=None, hash_key_type="N", range_key_type=None)
    items = CompactItems(table)
    items[DynamoType({"N": "1.0"})] = Item(DynamoType({"N": "1.0"}), None, {"id": {"N": "1.0"}, "v": {"S": "a"}})
    assert DynamoType({"N": "1"}) in items
    assert items[DynamoType({"N": "1"})].attrs["v"] == DynamoType({"S": "a"})
    assert len(items) == 1
    assert items.pop(DynamoType({"N": "2"}), None) is None
    del items[DynamoType({"N": "1"})]
    assert len(items) == 0


def streamed_table(codec: Codec) -> Any:
    """What a stream record reads of moto's table: its keys, its stream view and its items' codec."""
    from types import SimpleNamespace

    return SimpleNamespace(
        hash_key_attr="pk",
        range_key_attr="sk",
        stream_specification={"StreamViewType": "NEW_AND_OLD_IMAGES"},
        items=SimpleNamespace(codec=codec),
    )


def test_a_stream_record_round_trips_with_its_time_and_images() -> None:
    from datetime import timedelta

    from moto.core.utils import utcnow
    from moto.dynamodb.models.table import StreamRecord
    from moto.dynamodb.models.utilities import dynamo_json_dump

    from infra.compact_records import CompactRecord

    codec = Codec("pk", "sk")
    table = streamed_table(codec)
    for n in range(LEARN_AT[0]):  # the table has a dictionary: records are deflated against it
        codec.pack({"pk": {"S": "T#1#STOCK"}, "sk": {"S": f"{n:08}"}, "name": {"S": "Round bar 50mm S355"}})
    old = codec.decode(codec.pack({"pk": EVERY_TYPE["pk"], "sk": EVERY_TYPE["sk"]}))
    new = codec.decode(codec.pack(EVERY_TYPE))
    before = utcnow()

    record = CompactRecord.of(table, "MODIFY", old, new, 1100000000017454423009).to_json()

    # On the wire, what moto's own StreamRecord makes of the same change, but for its random id, its
    # clock and its estimate of the size.
    expected = StreamRecord(table, "NEW_AND_OLD_IMAGES", "MODIFY", old, new, 1100000000017454423009).record
    assert record["dynamodb"].pop("ApproximateCreationDateTime") - before < timedelta(seconds=5)
    assert record["dynamodb"].pop("SizeBytes") > 1000
    for changed in ("ApproximateCreationDateTime", "SizeBytes"):
        del expected["dynamodb"][changed]
    assert record.pop("eventID") != expected.pop("eventID")
    assert json.loads(dynamo_json_dump(record)) == json.loads(dynamo_json_dump(expected))


def test_fingerprints_rule_out_items_without_decoding_them() -> None:
    from infra.compact_items import fingerprint

    codec = Codec("pk", "sk", ("gsi1pk", "gsi2pk"))
    blob = codec.pack({"pk": {"S": "a"}, "sk": {"S": "b"}, "gsi2pk": {"S": "T#1#LOCATION#x"}})

    where = codec.print_slice("gsi2pk")
    assert where is not None and blob[where] == fingerprint({"S": "T#1#LOCATION#x"})
    assert blob[codec.print_slice("gsi1pk")] == bytes(4)  # no value: no fingerprint
    assert codec.print_slice("other") is None
    assert codec.unpack(blob) == {"pk": {"S": "a"}, "sk": {"S": "b"}, "gsi2pk": {"S": "T#1#LOCATION#x"}}


def test_a_hash_key_with_one_item_is_held_as_one_bytes_and_with_more_as_a_dict() -> None:
    from types import SimpleNamespace

    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    from infra.compact_items import _split

    table = SimpleNamespace(hash_key_attr="pk", range_key_attr="sk", hash_key_type="S", range_key_type="S")
    items = CompactItems(table)
    pk = DynamoType({"S": "T#1#LEDGER#a"})

    def put(sk: str, value: str) -> None:
        key = DynamoType({"S": sk})
        items[pk][key] = Item(pk, key, {"pk": pk.to_json(), "sk": {"S": sk}, "v": {"S": value}})

    put("m1", "first")
    put("m1", "first again")
    assert isinstance(items._data["T#1#LEDGER#a"], bytes)
    put("m2", "second")
    assert isinstance(items._data["T#1#LEDGER#a"], dict)
    assert [k.value for k in items[pk]] == ["m1", "m2"] and len(items[pk]) == 2
    assert items[pk][DynamoType({"S": "m1"})].attrs["v"] == DynamoType({"S": "first again"})

    del items[pk][DynamoType({"S": "m1"})]
    assert _split(items._data["T#1#LEDGER#a"])[0] == "m2" and DynamoType({"S": "m1"}) not in items[pk]
    with pytest.raises(KeyError):
        del items[pk][DynamoType({"S": "m1"})]
    assert [i.attrs["v"].value for i in items.values()[0].values()] == ["second"]
    del items[pk][DynamoType({"S": "m2"})]
    assert pk not in items and len(items) == 0 and list(items.blobs()) == []


@given(st.lists(st.one_of(st.text(), st.uuids().map(str), st.uuids().map(lambda u: u.hex))).map("".join))
def test_a_packed_key_unpacks_to_its_text(text: str) -> None:
    from infra.compact_keys import pack_key, unpack_key

    packed = pack_key(text)
    assert (unpack_key(packed) if isinstance(packed, bytes) else packed) == text


def test_keys_with_ids_are_kept_as_bytes_and_read_back_as_text() -> None:
    from types import SimpleNamespace

    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    from infra.compact_keys import pack_key

    ledger = "T#0b7a3a6e-2f51-4c3e-9a0e-1d2c3b4a5f60#LEDGER#4d19ee38-5c1d-56c7-a467-000000000001"
    assert isinstance(pack_key(ledger), bytes) and len(pack_key(ledger)) == 44
    table = SimpleNamespace(hash_key_attr="pk", range_key_attr="sk", hash_key_type="S", range_key_type="S")
    items = CompactItems(table)
    pk, sk = DynamoType({"S": ledger}), DynamoType({"S": "9f3c2b1a0e5d4c3b2a190817f6e5d4c3"})
    items[pk][sk] = Item(pk, sk, {"pk": pk.to_json(), "sk": sk.to_json()})

    assert [k.value for k in items] == [ledger]
    assert [k.value for k in items[pk]] == [sk.value]
    assert items[DynamoType({"S": ledger})][sk].attrs["pk"] == pk


@pytest.mark.parametrize(("kind", "sort_key"), [("N", "1.50"), ("B", "AAE="), ("S", "plain"), ("S", "ünïcode ✓")])
def test_a_hash_key_s_only_item_keeps_a_sort_key_of_any_type(kind: str, sort_key: str) -> None:
    from types import SimpleNamespace

    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    table = SimpleNamespace(hash_key_attr="pk", range_key_attr="sk", hash_key_type="S", range_key_type=kind)
    items = CompactItems(table)
    pk, sk = DynamoType({"S": "p"}), DynamoType({kind: sort_key})
    items[pk][sk] = Item(pk, sk, {"pk": pk.to_json(), "sk": sk.to_json(), "v": {"S": "x"}})

    assert list(items[pk]) == [sk] and sk in items[pk]
    assert items[pk][sk].attrs["v"] == DynamoType({"S": "x"})
    assert len(list(items.blobs())) == 1


@pytest.fixture
def spill() -> Any:
    """The process's spill file, for one test (the unit tier otherwise keeps blobs in memory)."""
    from infra import spill

    spill._spill[0] = spill.SpillFile()
    yield spill._spill[0]
    spill._spill[0] = None


def test_a_spilled_blob_keeps_its_fingerprints_in_memory_and_its_body_on_disk(spill: Any) -> None:
    from infra.compact_items import fingerprint

    codec = Codec("pk", "sk", ("gsi1pk",))
    for n in range(LEARN_AT[0]):
        codec.pack({"pk": {"S": "T#1#STOCK"}, "sk": {"S": f"{n:08}"}, "name": {"S": "Round bar 50mm S355"}})
    item = {**EVERY_TYPE, "gsi1pk": {"S": "T#1#LOCATION#x"}}
    written = spill.size()

    blob = codec.pack(item)

    assert len(blob) == 1 + 4 + 8  # which dictionary, the fingerprint, the body's place
    assert spill.size() > written  # the body went to the file
    assert blob[codec.print_slice("gsi1pk")] == fingerprint({"S": "T#1#LOCATION#x"})
    assert codec.unpack(blob) == item
    assert codec.decode(blob).attrs["sk"].value == item["sk"]["S"]


def test_a_place_reads_back_its_own_bytes_whatever_is_written_after(spill: Any) -> None:
    places = {spill.put(bytes([n]) * (n + 1)): bytes([n]) * (n + 1) for n in range(200)}
    assert all(spill.get(place) == data for place, data in places.items())


def test_a_body_too_long_for_a_place_stays_in_memory(spill: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(type(spill), "LENGTH_BITS", 4)  # bodies up to 15 bytes
    codec = Codec("pk", None)
    item = {"pk": {"S": "a"}, "name": {"S": "Round bar 50mm S355"}}

    blob = codec.pack(item)

    assert not blob[0] & 0x80 and item["name"]["S"].encode() in blob
    assert codec.unpack(blob) == item


def test_a_spilled_stream_record_reads_back_as_it_was_made(spill: Any) -> None:
    from infra.compact_records import CompactRecord

    codec = Codec("pk", "sk")
    table = streamed_table(codec)
    new = codec.decode(codec.pack(EVERY_TYPE))
    written = spill.size()

    record = CompactRecord.of(table, "INSERT", None, new, 7)

    assert spill.size() > written
    data = record.to_json()["dynamodb"]
    assert data["SequenceNumber"] == "7" and data["Keys"]["sk"] == EVERY_TYPE["sk"]
    assert data["NewImage"]["n38"] == EVERY_TYPE["n38"] and data["NewImage"]["ss"] == EVERY_TYPE["ss"]
