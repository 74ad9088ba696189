"""Paging that `apitokens list` does itself for conditions the daemon cannot combine."""

from __future__ import annotations

from typing import Any

import pytest

from tokend_client.apitokens_query import paginate


def tokens(count: int) -> list[Any]:
    return [{"name": f"t{number:02}"} for number in range(count)]


def test_paginate_middle_page() -> None:
    page = paginate(tokens(45), 2, 20)
    assert [token["name"] for token in page.tokens] == [f"t{n}" for n in range(20, 40)]
    assert page.paginate == {
        "current_page": 2,
        "results_per_page": 20,
        "start_result": 21,
        "total_pages": 3,
        "total_results": 45,
    }
    assert page.exists


def test_paginate_last_page_partial() -> None:
    page = paginate(tokens(45), 3, 20)
    assert len(page.tokens) == 5
    assert page.exists


@pytest.mark.parametrize(("count", "pages"), [(0, 1), (1, 1), (20, 1), (21, 2), (100, 5)])
def test_paginate_counts_pages(count: int, pages: int) -> None:
    assert paginate(tokens(count), 1, 20).paginate["total_pages"] == pages


def test_paginate_empty_list_has_page_one() -> None:
    page = paginate([], 1, 20)
    assert page.tokens == []
    assert page.exists


def test_paginate_past_last_page() -> None:
    page = paginate(tokens(20), 2, 20)
    assert page.tokens == []
    assert not page.exists
