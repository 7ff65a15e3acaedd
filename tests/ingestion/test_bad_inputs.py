"""The bad-input corpus (`tests/data/bad_inputs/manifest.yaml`) through Bronze and Silver on the real services.

Two generated days land first; the corpus's entries go into the second day's folders
beside the generated files, one entry per case, so `_source_file` traces every row to its
case. Both days then run as one catch-up batch per table, against a REST catalog of this
module's own. Each case is checked against the outcome its manifest entry states, and
every ingested corpus file must conserve its lines: its data lines (counted here from its
bytes) = its Bronze rows = accepted (its key in the Silver table) + quarantined.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyspark.sql import functions as F
from pyspark.sql import types as T

from catalog.naming import QUARANTINE, SILVER, TableName
from catalog.settings import LakehouseSettings, load_settings
from ingestion.bronze import BronzeError, ingest_landing_day, ingested_files
from ingestion.bronze.landing import RefusedFile
from ingestion.bronze.source_formats import LandingFormat, landing_format
from ingestion.pipeline import DayResult, run_day
from ingestion.synthetic import generate_sources
from tests.conftest import REPO_ROOT, TEST_CATALOG_PORT, own_rest_catalog

CORPUS = REPO_ROOT / "tests" / "data" / "bad_inputs"
CATALOG = "bad_inputs_it"
# Far from the other tests' dates; the corpus lands on DAY, generated data on both days.
FIRST_DAY, DAY = dt.date(2027, 6, 1), dt.date(2027, 6, 2)
# Enough generated orders that the corpus's quarantined orders keep the batch above the
# orders contract's error threshold (0.95): a failed audit would stop the run.
SCALE, SEED = 0.3, 27
ACCEPTED = "accepted"
HUGE_MARKER = b"@HUGE@"
# Bronze source -> (Silver table, key column): a line is accepted when its key is in the table.
SILVER_KEYS = {
    "web_sessions": ("sessions", "session_id"),
    "warehouse_orders": ("orders", "order_id"),
    "warehouse_customers": ("customers", "customer_id"),
    "crm_contacts": ("crm_contacts", "contact_id"),
}


def _contract_checks_in_place() -> bool:
    """Whether the Silver contracts have the row checks some reasons come from (length, scale, run-date range)."""
    from ingestion.contracts.contract import load_contracts

    descriptions = [check.description for check in load_contracts().table("orders").row_checks()]
    return all(any(text in d for d in descriptions) for text in ("is longer than", "decimal places", "holds control characters"))


NEEDS_CONTRACT_CHECKS = pytest.mark.xfail(
    not _contract_checks_in_place(), strict=True, reason="needs contract checks (ingestion/contracts/)"
)


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    name: str
    what: str
    expect: dict[str, Any]
    day: dt.date = DAY
    needs: str | None = None
    # How the entry is made (see the manifest's header); a stored file by default.
    text: str | None = None
    symlink: str | None = None
    fifo: bool = False
    subfolder: bool = False
    symlinked_day: bool = False
    huge: int = 0

    def content(self) -> bytes | None:
        """The bytes of a file the case lands, or None for a symlink, FIFO or folder (or a symlinked day)."""
        if self.symlink or self.fifo or self.subfolder or self.symlinked_day:
            return None
        raw = self.text.encode() if self.text is not None else (CORPUS / self.source / self.name).read_bytes()
        return raw.replace(HUGE_MARKER, b"x" * self.huge) if self.huge else raw

    def data_lines(self) -> int:
        """Lines that must become Bronze rows, counted from the bytes: all but a CSV header."""
        content = self.content() or b""
        lines = content.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        has_header = landing_format(load_settings(), self.source) is LandingFormat.CSV and lines
        return len(lines) - 1 if has_header else len(lines)


def load_cases() -> list[Case]:
    manifest = yaml.safe_load((CORPUS / "manifest.yaml").read_text())
    return [Case(**entry) for entry in manifest["cases"]]


CASES = load_cases()


def place(case: Case, landing_dir: Path, elsewhere: Path) -> Path:
    """Put the case's entry into its day folder; its path."""
    directory = landing_dir / case.source / case.day.isoformat()
    if case.symlinked_day:
        target = elsewhere / case.source / case.day.isoformat()
        target.mkdir(parents=True)
        (target / case.name).write_bytes(CASES_BY_ID["crlf"].content() or b"")
        directory.symlink_to(target, target_is_directory=True)
        return directory / case.name
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / case.name
    if case.symlink:
        path.symlink_to(case.symlink)
    elif case.fifo:
        os.mkfifo(path)
    elif case.subfolder:
        path.mkdir()
        (path / "sessions.csv").write_bytes(CASES_BY_ID["crlf"].content() or b"")
    else:
        path.write_bytes(case.content() or b"")
    return path


