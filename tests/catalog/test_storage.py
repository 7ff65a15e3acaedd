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


def test_landing_deliveries_stay_put_on_a_local_landing_folder(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    (settings.landing_dir / "orders").mkdir(parents=True)
    (settings.landing_dir / "orders" / "orders.csv").write_text("id\n1\n")
    assert storage.deliver_landing(settings) == []


# --- On the cluster deployment's object store (integration) ---------------------


@pytest.fixture(scope="module")
def on_s3(tmp_path_factory: pytest.TempPathFactory):
    """The object store, the REST catalog on S3FileIO and Trino on native S3, on ports of their own."""
    from catalog import services
    from tests.conftest import SHARED_CACHE, TEST_CATALOG_PORT, TEST_TRINO_PORT

    home = tmp_path_factory.mktemp("s3-home")
    settings = load_settings(
        home=home, cache_dir=SHARED_CACHE, deployment="cluster",
        catalog={"port": TEST_CATALOG_PORT + 70}, trino={"port": TEST_TRINO_PORT + 70, "heap_gb": 2},
        object_store={"port": TEST_CATALOG_PORT + 71},
    )
    services.up(settings, only=["object-store", "rest-catalog", "trino"])
    try:
        yield settings
    finally:
        services.down(settings)


@pytest.mark.integration
def test_trino_writes_and_pyiceberg_reads_a_table_in_the_bucket_with_no_secret_on_disk(on_s3) -> None:
    from catalog import object_store
    from catalog.iceberg_catalog import iceberg_catalog
    from catalog.naming import TableName
    from catalog.trino_connection import trino_connection
    from ingestion.maintenance.facts import table_facts

    with trino_connection(on_s3) as connection:
        cursor = connection.cursor()
        # CREATE TABLE lists the new table's location first: S3Proxy once refused Trino's listing header.
        for sql in ("CREATE SCHEMA IF NOT EXISTS s3_check",
                    "CREATE TABLE s3_check.t AS SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v (id, name)",
                    "INSERT INTO s3_check.t VALUES (3, 'c')"):
            cursor.execute(sql)
            cursor.fetchall()
    table = iceberg_catalog(on_s3).load_table(("s3_check", "t"))
    assert table.metadata.location.startswith(f"s3://{on_s3.object_store.bucket}/warehouse/s3_check/")
    assert sorted(table.scan().to_arrow().to_pylist(), key=lambda row: row["id"]) == [
        {"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c"}]
    # Maintenance measures a table through its own file system: the bucket, not a local folder.
    stats = table_facts(table, TableName("s3_check", "t")).stats
    assert stats.data_files == 2 and stats.stored_files > 2 and stats.stored_bytes > 0
    secret = object_store.secret_access_key(on_s3)
    rendered = [path for path in on_s3.config_dir.rglob("*") if path.is_file()]
    assert rendered and not [path for path in rendered if secret in path.read_text(errors="replace")]


@pytest.mark.integration
def test_an_s3_landing_prefix_is_listed_like_a_landing_folder(on_s3, tmp_path: Path) -> None:
    import datetime as dt

    from ingestion.bronze import landing

    day = dt.date(2026, 1, 5)
    folder = tmp_path / "landing" / "orders" / day.isoformat()
    (folder / "nested").mkdir(parents=True)
    (folder / "orders.csv").write_bytes(b"id,amount\n1,10\n2,20")  # a last line without a line break
    (folder / "orders.json").write_text("{}\n")
    (folder / "nested" / "more.csv").write_text("id\n")
    (folder / "_SUCCESS").write_text("")
    location = f"s3://{on_s3.object_store.bucket}/landing-check"
    delivered = storage.deliver(on_s3, tmp_path / "landing", location)
    assert len(delivered) == 4
    # A later delivery copies only what is new.
    (folder / "late.csv").write_text("id\n3\n")
    assert storage.deliver(on_s3, tmp_path / "landing", location, skip=delivered) == [f"orders/{day}/late.csv"]
    (folder / "late.csv").unlink()
    storage.filesystem(on_s3, location).delete_file(f"{storage.fs_path(location)}/orders/{day}/late.csv")
    # The deployment's own landing folder goes to its landing prefix.
    (on_s3.landing_dir / "fx").mkdir(parents=True, exist_ok=True)
    (on_s3.landing_dir / "fx" / "rates.csv").write_text("day\n")
    assert storage.deliver_landing(on_s3) == ["fx/rates.csv"]
    assert storage.files_under(on_s3, f"{on_s3.landing_location}/fx") == [f"{storage.fs_path(on_s3.landing_location)}/fx/rates.csv"]

    listed = landing.list_day(location, "orders", day, "*.csv", filesystem=storage.filesystem(on_s3, location))
    (delivery,) = listed.files
    assert (delivery.path, delivery.lines, delivery.size) == (f"{location}/orders/{day}/orders.csv", 3, 19)
    assert {str(refused.path).rsplit("/", 1)[1]: refused.reason.split(":")[0] for refused in listed.refused} == {
        "nested": landing.SUBFOLDER, "orders.json": "does not match the delivery pattern *.csv"}
    assert landing.read_first_line(delivery.path, storage.filesystem(on_s3, location)) == b"id,amount\n"
