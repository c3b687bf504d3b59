"""schema_ahead: what the migration gate refuses."""

import pytest

from ansible_collections.maverick.rollback.plugins.filter.schema_ahead import schema_ahead

INIT = "20250101000000_init"
TAGS = "20250201000000_add_tags"
REVERT_TAGS = "20261127120000_revert_add_tags"
MOOD = "20250301000000_entry_mood_required"


@pytest.mark.parametrize("applied,known,expected", [
    ([INIT, TAGS], [INIT], [TAGS]),                                   # v2 schema, v1 code: refused
    ([INIT, TAGS], [INIT, TAGS], []),                                 # same schema
    ([INIT], [INIT, TAGS], []),                                       # code ahead of the schema: fine here
    ([INIT, TAGS, REVERT_TAGS], [INIT], []),                          # reverted: back to v1's schema
    ([INIT, TAGS, REVERT_TAGS], [INIT, TAGS], [REVERT_TAGS]),         # v2 code on a reverted schema: refused
    ([INIT, REVERT_TAGS], [INIT], [REVERT_TAGS]),                     # a revert without its migration: refused
    ([INIT, TAGS, "20240101000000_revert_add_tags"], [INIT], ["20240101000000_revert_add_tags", TAGS]),  # older: no pair
    ([INIT, TAGS, MOOD, REVERT_TAGS], [INIT], [MOOD]),                # only the reverted one cancels
    ([INIT, TAGS, REVERT_TAGS, "20261128000000_revert_add_tags"], [INIT],
     ["20261128000000_revert_add_tags"]),                             # one revert cancels one migration
    ([], [], []),
])
def test_schema_ahead(applied, known, expected):
    assert schema_ahead(applied, known) == expected