CASES_BY_ID = {case.id: case for case in CASES}


@dataclass
class Outcome:
    """What the run did with one landing entry."""

    path: str
    ingested: bool = False
    recorded: bool = False  # in the ingested-file ledger
    refused: str | None = None
    bronze_rows: int = 0
    lines: dict[int, str] = field(default_factory=dict)  # data line -> "accepted" | "quarantined: <reason>"
    silver: dict[str, Any] | None = None  # the accepted row's Silver values (single-line cases)
    error: str | None = None


@dataclass(frozen=True)
class CorpusRun:
    result: DayResult
    outcomes: dict[str, Outcome]  # by case id
    bronze_columns: dict[str, list[str]]
    silver_columns: dict[str, list[str]]


@pytest.fixture(scope="module")
def corpus(stack: LakehouseSettings, spark, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CorpusRun]:
    # `stack`: Bronze's add_files names its Parquet source in the session's default catalog.
    home = tmp_path_factory.mktemp("bad-inputs-home").resolve()
    with own_rest_catalog(spark, home, CATALOG, TEST_CATALOG_PORT + 30) as settings:
        landing_dir = settings.landing_dir.resolve()
        generate_sources(landing_dir, FIRST_DAY, 2, scale=SCALE, seed=SEED)
        paths = {case.id: str(place(case, landing_dir, home / "elsewhere")) for case in CASES}
        result = run_day(spark, settings, DAY, since=FIRST_DAY)
        outcomes = {case.id: Outcome(paths[case.id]) for case in CASES}
        for case in CASES:
            if "error" in case.expect:
                try:
                    ingest_landing_day(spark, settings, case.source, case.day)
                except BronzeError as error:
                    outcomes[case.id].error = str(error)
        _collect(spark, settings, result, outcomes)
        yield CorpusRun(
            result,
            outcomes,
            {b.source: spark.table(b.table).columns for b in result.bronze},
            {s: _silver(spark, settings, table).columns for s, (table, _) in SILVER_KEYS.items()},
        )


def _silver(spark, settings: LakehouseSettings, table: str):
    return spark.table(TableName(SILVER, table).sql(settings))


