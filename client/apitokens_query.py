"""The token lists that `apitokens` shows: one page of `Tokens::list`, or the named tokens.

The daemon filters on one column per call. A listing with one condition (a name search, or
one status) is filtered, sorted and paged by the daemon. A listing with more conditions gets
the daemon's sorted list, narrowed by the name search when there is one, and this module
applies the status conditions and the paging itself, with the same page arithmetic.
"""

from __future__ import annotations

from . import jsonrpc, protocol

# mypy treats a name TYPE_CHECKING as true wherever it comes from. Importing `typing` at run
# time would slow the command's start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from .client import Client
    from .results import TokenInfo, UAPIResult

SORT_COLUMNS = {"name": "name", "created": "create_time", "expires": "expires_at"}
"""The `--sort` choices and the `Tokens::list` fields they sort by."""

PAGE_SIZES = (20, 100, 500)
"""The page sizes that cPanel's Manage API Tokens screen offers."""

EXPIRING = "expiring_soon"
EXPIRED = "expired"


class ListQuery:
    """What `apitokens list` asks for: conditions, order and page.

    `statuses` holds EXPIRING, EXPIRED or both, and a token matches when any of them is set
    on it. `search` matches names that contain it, ignoring case. `page` counts from 1.
    """

    def __init__(
        self,
        *,
        statuses: Iterable[str] = (),
        search: str | None = None,
        sort: str = "name",
        reverse: bool = False,
        page: int = 1,
        per_page: int = PAGE_SIZES[0],
    ) -> None:
        self.statuses = tuple(statuses)
        self.search = search
        self.sort_column = SORT_COLUMNS[sort]
        self.reverse = reverse
        self.page = page
        self.per_page = per_page

    @property
    def is_filtered(self) -> bool:
        return bool(self.statuses) or self.search is not None

    def conditions(self) -> list[tuple[str, str, str]]:
        """Return the conditions as (column, filter type, term) for `api.filter_*`."""
        conditions = [(status, "eq", "1") for status in self.statuses]
        if self.search is not None:
            conditions.append(("name", "contains", self.search))
        return conditions

    def matches_status(self, token: TokenInfo) -> bool:
        return any(token.get(status) == 1 for status in self.statuses)


class Page:
    """One page of tokens with cPanel's pagination fields.

    `paginate` has the keys of UAPI's `metadata.paginate`: current_page, results_per_page,
    start_result, total_pages and total_results.
    """

    def __init__(self, tokens: list[TokenInfo], paginate: dict[str, int]) -> None:
        self.tokens = tokens
        self.paginate = paginate

    @property
    def exists(self) -> bool:
        """Whether the requested page is within the list; page 1 of an empty list is."""
        return self.paginate["current_page"] <= self.paginate["total_pages"]


def fetch_page(client: Client, query: ListQuery, user: str | None) -> Page:
    """Return the page of tokens that `query` asks for; raises what `Client` raises."""
    params: dict[str, object] = {"api.sort_column": query.sort_column}
    if query.reverse:
        params["api.sort_reverse"] = 1

    conditions = query.conditions()
    if len(conditions) <= 1:
        if conditions:
            params.update(_filter_params(*conditions[0]))
        params["api.paginate_size"] = query.per_page
        params["api.paginate_start"] = (query.page - 1) * query.per_page + 1
        result = _list(client, params, user)
        return Page(result["data"], result["metadata"]["paginate"])

    if query.search is not None:
        params.update(_filter_params("name", "contains", query.search))
    listed: list[TokenInfo] = _list(client, params, user)["data"]
    tokens = [token for token in listed if query.matches_status(token)]
    return paginate(tokens, query.page, query.per_page)


def paginate(tokens: list[TokenInfo], page: int, per_page: int) -> Page:
    """Cut page `page` out of `tokens` and count pages as the daemon does."""
    total = len(tokens)
    first = (page - 1) * per_page
    paginate = {
        "current_page": page,
        "results_per_page": per_page,
        "start_result": first + 1,
        "total_pages": max(1, -(-total // per_page)),
        "total_results": total,
    }
    return Page(tokens[first : first + per_page], paginate)


def find_tokens(client: Client, names: Iterable[str], user: str | None) -> dict[str, TokenInfo]:
    """Return the list entries of those of `names` that exist, by name."""
    wanted = set(names)
    tokens: list[TokenInfo] = _list(client, {}, user)["data"]
    return {token["name"]: token for token in tokens if token["name"] in wanted}


def find_token(client: Client, name: str, user: str | None) -> TokenInfo | None:
    """Return the list entry of the token `name`, or None when the account has none by that name."""
    params = _filter_params("name", "eq", name)
    tokens: list[TokenInfo] = _list(client, params, user)["data"]
    return tokens[0] if tokens else None


def _filter_params(column: str, filter_type: str, term: str) -> dict[str, object]:
    return {"api.filter_column": column, "api.filter_type": filter_type, "api.filter_term": term}


def _list(client: Client, params: dict[str, object], user: str | None) -> UAPIResult:
    return client.call_function(protocol.LIST, jsonrpc.named_params(params, user))
