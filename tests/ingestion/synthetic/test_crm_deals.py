"""CRM exports: fixed-size pages, and deals whose stages move over days."""

from __future__ import annotations

from collections import defaultdict

import pytest

from landing_zone import GeneratedRun

DOCUMENTED_PAGE_SIZE = 50
NEXT_STAGES = {
    "lead": {"qualified", "lost"},
    "qualified": {"proposal", "lost"},
    "proposal": {"won", "lost"},
    "won": set(),
    "lost": set(),
}


@pytest.mark.parametrize("source", ["crm_contacts", "crm_deals"])
def test_pages_are_full_except_the_last(scale_one_run: GeneratedRun, source: str) -> None:
    for day in scale_one_run.days:
        pages = scale_one_run.landing.day_files(source, day)
        assert [page.name for page in pages] == [f"page-{number:04d}.jsonl" for number in range(1, len(pages) + 1)]
        sizes = [page.read_bytes().count(b"\n") for page in pages]
        assert all(size == DOCUMENTED_PAGE_SIZE for size in sizes[:-1]) and 0 < sizes[-1] <= DOCUMENTED_PAGE_SIZE


def test_deal_stages_move_forward_over_days_and_reference_known_contacts(scale_one_run: GeneratedRun) -> None:
    contacts_so_far: set[str] = set()
    stages: dict[str, list[str]] = defaultdict(list)
    for day in scale_one_run.days:
        deals = {}
        for line in scale_one_run.landing.parsed_lines("crm_deals", day):
            if line.record["updated_at"].startswith(day.isoformat()):
                deals[line.record["deal_id"]] = line.record
        contacts_today = {line.record["contact_id"] for line in scale_one_run.landing.parsed_lines("crm_contacts", day)}
        if day == scale_one_run.days[0]:
            contacts_so_far |= contacts_today
        for deal_id, deal in deals.items():
            assert deal["contact_id"] in contacts_so_far
            if stages[deal_id]:
                assert deal["stage"] in NEXT_STAGES[stages[deal_id][-1]], (deal_id, stages[deal_id], deal["stage"])
            else:
                assert deal["stage"] == "lead"
            assert (deal["closed_at"] is not None) == (deal["stage"] in ("won", "lost"))
            stages[deal_id].append(deal["stage"])
        contacts_so_far |= contacts_today
    reached = {history[-1] for history in stages.values()}
    assert reached == {"lead", "qualified", "proposal", "won", "lost"}
    assert max(len(history) for history in stages.values()) >= 3


def test_every_crm_record_has_updated_at(scale_one_run: GeneratedRun) -> None:
    for source in ("crm_contacts", "crm_deals"):
        for day in scale_one_run.days:
            assert all(line.record["updated_at"].endswith("Z") for line in scale_one_run.landing.parsed_lines(source, day))
