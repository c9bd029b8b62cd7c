"""The JSON API's shared schema helper: an object that admits exactly its properties."""

from core.api import closed_object


def test_a_closed_object_requires_its_properties_but_the_optional_ones_and_admits_no_others():
    schema = closed_object({"id": {"type": "integer"}, "review": {"type": "array"}}, optional=("review",))
    assert schema == {
        "type": "object",
        "required": ["id"],
        "properties": {"id": {"type": "integer"}, "review": {"type": "array"}},
        "additionalProperties": False,
    }
    assert closed_object({})["required"] == []
