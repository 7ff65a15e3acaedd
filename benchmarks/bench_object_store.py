"""S3Proxy vs SeaweedFS as the cluster deployment's object store: one run, one client.

    .venv/bin/python benchmarks/bench_object_store.py [--rounds 2] [--small 2000] [--large 20]

Each round starts each server on loopback in a fresh folder (the order alternates between
rounds), then pyarrow's S3FileSystem (what PyIceberg and Polars use: endpoint override,
plain HTTP, path-style, SigV4) times what a lakehouse asks of its object store:

- PUT and GET of many 8 KB objects (manifests, metadata JSON), each PUT one PutObject; and a
  tenth of them again as pyarrow writes a stream by default, a multipart upload per object,
- PUT and GET of 32 MB objects, multipart on upload (data files),
- ranged reads of 64 KB near the end of the large objects (Parquet footers),
- ListObjectsV2 with a prefix and the `/` delimiter over the small objects,
- a bulk delete of them (DeleteObjects, 1,000 keys a request),

plus time to ready (launch until a signed PUT and GET succeed), the resident memory of the
server's process tree (idle and after the workload) and the bytes on disk. boto3 then checks
what Iceberg's S3FileIO and Trino's native S3 file system rely on (`check_*` below).

S3Proxy runs exactly as `lakehouse up` runs it (catalog/object_store.py); SeaweedFS as
`weed server -filer -s3`, one process with a master, a volume server, a filer and the S3
gateway, built from the Go module proxy on first use. Each creates the bucket its own way
(S3Proxy: a folder made before start; SeaweedFS: CreateBucket once it answers), inside
the time to ready.
Figures are medians over the rounds; the ratio is SeaweedFS / S3Proxy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import psutil
import pyarrow.fs as pafs
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from catalog import artifacts, object_store  # noqa: E402
from catalog.settings import load_settings  # noqa: E402

BUCKET = "lakehouse"
ACCESS_KEY = "bench"
SECRET_KEY = "bench-secret-key-0123456789"
REGION = "us-east-1"
READY_TIMEOUT_SECONDS = 120.0
SMALL_BYTES = 8 * 1024
LARGE_BYTES = 32 * 1024 * 1024
FOOTER_BYTES = 64 * 1024
RANGED_READS_PER_OBJECT = 10
LIST_REPEATS = 5
LOAD_SAMPLE_SECONDS = 5.0
# Per server: did the paged ListObjectsV2 (run in the workload, over its keys) see every key once?
LISTING_PAGES_OK: dict[str, bool] = {}


# --- The two servers ----------------------------------------------------------


@dataclass
class Server:
    name: str
    argv: list[str]
    port: int  # the S3 endpoint's
    data: Path  # what to measure on disk
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None


def s3proxy(cache: Path, root: Path, port: int) -> Server:
    settings = load_settings(
        home=root / "home",
        cache_dir=cache,
        object_store={"port": port, "bucket": BUCKET, "access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY},
    )
    folder = artifacts.ensure_s3proxy(cache)
    object_store.prepare(settings)
    return Server("S3Proxy", object_store.command(settings, folder), port, object_store.data_dir(settings))


def seaweedfs_binary(cache: Path) -> Path:
    """`weed`, built once into the cache from the pinned Go module (`go install` refuses the
    module's replace directives, so it is built inside the downloaded module instead)."""
    binary = cache / f"seaweedfs-{artifacts.SEAWEEDFS_VERSION}" / "bin" / "weed"
    if binary.is_file():
        return binary
    go = shutil.which("go") or "/usr/local/go/bin/go"
    module = f"{artifacts.SEAWEEDFS_MODULE}@{artifacts.SEAWEEDFS_VERSION}"
    info = json.loads(subprocess.run([go, "mod", "download", "-json", module], check=True, capture_output=True, text=True).stdout)
    binary.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    subprocess.run([go, "build", "-o", str(binary), "./weed"], cwd=info["Dir"], check=True)
    print(f"built {binary} in {time.monotonic() - started:.0f} s ({binary.stat().st_size / 2**20:.0f} MiB)")
    return binary


def seaweedfs(cache: Path, root: Path, port: int) -> Server:
    data = root / "data"
    data.mkdir(parents=True)
    config = root / "s3.json"
    identity = {"name": "lakehouse", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"]}
    config.write_text(json.dumps({"identities": [identity]}))
    config.chmod(0o600)
    # `weed server -filer -s3`: master, volume server, filer and S3 gateway in one process.
    # (`weed mini` idles at the same RSS but adds an admin server and maintenance workers.)
    # Every port explicit and on loopback: left alone, gRPC ports are the HTTP ones + 10000,
    # and the S3 gateway also serves an Iceberg catalog (on 8181, the REST catalog's port)
    # and a Lance namespace. Telemetry to seaweedfs.com is on by default: off.
    ports = iter(range(port + 1, port + 20))
    argv = [
        str(seaweedfs_binary(cache)), "server", "-filer", "-s3", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={next(ports)}", f"-master.port.grpc={next(ports)}",
        f"-volume.port={next(ports)}", f"-volume.port.grpc={next(ports)}", "-volume.max=0",
        f"-filer.port={next(ports)}", f"-filer.port.grpc={next(ports)}",
        f"-s3.port={port}", f"-s3.port.grpc={next(ports)}", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-s3.config={config}", "-master.telemetry=false",
        f"-filer.localSocket={root / 'filer.sock'}", f"-s3.localSocket={root / 's3.sock'}",
    ]
    return Server("SeaweedFS", argv, port, data)


# --- Measuring ----------------------------------------------------------------


def tree_rss_mib(pid: int) -> float:
    process = psutil.Process(pid)
    members = [process, *process.children(recursive=True)]
    return sum(member.memory_info().rss for member in members if member.is_running()) / 2**20


def disk_mib(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 2**20


def boto(port: int, *, secret: str = SECRET_KEY, signed: bool = True):
    config = Config(
        signature_version="s3v4" if signed else UNSIGNED,
        s3={"addressing_style": "path"},
        retries={"max_attempts": 1},
        connect_timeout=2,
        read_timeout=30,
    )
    return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name=REGION,
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=secret, config=config)


def arrow(port: int, *, delayed_open: bool = True) -> pafs.S3FileSystem:
    """pyarrow's S3 client. With `delayed_open` (as `object_store.pyarrow_filesystem` sets it) an
    object smaller than a part is one PutObject; without (pyarrow's default) every output stream
    is a multipart upload: create, one part, complete."""
    return pafs.S3FileSystem(access_key=ACCESS_KEY, secret_key=SECRET_KEY, region=REGION,
                             endpoint_override=f"127.0.0.1:{port}", scheme="http", force_virtual_addressing=False,
                             connect_timeout=2, request_timeout=30, allow_delayed_open=delayed_open)


def start(server: Server, log: Path) -> float:
    """Launch and wait until a signed PUT and GET succeed: seconds from launch."""
    started = time.monotonic()
    with log.open("wb") as out:
        server.process = subprocess.Popen(server.argv, env={**os.environ, **server.env}, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
    client = boto(server.port)
    while time.monotonic() - started < READY_TIMEOUT_SECONDS:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited during start-up: see {log}")
        try:
            if BUCKET not in [bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])]:
                client.create_bucket(Bucket=BUCKET)
            client.put_object(Bucket=BUCKET, Key="ready/probe", Body=b"ready")
            if client.get_object(Bucket=BUCKET, Key="ready/probe")["Body"].read() == b"ready":
                return time.monotonic() - started
        except Exception:  # not listening yet, or listening before its volumes are ready
            time.sleep(0.1)
    raise RuntimeError(f"{server.name} not ready after {READY_TIMEOUT_SECONDS:.0f}s: see {log}")


def stop(server: Server) -> None:
    if server.process is None:
        return
    try:
        os.killpg(server.process.pid, signal.SIGTERM)
        server.process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(10)
    except ProcessLookupError:
        pass


def timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def workload(server: Server, small: int, large: int) -> dict[str, float]:
    fs = arrow(server.port)
    figures: dict[str, float] = {}
    small_dir = f"{BUCKET}/bench/small"
    bodies = [os.urandom(SMALL_BYTES) for _ in range(small)]
    paths = [f"{small_dir}/m-{i:05d}.avro" for i in range(small)]

    def put_small() -> None:
        for path, body in zip(paths, bodies):
            with fs.open_output_stream(path) as out:
                out.write(body)

    def get_small() -> None:
        for path, body in zip(paths, bodies):
            with fs.open_input_stream(path) as source:
                assert source.read() == body, f"{server.name}: {path} read back different bytes"

    figures["small PUT s"] = timed(put_small)
    figures["small GET s"] = timed(get_small)
    streams = arrow(server.port, delayed_open=False)

    def put_small_multipart() -> None:
        for index, body in enumerate(bodies[: len(bodies) // 10]):
            with streams.open_output_stream(f"{BUCKET}/bench/multipart-small/m-{index:05d}.avro") as out:
                out.write(body)

    figures["small PUT as multipart s"] = timed(put_small_multipart)
    fs.delete_dir_contents(f"{BUCKET}/bench/multipart-small")

    block = bytearray(os.urandom(LARGE_BYTES))
    large_paths = [f"{BUCKET}/bench/large/data-{i:03d}.parquet" for i in range(large)]
    digests = []

    def put_large() -> None:
        for index, path in enumerate(large_paths):
            block[:8] = index.to_bytes(8, "big")  # each object its own bytes
            digests.append(hashlib.md5(block).digest())
            with fs.open_output_stream(path) as out:
                out.write(block)

    def get_large() -> None:
        for path, digest in zip(large_paths, digests):
            with fs.open_input_file(path) as source:
                assert hashlib.md5(source.read()).digest() == digest, f"{server.name}: {path} read back different bytes"

    def ranged() -> None:
        for path in large_paths:
            with fs.open_input_file(path) as source:
                size = source.size()
                for read in range(RANGED_READS_PER_OBJECT):
                    offset = size - FOOTER_BYTES * (read + 1)
                    assert len(source.read_at(FOOTER_BYTES, offset)) == FOOTER_BYTES

    figures["large PUT s"] = timed(put_large)
    figures["large GET s"] = timed(get_large)
    figures["ranged reads s"] = timed(ranged)
    figures["disk after writes MiB"] = disk_mib(server.data)

    # One object in a sub-folder, so the listing also returns a common prefix.
    with fs.open_output_stream(f"{small_dir}/sub/marker") as out:
        out.write(b"x")
    selector = pafs.FileSelector(small_dir, recursive=False)
    listings = []
    for _ in range(LIST_REPEATS):
        started = time.monotonic()
        entries = fs.get_file_info(selector)
        listings.append(time.monotonic() - started)
        assert len(entries) == small + 1, f"{server.name}: listed {len(entries)}, expected {small + 1}"
    figures["list s"] = statistics.median(listings)
    LISTING_PAGES_OK[server.name] = check_listing_pages(server.port, small)

    figures["bulk delete s"] = timed(lambda: fs.delete_dir_contents(small_dir))
    remaining = fs.get_file_info(pafs.FileSelector(small_dir, recursive=True, allow_not_found=True))
    assert remaining == [], f"{server.name}: {len(remaining)} objects left after the bulk delete"
    fs.delete_dir_contents(f"{BUCKET}/bench/large")
    figures["disk after deletes MiB"] = disk_mib(server.data)
    return figures


def check_listing_pages(port: int, small: int) -> bool:
    """ListObjectsV2 in pages of 500 with the delimiter: every key once, the sub-folder as a prefix."""
    pages = boto(port).get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix="bench/small/", Delimiter="/", PaginationConfig={"PageSize": 500}
    )
    keys, prefixes, count = [], [], 0
    for page in pages:
        count += 1
        keys += [item["Key"] for item in page.get("Contents", [])]
        prefixes += [item["Prefix"] for item in page.get("CommonPrefixes", [])]
    return len(keys) == len(set(keys)) == small and prefixes == ["bench/small/sub/"] and count >= small // 500


# --- What Iceberg's S3FileIO and Trino's native S3 need -------------------------


def _status(error: ClientError) -> int:
    return int(error.response["ResponseMetadata"]["HTTPStatusCode"])


def _refused(call: Callable[[], object]) -> bool:
    try:
        call()
    except ClientError as error:
        return _status(error) == 403
    return False


def check_auth(port: int) -> bool:
    """SigV4 with the configured key works; a wrong secret, an unknown key, and no signature are refused."""
    boto(port).put_object(Bucket=BUCKET, Key="auth/ok", Body=b"ok")
    wrong = boto(port, secret=SECRET_KEY + "x")
    unknown = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name=REGION, aws_access_key_id="nobody",
                           aws_secret_access_key=SECRET_KEY, config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    anonymous = boto(port, signed=False)
    return (
        _refused(lambda: wrong.get_object(Bucket=BUCKET, Key="auth/ok"))
        and _refused(lambda: wrong.put_object(Bucket=BUCKET, Key="auth/bad", Body=b"x"))
        and _refused(lambda: unknown.get_object(Bucket=BUCKET, Key="auth/ok"))
        and _refused(lambda: anonymous.get_object(Bucket=BUCKET, Key="auth/ok"))
        and _refused(lambda: anonymous.list_objects_v2(Bucket=BUCKET))
    )


def check_etag(port: int) -> bool:
    """A single PUT's ETag is the body's MD5, and HEAD and GET report the same one."""
    client, body = boto(port), os.urandom(100_000)
    etag = client.put_object(Bucket=BUCKET, Key="etag/one", Body=body)["ETag"]
    expected = f'"{hashlib.md5(body).hexdigest()}"'
    return etag == expected == client.head_object(Bucket=BUCKET, Key="etag/one")["ETag"] == client.get_object(
        Bucket=BUCKET, Key="etag/one")["ETag"]


def check_multipart(port: int) -> bool:
    """Two parts (5 MiB + 1 MiB) complete into one object with a `-2` ETag; an aborted upload leaves nothing."""
    client = boto(port)
    parts_data = [os.urandom(5 * 2**20), os.urandom(2**20)]
    upload = client.create_multipart_upload(Bucket=BUCKET, Key="mpu/object")["UploadId"]
    parts = [
        {"PartNumber": number, "ETag": client.upload_part(Bucket=BUCKET, Key="mpu/object", UploadId=upload,
                                                          PartNumber=number, Body=data)["ETag"]}
        for number, data in enumerate(parts_data, start=1)
    ]
    done = client.complete_multipart_upload(Bucket=BUCKET, Key="mpu/object", UploadId=upload, MultipartUpload={"Parts": parts})
    body = client.get_object(Bucket=BUCKET, Key="mpu/object")["Body"].read()
    aborted = client.create_multipart_upload(Bucket=BUCKET, Key="mpu/aborted")["UploadId"]
    client.upload_part(Bucket=BUCKET, Key="mpu/aborted", UploadId=aborted, PartNumber=1, Body=os.urandom(2**20))
    client.abort_multipart_upload(Bucket=BUCKET, Key="mpu/aborted", UploadId=aborted)
    pending = client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    return (body == b"".join(parts_data) and done["ETag"].endswith('-2"') and not _exists(client, "mpu/aborted")
            and all(upload_["UploadId"] != aborted for upload_ in pending))


def _exists(client, key: str) -> bool:
    try:
        client.head_object(Bucket=BUCKET, Key=key)
        return True
    except ClientError as error:
        if _status(error) == 404:
            return False
        raise


def check_missing_key(port: int) -> bool:
    """HEAD of a missing key is 404 (how S3FileIO's exists() and Trino tell absent from forbidden), GET is NoSuchKey."""
    client = boto(port)
    try:
        client.get_object(Bucket=BUCKET, Key="missing/key")
        return False
    except ClientError as error:
        get_ok = _status(error) == 404 and error.response["Error"]["Code"] == "NoSuchKey"
    return get_ok and not _exists(client, "missing/key")


def check_delete_objects(port: int) -> bool:
    """DeleteObjects removes the keys it names and reports a missing one as deleted, as S3 does."""
    client = boto(port)
    for key in ("del/a", "del/b"):
        client.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    answer = client.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in ("del/a", "del/b", "del/missing")]})
    deleted = sorted(item["Key"] for item in answer.get("Deleted", []))
    return deleted == ["del/a", "del/b", "del/missing"] and not answer.get("Errors") and not _exists(client, "del/a")


