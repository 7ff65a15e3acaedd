"""Bronze's pure transforms on tiny in-memory files (bytes in, rows out)."""

from __future__ import annotations

import datetime as dt
import hashlib

from pyspark.sql import types as T
from pyspark.testing import assertSchemaEqual

from ingestion.bronze.source_formats import LandingFormat
from ingestion.bronze.transform import (
    CsvHeader,
    json_columns,
    parse_csv,
    parse_csv_header,
    parse_json,
    parse_lines,
    split_lines,
    with_batch_metadata,
)

ORDERS_HEADER = CsvHeader(("order_id", "ship_city", "amount"))
INVALID_UTF8 = "invalid UTF-8: _raw_line holds the bytes read as ISO-8859-1"
NOT_AN_OBJECT = "not a JSON object (truncated or malformed JSON)"


def lines_of(spark, files: dict[str, bytes]):
    frame = spark.createDataFrame(
        [(name, bytearray(content)) for name, content in files.items()], "_source_file string, content binary"
    )
    return split_lines(frame)


def rows_by_line(frame) -> dict[tuple[str, int], dict]:
    return {(row["_source_file"], row["_line_number"]): row.asDict() for row in frame.collect()}


def orders_rows(spark, content: bytes) -> dict[tuple[str, int], dict]:
    """`content` as the file /l/o.csv with ORDERS_HEADER, parsed."""
    return rows_by_line(parse_csv(lines_of(spark, {"/l/o.csv": content}), ORDERS_HEADER))


def test_split_lines_numbers_physical_lines_and_keeps_their_bytes(spark):
    lines = lines_of(
        spark,
        {"/l/a.csv": b"h1,h2\n1,x\n\n2,caf\xe9\r\n", "/l/b.jsonl": b'{"k":1}\n{"k":2}', "/l/empty.jsonl": b""},
    )

    got = sorted((row["_source_file"], row["_line_number"], bytes(row["_raw_bytes"])) for row in lines.collect())

    assert got == [
        ("/l/a.csv", 1, b"h1,h2"),
        ("/l/a.csv", 2, b"1,x"),
        ("/l/a.csv", 3, b""),
        ("/l/a.csv", 4, b"2,caf\xe9\r"),
        ("/l/b.jsonl", 1, b'{"k":1}'),
        ("/l/b.jsonl", 2, b'{"k":2}'),
    ]


def test_good_csv_lines_become_string_columns_with_quotes_resolved(spark):
    content = b'order_id,ship_city,amount\n1,"Paris, 1er",10.50\n2,"say ""hi""",\n3,"",0012\n'

    rows = rows_by_line(parse_csv(lines_of(spark, {"/l/o.csv": content}), ORDERS_HEADER))

    assert {line: (r["order_id"], r["ship_city"], r["amount"], r["_parse_error"]) for (_, line), r in rows.items()} == {
        2: ("1", "Paris, 1er", "10.50", None),
        3: ("2", 'say "hi"', None, None),
        4: ("3", None, "0012", None),  # empty, quoted or not, is null: the sources' convention
    }
    assert rows[("/l/o.csv", 2)]["_raw_line"] == '1,"Paris, 1er",10.50'


def test_wrong_field_counts_are_kept_raw_with_the_reason(spark):
    content = b"order_id,ship_city,amount\n1,Lyon\n2,Lyon,3.00,extra\n"

    rows = rows_by_line(parse_csv(lines_of(spark, {"/l/o.csv": content}), ORDERS_HEADER))

    assert rows[("/l/o.csv", 2)]["_parse_error"] == "expected 3 CSV fields, found 2"
    assert rows[("/l/o.csv", 3)]["_parse_error"] == "expected 3 CSV fields, found 4"
    assert rows[("/l/o.csv", 3)]["_raw_line"] == "2,Lyon,3.00,extra"
    assert all(r["order_id"] is None and r["ship_city"] is None and r["amount"] is None for r in rows.values())


