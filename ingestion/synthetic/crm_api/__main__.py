"""`python -m ingestion.synthetic.crm_api --host H --port P --database DB --token-file F ...`: serve until stopped.

Started by `lakehouse up` (`catalog/services.py`), which passes every setting on the
command line. The bearer token is made here on first start (0600), so it is never in
settings or on a command line; clients read the same file.
"""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path

import uvicorn

from catalog.secret_files import create_once
from ingestion.synthetic.crm_api.app import ApiConfig, create_app
from ingestion.synthetic.crm_api.store import Store


def ensure_token(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return create_once(path, lambda: secrets.token_urlsafe(32)).strip()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ingestion.synthetic.crm_api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--token-file", type=Path, required=True)
    parser.add_argument("--page-limit", type=int, default=100)
    parser.add_argument("--search-cap", type=int, default=10_000)
    parser.add_argument("--rate-limit-every", type=int, default=0)
    parser.add_argument("--retry-after", type=int, default=1)
    parser.add_argument("--fault-every", type=int, default=0)
    args = parser.parse_args(argv)
    args.database.parent.mkdir(parents=True, exist_ok=True)
    config = ApiConfig(
        token=ensure_token(args.token_file),
        page_limit=args.page_limit,
        search_cap=args.search_cap,
        rate_limit_every=args.rate_limit_every,
        retry_after_seconds=args.retry_after,
        fault_every=args.fault_every,
    )
    uvicorn.run(create_app(Store(args.database), config), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
