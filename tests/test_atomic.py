"""mldrnet.io.atomic: the new content replaces the file whole, or the old file stays and no temporary is left."""

import stat

import pytest

from mldrnet.io.atomic import atomic_open, atomic_write_bytes, atomic_write_text


def test_writes_replace_the_file_with_shared_permissions(tmp_path):
    path = tmp_path / "sub" / "out.json"
    atomic_write_text(path, "first")
    assert atomic_write_bytes(path, b"second") == path
    assert path.read_bytes() == b"second"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["out.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "model.onnx"
    atomic_write_text(path, "old")
    with pytest.raises(RuntimeError):
        with atomic_open(path) as f:
            f.write(b"half a mod")
            raise RuntimeError("killed")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]