def test_unbalanced_quotes_are_unparseable(spark):
    rows = orders_rows(spark, b'order_id,ship_city,amount\n1,"Lyon,2.00\n')

    assert rows[("/l/o.csv", 2)]["_parse_error"] == "unbalanced quotes"


def test_invalid_utf8_is_flagged_and_its_bytes_kept(spark):
    line = b"7,S\xe3o Paulo,5.00"

    rows = orders_rows(spark, b"order_id,ship_city,amount\n" + line + b"\n")

    row = rows[("/l/o.csv", 2)]
    assert row["_parse_error"] == INVALID_UTF8
    assert row["_raw_line"] == "7,São Paulo,5.00"  # the Latin-1 bytes, one character each
    assert row["_raw_line"].encode("latin-1") == line
    assert row["_record_hash"] == hashlib.sha256(line).hexdigest()
    assert (row["order_id"], row["ship_city"], row["amount"]) == (None, None, None)


def test_an_empty_key_parses_and_stays_empty_for_silver_to_reject(spark):
    rows = orders_rows(spark, b"order_id,ship_city,amount\n,Lyon,1.00\n")

    row = rows[("/l/o.csv", 2)]
    assert (row["order_id"], row["ship_city"], row["amount"], row["_parse_error"]) == (None, "Lyon", "1.00", None)


def test_empty_lines_are_rows_with_an_error_in_both_formats(spark):
    csv_rows = orders_rows(spark, b"order_id,ship_city,amount\n\n")
    json_rows = rows_by_line(parse_json(lines_of(spark, {"/l/e.jsonl": b"\n"}), ["event_id"]))

    assert csv_rows[("/l/o.csv", 2)]["_parse_error"] == "empty line"
    assert json_rows[("/l/e.jsonl", 1)]["_parse_error"] == "empty line"


def test_a_crlf_line_end_stays_in_the_raw_line_but_not_in_the_values(spark):
    rows = orders_rows(spark, b"order_id,ship_city,amount\r\n1,Lyon,2.00\r\n")

    row = rows[("/l/o.csv", 2)]
    assert (row["amount"], row["_raw_line"], row["_parse_error"]) == ("2.00", "1,Lyon,2.00\r", None)


def test_json_values_become_strings_and_broken_lines_are_kept_raw(spark):
    content = (
        b'{"event_id":"e1","partition":3,"customer_id":null,"page":"/caf\xc3\xa9","extra":{"a":[1,2]}}\n'
        b'{"event_id":"e2","partit\n'
        b'{"event_id":"e3","page":"/caf\xe9"}\n'
        b"[1,2]\n"
        b'{"event_id":"e5","unknown":"x"}\n'
    )
    keys = ["event_id", "partition", "customer_id", "page", "extra"]

    rows = rows_by_line(parse_json(lines_of(spark, {"/l/e.jsonl": content}), keys))

    first = rows[("/l/e.jsonl", 1)]
    assert [first[key] for key in keys] == ["e1", "3", None, "/café", '{"a":[1,2]}']
    assert first["_parse_error"] is None
    assert {line: r["_parse_error"] for (_, line), r in rows.items() if line > 1} == {
        2: NOT_AN_OBJECT,
        3: INVALID_UTF8,
        4: NOT_AN_OBJECT,
        5: "keys not carried as columns: unknown",
    }
    assert rows[("/l/e.jsonl", 2)]["_raw_line"] == '{"event_id":"e2","partit'
    assert all(r["event_id"] is None for (_, line), r in rows.items() if line > 1)


def test_json_columns_are_the_keys_in_order_of_first_appearance(spark):
    files = {
        "/l/p1.jsonl": b'{"b":1,"a":2}\n{"broken":\n',
        "/l/p2.jsonl": b'{"a":1,"c":2,"_batch_id":"x","C":3}\n{"d":"\xe9"}\n',
    }

    # "broken" is in no complete object, "_batch_id" is a metadata name, "C" repeats "c", "d" is not UTF-8.
    assert json_columns(lines_of(spark, files)) == ["b", "a", "c"]