def check_overwrite(port: int) -> bool:
    """A shorter object written over a longer one reads back whole and alone (no stale tail, no loss)."""
    client, first, second = boto(port), os.urandom(2**20), os.urandom(100_000)
    client.put_object(Bucket=BUCKET, Key="over/key", Body=first)
    client.put_object(Bucket=BUCKET, Key="over/key", Body=second)
    answer = client.get_object(Bucket=BUCKET, Key="over/key")
    return answer["Body"].read() == second and answer["ContentLength"] == len(second)


def check_suffix_range(port: int) -> bool:
    """`Range: bytes=-8` (a Parquet footer's length and magic) answers 206 with the last 8 bytes."""
    client, body = boto(port), os.urandom(10_000)
    client.put_object(Bucket=BUCKET, Key="range/key", Body=body)
    answer = client.get_object(Bucket=BUCKET, Key="range/key", Range="bytes=-8")
    return answer["ResponseMetadata"]["HTTPStatusCode"] == 206 and answer["Body"].read() == body[-8:]


CHECKS: dict[str, Callable[[int], bool]] = {
    "SigV4 on, wrong secret / unknown key / unsigned refused (403)": check_auth,
    "ETag = MD5 on PUT, HEAD, GET": check_etag,
    "multipart upload (-2 ETag), abort leaves nothing": check_multipart,
    "HEAD missing -> 404, GET missing -> NoSuchKey": check_missing_key,
    "DeleteObjects (incl. a missing key)": check_delete_objects,
    "overwrite: shorter object replaces longer, no stale bytes": check_overwrite,
    "suffix range bytes=-8 -> 206": check_suffix_range,
}


