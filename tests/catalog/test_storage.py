from pathlib import Path

import pytest

from catalog import storage
from catalog.settings import load_settings


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("file:/w/silver/orders", "/w/silver/orders"),
        ("file:///w/silver/orders", "/w/silver/orders"),
        ("/w/silver/orders", "/w/silver/orders"),
        ("s3://lake/warehouse/silver/orders", "lake/warehouse/silver/orders"),
        ("s3a://lake/warehouse/silver/orders", "lake/warehouse/silver/orders"),
    ],
)
def test_every_spelling_of_a_location_gives_its_file_system_path(uri: str, path: str) -> None:
    assert storage.fs_path(uri) == path


def test_a_location_on_another_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="only local"):
        storage.fs_path("gs://bucket/key")


def test_files_under_a_local_folder_never_lists_or_follows_a_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.parquet").write_text("x")
    data = tmp_path / "table" / "data"
    (data / "day=1").mkdir(parents=True)
    (data / "day=1" / "a.parquet").write_text("a")
    (data / "linked-folder").symlink_to(outside, target_is_directory=True)
    (data / "linked-file.parquet").symlink_to(outside / "secret.parquet")
    settings = load_settings(home=tmp_path)
    assert storage.files_under(settings, (tmp_path / "table" / "data").as_uri()) == [str(data / "day=1" / "a.parquet")]