def test_a_json_line_with_a_key_bronze_cannot_carry_is_unparseable(spark):
    lines = lines_of(spark, {"/l/e.jsonl": b'{"a":1,"_batch_id":"x"}\n'})

    rows = rows_by_line(parse_json(lines, json_columns(lines)))

    assert rows[("/l/e.jsonl", 1)]["_parse_error"] == "keys not carried as columns: _batch_id"


def test_record_hash_is_the_sha256_of_the_line_bytes_wherever_it_landed(spark):
    line = b'{"event_id":"e1"}'
    lines = lines_of(spark, {"/l/d1.jsonl": line + b"\n", "/l/d2.jsonl": b'{"event_id":"e0"}\n' + line + b"\n"})

    rows = rows_by_line(parse_json(lines, ["event_id"]))
    again = rows_by_line(parse_json(lines, ["event_id"]))

    expected = hashlib.sha256(line).hexdigest()
    assert rows[("/l/d1.jsonl", 1)]["_record_hash"] == rows[("/l/d2.jsonl", 2)]["_record_hash"] == expected
    assert {key: r["_record_hash"] for key, r in rows.items()} == {key: r["_record_hash"] for key, r in again.items()}


def test_batch_metadata_columns_follow_the_source_columns(spark):
    parsed = parse_csv(lines_of(spark, {"/l/o.csv": b"order_id,ship_city,amount\n1,Lyon,2.00\n"}), ORDERS_HEADER)
    ingested_at = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)

    rows = with_batch_metadata(
        parsed, batch_id="b" * 64, landing_days={"/l/o.csv": dt.date(2026, 1, 1)}, ingested_at=ingested_at
    )

    expected_schema = T.StructType(
        [
            T.StructField("order_id", T.StringType()),
            T.StructField("ship_city", T.StringType()),
            T.StructField("amount", T.StringType()),
            T.StructField("_batch_id", T.StringType()),
            T.StructField("_source_file", T.StringType()),
            T.StructField("_line_number", T.IntegerType()),
            T.StructField("_ingested_at", T.TimestampType()),
            T.StructField("_ingest_date", T.DateType()),
            T.StructField("_record_hash", T.StringType()),
            T.StructField("_raw_line", T.StringType()),
            T.StructField("_parse_error", T.StringType()),
        ]
    )
    assertSchemaEqual(rows.schema, expected_schema, ignoreNullable=True)
    (row,) = rows.collect()
    assert row.asDict() == {
        "order_id": "1",
        "ship_city": "Lyon",
        "amount": "2.00",
        "_batch_id": "b" * 64,
        "_source_file": "/l/o.csv",
        "_line_number": 2,
        # The session renders timestamps in UTC (engine_config.spark_conf), as naive datetimes.
        "_ingested_at": dt.datetime(2026, 1, 2, 3, 4, 5),
        "_ingest_date": dt.date(2026, 1, 1),
        "_record_hash": hashlib.sha256(b"1,Lyon,2.00").hexdigest(),
        "_raw_line": "1,Lyon,2.00",
        "_parse_error": None,
    }


def test_each_row_gets_the_landing_day_of_its_own_file(spark):
    files = {"/l/2026-01-01/o.jsonl": b'{"order_id": "1"}\n', "/l/2026-01-03/o.jsonl": b'{"order_id": "2"}\n{"order_id": "3"}\n'}
    days = {"/l/2026-01-01/o.jsonl": dt.date(2026, 1, 1), "/l/2026-01-03/o.jsonl": dt.date(2026, 1, 3)}

    rows = with_batch_metadata(
        parse_json(lines_of(spark, files), ["order_id"]), batch_id="b" * 64, landing_days=days, ingested_at=dt.datetime.now(dt.UTC)
    )

    assert sorted((r["order_id"], r["_ingest_date"]) for r in rows.collect()) == [
        ("1", dt.date(2026, 1, 1)),
        ("2", dt.date(2026, 1, 3)),
        ("3", dt.date(2026, 1, 3)),
    ]


