"""Every route of every service's API runs its handler and its dependencies on the event loop:
FastAPI sends a plain function (`def`, not `async def`) to its thread pool on every request
and back, a thread switch and a wait for the interpreter's lock each time (a profile of the
case-events API at 140 commands/s found one such dependency on every command)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from tests.apps import APPS, api_routes


def on_the_loop(call: Any) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004 (an instance whose __call__ is async)
    )


def calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from calls(dependency)


@pytest.mark.parametrize("service", sorted(APPS))
def test_no_handler_or_dependency_of_a_route_runs_in_the_thread_pool(service: str) -> None:
    in_threads = []
    for context in api_routes(service):
        route = context.original_route
        assert isinstance(route, APIRoute)
        for call in [route.endpoint, *calls(route.dependant)]:
            if not on_the_loop(call):
                in_threads.append(f"{context.path}: {getattr(call, '__qualname__', call)}")
    assert not in_threads, "\n".join(sorted(set(in_threads)))


def test_the_check_finds_a_plain_function() -> None:
    def plain() -> None: ...

    async def coroutine() -> None: ...

    class Called:
        async def __call__(self) -> None: ...

    assert not on_the_loop(plain)
    assert on_the_loop(coroutine) and on_the_loop(Called())