def run_checks(port: int) -> dict[str, str]:
    results = {}
    for name, check in CHECKS.items():
        try:
            results[name] = "pass" if check(port) else "FAIL"
        except Exception as error:  # a check that errors is a failed check, with the reason
            results[name] = f"FAIL ({type(error).__name__}: {str(error)[:80]})"
    return results


# --- Report -------------------------------------------------------------------


def machine() -> str:
    return (f"{platform.node()} {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2, help="rounds; the servers' order alternates")
    parser.add_argument("--small", type=int, default=2000, help="8 KB objects")
    parser.add_argument("--large", type=int, default=20, help="32 MB objects")
    parser.add_argument("--port-base", type=int, default=47100, help="S3Proxy on it, SeaweedFS on +100 and up")
    parser.add_argument("--cache-dir", type=Path, default=load_settings().cache_dir)
    args = parser.parse_args()

    builders = {"S3Proxy": (s3proxy, args.port_base), "SeaweedFS": (seaweedfs, args.port_base + 100)}
    seaweedfs_binary(args.cache_dir)  # built before any clock runs
    figures: dict[str, dict[str, list[float]]] = {name: {} for name in builders}
    checks: dict[str, dict[str, str]] = {}
    loads: list[float] = []
    sampling = threading.Event()

    def sample_load() -> None:  # the machine is shared: say how loaded it was
        while not sampling.wait(LOAD_SAMPLE_SECONDS):
            loads.append(os.getloadavg()[0])

    threading.Thread(target=sample_load, daemon=True).start()
    for round_ in range(args.rounds):
        order = list(builders) if round_ % 2 == 0 else list(reversed(builders))
        for name in order:
            build, port = builders[name]
            root = Path(tempfile.mkdtemp(prefix=f"bench-object-store-{name.lower()}-"))
            server = build(args.cache_dir, root, port)
            try:
                measured = {"ready s": start(server, root / "server.log")}
                time.sleep(2)
                assert server.process is not None
                measured["idle RSS MiB"] = tree_rss_mib(server.process.pid)
                measured.update(workload(server, args.small, args.large))
                measured["RSS after MiB"] = tree_rss_mib(server.process.pid)
                if name not in checks:
                    checks[name] = run_checks(port)
            finally:
                stop(server)
                shutil.rmtree(root, ignore_errors=True)
            for key, value in measured.items():
                figures[name].setdefault(key, []).append(value)
            print(f"round {round_ + 1} {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in measured.items()), flush=True)

    small_mb, large_mb = args.small * SMALL_BYTES / 2**20, args.large * LARGE_BYTES / 2**20
    rates = {  # figure -> (unit, amount per run), to print a rate next to the seconds
        "small PUT s": ("obj/s", args.small), "small GET s": ("obj/s", args.small),
        "small PUT as multipart s": ("obj/s", args.small // 10),
        "large PUT s": ("MB/s", large_mb), "large GET s": ("MB/s", large_mb),
        "ranged reads s": ("reads/s", args.large * RANGED_READS_PER_OBJECT),
        "bulk delete s": ("obj/s", args.small),
    }
    print(f"\nmachine: {machine()}")
    sampling.set()
    print(f"load average (1 min), sampled every {LOAD_SAMPLE_SECONDS:.0f} s during the run: "
          f"median {statistics.median(loads):.1f}, min {min(loads):.1f}, max {max(loads):.1f}")
    print(f"{args.rounds} rounds, medians; small = {args.small} x 8 KB ({small_mb:.0f} MB), "
          f"large = {args.large} x 32 MB ({large_mb:.0f} MB)\n")
    print(f"| measurement | S3Proxy | SeaweedFS | SeaweedFS / S3Proxy |\n|---|---:|---:|---:|")
    for key in figures["S3Proxy"]:
        a, b = (statistics.median(figures[name][key]) for name in builders)
        rate = ""
        if key in rates:
            unit, amount = rates[key]
            rate = f" ({amount / a:,.0f} / {amount / b:,.0f} {unit})"
        ratio = f"{b / a:.2f}" if a >= 0.01 else "-"
        print(f"| {key}{rate} | {a:.2f} | {b:.2f} | {ratio} |")
    print("\n| check | S3Proxy | SeaweedFS |\n|---|---|---|")
    for name in CHECKS:
        print(f"| {name} | {checks['S3Proxy'][name]} | {checks['SeaweedFS'][name]} |")
    paged = ["pass" if LISTING_PAGES_OK[name] else "FAIL" for name in builders]
    print(f"| ListObjectsV2 in pages of 500, prefix + delimiter: every key once, the sub-folder as a prefix | {' | '.join(paged)} |")
    jar = artifacts.s3proxy_jar(artifacts.s3proxy_dir(args.cache_dir))
    print(f"\nS3Proxy {artifacts.S3PROXY_VERSION}: jar {jar.stat().st_size / 2**20:.0f} MiB (Maven Central, no build)")
    weed = seaweedfs_binary(args.cache_dir)
    print(f"SeaweedFS {artifacts.SEAWEEDFS_VERSION}: binary {weed.stat().st_size / 2**20:.0f} MiB (built from the Go module)")


if __name__ == "__main__":
    main()