def test_a_column_added_by_the_source_appears_and_is_null_on_older_files(spark):
    files = {
        "/l/day4/orders.csv": b"order_id,amount\n1,2.00\n",
        "/l/day5/orders.csv": b"order_id,amount,coupon_code\n2,3.00,VIP20\n3,4.00,\n",
    }
    headers = {
        "/l/day4/orders.csv": CsvHeader(("order_id", "amount")),
        "/l/day5/orders.csv": CsvHeader(("order_id", "amount", "coupon_code")),
    }

    parsed = parse_lines(lines_of(spark, files), LandingFormat.CSV, csv_headers=headers)

    assert parsed.columns[:3] == ["order_id", "amount", "coupon_code"]
    assert sorted((r["order_id"], r["coupon_code"], r["_parse_error"]) for r in parsed.collect()) == [
        ("1", None, None),
        ("2", "VIP20", None),
        ("3", None, None),
    ]


def test_a_file_whose_header_is_unusable_keeps_every_data_line_with_the_reason(spark):
    header = parse_csv_header(b"id,_ingest_date\n")
    lines = lines_of(spark, {"/l/o.csv": b"id,_ingest_date\n1,2\n\n2,\xe9\n"})

    rows = rows_by_line(parse_lines(lines, LandingFormat.CSV, csv_headers={"/l/o.csv": header}))

    # The header's problem comes first: the line is in a file the source did not send this way.
    reason = "unexpected header: column '_ingest_date' clashes with Bronze metadata column _ingest_date"
    assert {key: r["_parse_error"] for key, r in rows.items()} == {("/l/o.csv", n): reason for n in (2, 3, 4)}
    assert parsed_columns(parse_lines(lines, LandingFormat.CSV, csv_headers={"/l/o.csv": header})) == []


def test_csv_headers_are_read_like_the_data_lines():
    with_bom_and_crlf = b'\xef\xbb\xbfop,customer_id,"first_name"\r\n'
    assert parse_csv_header(with_bom_and_crlf) == CsvHeader(("op", "customer_id", "first_name"))
    assert parse_csv_header(b"a,b,A\n").problem == "the header repeats a column name (case is ignored)"
    assert parse_csv_header(b"a,,b\n").problem == "a column name is blank"
    assert parse_csv_header(b"caf\xe9\n").problem == "the header is not valid UTF-8"
    assert parse_csv_header(b"\xff\xfeo\x00p\x00\n").problem == "the header is not valid UTF-8"  # UTF-16
    assert parse_csv_header(b"\n").problem == "the header line is empty"


DECLARED = ("order_id", "ship_city", "amount")
NAME_RULE = "letters, digits and _, not starting with a digit, at most 64 characters"


def test_a_header_holds_every_declared_column_in_any_order_and_plausible_additions():
    assert parse_csv_header(b"amount,order_id,ship_city\n", DECLARED) == CsvHeader(("amount", "order_id", "ship_city"))
    with_drift = b"order_id,ship_city,amount,coupon_code,Gift_Wrap2,_note\n"
    assert parse_csv_header(with_drift, DECLARED).columns == ("order_id", "ship_city", "amount", "coupon_code", "Gift_Wrap2", "_note")
    assert parse_csv_header(b"order_id,ship_city,amount," + b"x" * 64 + b"\n", DECLARED).problem is None