def _collect(spark, settings: LakehouseSettings, result: DayResult, outcomes: dict[str, Outcome]) -> None:
    by_path = {outcome.path: outcome for outcome in outcomes.values()}
    quarantine = spark.table(QUARANTINE.sql(settings)).where(F.col("_source_file").isin(*by_path))
    reasons = {(r["_source_file"], r["_line_number"]): r["reason"] for r in quarantine.collect()}
    for batch in result.bronze:
        recorded = {path for path, _ in ingested_files.ingested(spark, settings, batch.source, FIRST_DAY, DAY)}
        for path, outcome in by_path.items():
            if path.startswith(f"{settings.landing_dir.resolve()}/{batch.source}/"):
                outcome.ingested = path in batch.files_ingested
                outcome.recorded = path in recorded
                outcome.refused = next((r.reason for r in batch.files_refused if str(r.path) == path), None)
        if batch.source not in SILVER_KEYS:
            continue
        table, key = SILVER_KEYS[batch.source]
        bronze = spark.table(batch.table).where(F.col("_source_file").isin(*by_path))
        rows = bronze.select("_source_file", "_line_number", F.col(key).alias("_key")).collect()
        silver = _silver(spark, settings, table)
        keys = {row["_key"].strip() for row in rows if row["_key"] is not None}
        in_silver = silver.where(F.col(key).cast("string").isin(*keys)) if keys else silver.limit(0)
        silver_rows = {str(row[key]): row.asDict() for row in in_silver.collect()}
        for row in rows:
            outcome = by_path[row["_source_file"]]
            outcome.bronze_rows += 1
            reason = reasons.get((row["_source_file"], row["_line_number"]))
            accepted = silver_rows.get((row["_key"] or "").strip())
            outcome.lines[row["_line_number"]] = _line_outcome(reason, accepted is not None)
            outcome.silver = accepted or outcome.silver


def _line_outcome(reason: str | None, accepted: bool) -> str:
    if reason is not None:
        # Accepted as well would count the line twice: the conservation test reports it.
        return f"quarantined: {reason}" if not accepted else f"accepted and quarantined: {reason}"
    return ACCEPTED if accepted else "lost: neither accepted nor quarantined"


def test_the_corpus_has_at_least_40_cases_each_its_own_entry() -> None:
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)
    assert len({(case.source, case.day, case.name) for case in CASES}) == len(CASES)
    for case in CASES:
        assert len(case.expect.keys() - {"silver"}) == 1, case.id
        if case.content() is not None and "lines" in case.expect:
            assert len(case.expect["lines"]) == case.data_lines(), f"{case.id}: one expected outcome per data line"


def _cases(kind: str) -> list:
    return [
        pytest.param(case, id=case.id, marks=NEEDS_CONTRACT_CHECKS if case.needs == "contract_checks" else ())
        for case in CASES
        if kind in case.expect
    ]


@pytest.mark.integration
@pytest.mark.parametrize("case", _cases("lines"))
def test_an_ingested_file_has_the_expected_outcome_for_each_line(corpus: CorpusRun, case: Case) -> None:
    outcome = corpus.outcomes[case.id]
    assert (outcome.ingested, outcome.recorded, outcome.refused) == (True, True, None)
    first_data_line = 2 if landing_format(load_settings(), case.source) is LandingFormat.CSV else 1
    found = [outcome.lines.get(line, "lost") for line in range(first_data_line, first_data_line + case.data_lines())]
    assert len(outcome.lines) == len(found), f"rows beyond the file's lines: {sorted(outcome.lines)}"
    for number, (got, expected) in enumerate(zip(found, case.expect["lines"], strict=True), start=first_data_line):
        if " ~ " in expected:
            status, contained = expected.split(" ~ ", 1)
            assert got.startswith(f"{status}: ") and contained in got, f"line {number}: {got}"
        else:
            assert got == expected, f"line {number}"
    for column, value in case.expect.get("silver", {}).items():
        assert outcome.silver is not None and str(outcome.silver[column]) == str(value), column


@pytest.mark.integration
@pytest.mark.parametrize("case", _cases("refused"))
def test_an_entry_that_is_not_a_delivery_is_refused_reported_and_never_read(corpus: CorpusRun, case: Case) -> None:
    outcome = corpus.outcomes[case.id]
    assert outcome.refused == case.expect["refused"]
    assert (outcome.ingested, outcome.recorded, outcome.bronze_rows) == (False, False, 0)
    (batch,) = (batch for batch in corpus.result.bronze if batch.source == case.source)
    assert RefusedFile(Path(outcome.path), case.expect["refused"]) in batch.files_refused
    # Warned about once, in the run's warnings that `lakehouse run` prints and lineage carries.
    warning = f"{DAY} {batch.table}: refused {outcome.path}: {case.expect['refused']}"
    assert corpus.result.warnings.count(warning) == 1


