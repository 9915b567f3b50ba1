"""Files written whole or not at all (``forecast.files.replacing``)."""

from __future__ import annotations

import pytest

from forecast.files import replacing


def test_a_file_is_replaced_whole_or_left_as_it_was(tmp_path):
    path = tmp_path / "folder" / "doc.json"
    with replacing(path) as partial:
        partial.write_text("first")
        assert not path.exists()  # nothing at the path until the block ends
    assert path.read_text() == "first"
    with pytest.raises(RuntimeError), replacing(path) as partial:
        partial.write_text("half of the sec")
        raise RuntimeError("the writer died")
    assert path.read_text() == "first"
    assert sorted(p.name for p in path.parent.iterdir()) == ["doc.json"]