def test_a_header_that_is_not_the_sources_is_a_problem_naming_why():
    def problem(line: bytes) -> str | None:
        return parse_csv_header(line, DECLARED).problem

    assert problem(b"gift_wrap\n") == "lacks declared column(s) order_id, ship_city, amount"
    assert problem(b"order_id,amount\n") == "lacks declared column(s) ship_city"
    assert problem(b"Orders export - read me first\n") == (
        f"'Orders export - read me first' is not a column name ({NAME_RULE}); "
        "lacks declared column(s) order_id, ship_city, amount"
    )
    assert problem(b"x" * 100 + b"\n").startswith(f"'{'x' * 40}...' is not a column name")
    assert problem(b"order_id;ship_city;amount\n") == (
        f"'order_id;ship_city;amount' is not a column name ({NAME_RULE}); lacks declared column(s) order_id, ship_city, amount"
    )
    for name in ("`x`", 'x"y', "x y", "a.b", "1st", "caf\u00e9", "x" * 65, "x'; DROP TABLE t; --", "${jndi:ldap://x/a}"):
        line = f"order_id,ship_city,amount,{name}\n".encode()
        assert problem(line) is not None and "is not a column name" in problem(line), name
    assert problem(b"order_id,ship_city,amount,AMOUNT\n") == "the header repeats a column name (case is ignored)"
    assert problem(b"Order_Id,ship_city,amount\n") == "lacks declared column(s) order_id"


def test_every_data_line_of_a_file_with_an_unexpected_header_is_unparseable_and_adds_no_column(spark):
    files = {"/l/good.csv": b"order_id,ship_city,amount\n1,Lyon,2.00\n", "/l/semi.csv": b"order_id;ship_city;amount\n2;Lyon;3.00\n"}
    headers = {name: parse_csv_header(content.split(b"\n")[0], DECLARED) for name, content in files.items()}

    parsed = parse_lines(lines_of(spark, files), LandingFormat.CSV, csv_headers=headers)

    assert parsed_columns(parsed) == list(DECLARED)
    rows = rows_by_line(parsed)
    assert rows[("/l/good.csv", 2)]["_parse_error"] is None
    assert rows[("/l/semi.csv", 2)]["_parse_error"] == "unexpected header: " + headers["/l/semi.csv"].problem
    assert rows[("/l/semi.csv", 2)]["order_id"] is None


def test_json_keys_that_are_not_plausible_column_names_are_not_columns(spark):
    lines = lines_of(
        spark,
        {"/l/e.jsonl": b'{"event_id":"e1"}\n{"event_id":"e2","first name":"x"}\n{"event_id":"e3","`a`":1,"b.c":2}\n'},
    )

    keys = json_columns(lines)
    rows = rows_by_line(parse_json(lines, keys))

    assert keys == ["event_id"]
    assert {line: r["_parse_error"] for (_, line), r in rows.items()} == {
        1: None,
        2: "keys not carried as columns: first name",
        3: "keys not carried as columns: `a`, b.c",
    }


def test_a_json_object_with_a_repeated_key_is_unparseable(spark):
    lines = lines_of(spark, {"/l/e.jsonl": b'{"event_id":"e1","page":"/a","page":"/b"}\n'})

    rows = rows_by_line(parse_json(lines, json_columns(lines)))

    row = rows[("/l/e.jsonl", 1)]
    assert (row["_parse_error"], row["event_id"], row["page"]) == ("a key appears twice in the JSON object", None, None)


def parsed_columns(frame) -> list[str]:
    return [name for name in frame.columns if not name.startswith("_")]


def test_a_utf8_bom_before_the_first_json_object_is_the_files_not_the_objects(spark):
    lines = lines_of(spark, {"/l/e.jsonl": b'\xef\xbb\xbf{"event_id":"e1"}\n{"event_id":"e2"}\n'})

    rows = rows_by_line(parse_json(lines, json_columns(lines)))

    assert [(r["event_id"], r["_parse_error"]) for _, r in sorted(rows.items())] == [("e1", None), ("e2", None)]
    assert rows[("/l/e.jsonl", 1)]["_raw_line"] == '\ufeff{"event_id":"e1"}'  # kept as delivered