@pytest.mark.integration
@pytest.mark.parametrize("case", _cases("ignored"))
def test_a_name_starting_with_a_dot_or_underscore_is_passed_over_silently(corpus: CorpusRun, case: Case) -> None:
    outcome = corpus.outcomes[case.id]
    assert (outcome.ingested, outcome.recorded, outcome.refused, outcome.bronze_rows) == (False, False, None, 0)
    assert not [warning for warning in corpus.result.warnings if outcome.path in warning]


@pytest.mark.integration
@pytest.mark.parametrize("case", _cases("error"))
def test_a_landing_that_must_not_be_read_stops_with_one_line(corpus: CorpusRun, case: Case) -> None:
    error = corpus.outcomes[case.id].error
    assert error is not None and "\n" not in error
    assert re.fullmatch(case.expect["error"], error), error


@pytest.mark.integration
def test_every_corpus_file_conserves_its_lines(corpus: CorpusRun) -> None:
    """Data lines = Bronze rows = accepted + quarantined, each line exactly once, for every ingested file."""
    ingested = [case for case in CASES if "lines" in case.expect]
    for case in ingested:
        outcome = corpus.outcomes[case.id]
        assert outcome.bronze_rows == case.data_lines() == len(outcome.lines), case.id
        assert all(got == ACCEPTED or got.startswith("quarantined: ") for got in outcome.lines.values()), (case.id, outcome.lines)
    for commit in corpus.result.silver:
        assert commit.rows_read == commit.rows_accepted + commit.rows_quarantined, commit.table


@pytest.mark.integration
def test_only_plausible_column_names_reached_bronze_and_silver(corpus: CorpusRun) -> None:
    """No header line or stray key became a column; additive drift did, in both layers."""
    plausible = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
    for layer in (corpus.bronze_columns, corpus.silver_columns):
        for table, columns in layer.items():
            assert [name for name in columns if not plausible.fullmatch(name)] == [], table
    assert "referrer" in corpus.bronze_columns["web_sessions"] and "referrer" in corpus.silver_columns["web_sessions"]
    assert "coupon_code" in corpus.silver_columns["warehouse_orders"]
    assert "linkedin_url" in corpus.silver_columns["crm_contacts"]
    assert "gift_wrap" not in corpus.bronze_columns["warehouse_orders"]


def test_silver_reads_drifted_columns_whatever_their_name(spark) -> None:
    """Silver quotes every Bronze column it reads: a name with a dot or backticks, left by an older
    Bronze, must not fail the batch with INVALID_ATTRIBUTE_NAME_SYNTAX."""
    from ingestion.contracts.contract import load_contracts
    from ingestion.silver.batch import cast_to_contract
    from ingestion.silver.entities import entity_of

    contract = load_contracts().table("crm_contacts")
    values = {
        "contact_id": "ct_1", "first_name": "Ada", "last_name": "L", "email": "a@x", "company": "C", "country": "GB",
        "created_at": "2027-06-02 10:00:00", "updated_at": "2027-06-02 10:00:00",
        "a.b": "1", "`x`": "2", "order_id;customer_id": "3",
        "_batch_id": "b", "_source_file": "/f", "_line_number": 1, "_raw_line": "l", "_record_hash": "h", "_parse_error": None,
    }
    schema = T.StructType(
        [T.StructField(name, T.IntegerType() if name == "_line_number" else T.StringType()) for name in values]
    )
    bronze = spark.createDataFrame([tuple(values.values())], schema)

    (typed,) = cast_to_contract(bronze, entity_of(load_settings(), "crm_contacts"), contract).collect()

    assert (typed["contact_id"], typed["a.b"], typed["`x`"], typed["order_id;customer_id"]) == ("ct_1", "1", "2", "3")
