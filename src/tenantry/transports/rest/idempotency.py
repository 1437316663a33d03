"""`Idempotency-Key` on creating POSTs (SPEC §3): a route reads the header into a key claim
(`CreateOnceDep.key_claim`) for the service, which claims and answers it in its own unit of
work (`domain.idempotency.answer_once` / `answer_apart`); `answered` sends the service's
outcome, or the stored answer of an earlier request with the key."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tenantry.domain.idempotency import IdempotencyRecords, KeyClaim, StoredResponse
from tenantry.errors import MalformedRequest
from tenantry.transports.rest.deps import TENANT_HEADER, ContainerDep

IDEMPOTENCY_HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class CreateOnce:
    records: IdempotencyRecords
    key: str | None
    scope: tuple[str, str, str | None]  # method, path, tenant header

    def key_claim(
        self, body: BaseModel, *, user_id: uuid.UUID, answer: Callable[[T], Any]
    ) -> KeyClaim[T] | None:
        """The key for work that claims it in its own transaction (None without a key)."""
        if self.key is None:
            return None
        return KeyClaim(self.records, user_id, self.key, self.fingerprint(body), answer)

    def fingerprint(self, body: BaseModel | None) -> str:
        """What the key stands for: the method, path, tenant header and body."""
        content = body.model_dump(mode="json") if body is not None else None
        return self.records.fingerprint([self.scope, content])


def json_body(model: M) -> Any:
    """A read model as its JSON body: the answer a key stores and a creating route sends."""
    return model.model_dump(mode="json")


def answered(
    outcome: T | StoredResponse, render: Callable[[T], Any], *, status_code: int = 201
) -> JSONResponse:
    """A service's answer to a request that may carry an Idempotency-Key: the stored answer
    of an earlier request with the key, sent again, or `outcome` rendered by `render` (the
    same function the key claim stores answers with)."""
    if isinstance(outcome, StoredResponse):
        return replayed(outcome)
    return JSONResponse(render(outcome), status_code=status_code)


def replayed(stored: StoredResponse) -> JSONResponse:
    """The answer stored for a key, sent again."""
    return JSONResponse(
        stored.body, status_code=stored.status_code, headers={REPLAYED_HEADER: "true"}
    )


async def create_once(request: Request, container: ContainerDep) -> CreateOnce:
    values = request.headers.getlist(IDEMPOTENCY_HEADER)
    key = values[0].strip() if len(values) == 1 else None
    if len(values) > 1 or (
        key is not None and not (0 < len(key) <= MAX_KEY_LENGTH and key.isprintable())
    ):
        raise MalformedRequest(
            f"Send one Idempotency-Key of 1 to {MAX_KEY_LENGTH} printable characters.",
            code="invalid_idempotency_key",
        )
    return CreateOnce(
        records=container.idempotency,
        key=key,
        scope=(request.method, request.url.path, request.headers.get(TENANT_HEADER)),
    )


CreateOnceDep = Annotated[CreateOnce, Depends(create_once)]
