"""The API's request and response bodies (they make the OpenAPI schema and check input)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_DEPTH = 16
"""Lists and objects in a call's arguments nest at most this deep (a colour is 2)."""


def depth(value: Any, limit: int = MAX_DEPTH + 1) -> int:
    """How deep lists and dicts nest in ``value`` (counting stops past ``limit``)."""
    if limit <= 0 or not isinstance(value, list | dict):
        return 0
    items = value.values() if isinstance(value, dict) else value
    return 1 + max((depth(v, limit - 1) for v in items), default=0)


class Strict(BaseModel):
    """A request body: no unknown keys, no value of another type than declared ("3" for a
    number, 0 for a boolean)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class CallBody(Strict):
    """A command with typed JSON arguments, or text ``words`` converted by the node's
    declared types as the CLI converts them (the page's forms send words)."""

    command: str = Field(min_length=1, max_length=80, examples=["add_points"])
    args: list[Any] = Field(default_factory=list, max_length=32, examples=[[10]])
    kwargs: dict[str, Any] = Field(default_factory=dict, max_length=32)
    words: list[str] | None = Field(default=None, max_length=32, examples=[None])

    @model_validator(mode="after")
    def _one_way(self) -> CallBody:
        if self.words is not None and (self.args or self.kwargs):
            raise ValueError("send either words (text, converted by the node's declared "
                             "types) or args/kwargs (typed JSON), not both")
        if depth(self.args) > MAX_DEPTH or depth(self.kwargs) > MAX_DEPTH:
            raise ValueError(f"args and kwargs may be nested at most {MAX_DEPTH} levels deep "
                             "(no command takes more)")
        return self


class FleetCallBody(CallBody):
    selector: str = Field(min_length=1, max_length=400, examples=["@teams"])


class RaceBody(Strict):
    selector: str = Field(default="all", min_length=1, max_length=400, examples=["@teams"])
    start_in: float = Field(default=3.0, ge=0.5, le=60, description="Seconds until GO.")
    timeout: float = Field(default=60.0, ge=1, le=3600,
                           description="Seconds after GO at which the race ends.")
    award: int = Field(default=0, ge=0, le=1_000_000,
                       description="Points added to the winner's scoreboard.")


class SessionBody(Strict):
    token: str = Field(min_length=1, max_length=256)


class PresetApplyBody(Strict):
    selector: str | None = Field(default=None, min_length=1, max_length=400)


class PresetSaveBody(Strict):
    name: str = Field(min_length=1, max_length=40, examples=["morning"])
    selector: str = Field(default="all", min_length=1, max_length=400)
    force: bool = False


class Result(BaseModel):
    result: Any = Field(description="What the command returned (bytes as base64 text).")


class Outcome(BaseModel):
    result: Any = None
    error: str | None = None
    status: int | None = Field(default=None, description="The HTTP status this error "
                               "would have had on its own (404, 409, 504 ...).")


class FleetResults(BaseModel):
    results: dict[str, Outcome]


class Node(BaseModel):
    name: str
    groups: list[str]
    mode: str | None
    modes: list[str] = Field(default_factory=list)
    shows: str = ""
    state: dict[str, Any] = Field(default_factory=dict)
    uptime: float | None = None
    problems: list[str] = Field(default_factory=list)
    error: str | None = Field(description="Why the node did not answer (then mode is null).")


class Info(BaseModel):
    version: str
    share_url: str = Field(description="The page's address for phones (never the token).")
    auth: bool
    authenticated: bool
    name_server: str
    source: str


class Preset(BaseModel):
    name: str
    nodes: list[str]
    describe: str


class Saved(BaseModel):
    name: str
    nodes: list[str]
    path: str


class RaceState(BaseModel):
    id: str | None
    state: str = Field(description="idle, arming, running, finished, cancelled or failed")
    selector: str | None
    lanes: dict[str, dict[str, Any]]
    ranking: list[dict[str, Any]]
    winner: str | None
    error: str | None
    left: dict[str, str]
    started_local: str | None
    start_in: float | None
    model_config = ConfigDict(extra="allow")
