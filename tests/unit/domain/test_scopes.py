"""The one scope grammar: what each scope allows, and what is refused when a token is made."""

from __future__ import annotations

import pytest

from vatti.domain.access import Caller
from vatti.domain.scopes import (
    InvalidScope,
    Scope,
    command_of,
    format_scopes,
    parse_scope,
    parse_scopes,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "scope"),
    [
        ("submit", Scope("submit")),
        (" read ", Scope("read")),
        ("admin", Scope("admin")),
        ("submit:pgs", Scope("submit", "pgs")),
        ("submit:command:hello", Scope("submit", "command", "hello")),
        ("submit:my_pipe-2", Scope("submit", "my_pipe-2")),
    ],
)
def test_the_grammar(text: str, scope: Scope) -> None:
    assert parse_scope(text) == scope
    assert str(scope) == text.strip()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("root", "unknown scope 'root'"),
        ("Submit", "unknown scope"),
        ("read:pgs", "only the submit scope can be narrowed"),
        ("admin:pgs", "only the submit scope can be narrowed"),
        ("submit:", "malformed scope"),
        ("submit:PGS", "malformed scope"),
        ("submit:a b", "malformed scope"),
        ("submit:command:hello:x", "malformed scope"),
        ("submit::hello", "malformed scope"),
    ],
)
def test_scopes_outside_the_grammar_are_refused_naming_it(text: str, message: str) -> None:
    with pytest.raises(InvalidScope, match=message) as info:
        parse_scope(text)
    assert isinstance(info.value, ValueError)  # the CLI and the settings report it as such


@pytest.mark.parametrize("text", ["", " , ", []])
def test_no_scope_at_all_is_refused(text: str | list[str]) -> None:
    with pytest.raises(InvalidScope, match="at least one scope"):
        parse_scopes(text)


def test_lists_are_parsed_and_formatted_in_one_order() -> None:
    scopes = parse_scopes(["submit:pgs, read", "submit:command:hello"])
    assert format_scopes(scopes) == "read,submit:command:hello,submit:pgs"
    assert parse_scopes(format_scopes(scopes)) == scopes


CASES = [  # scopes, pipeline, command, may submit
    ("submit", "pgs", None, True),
    ("submit", "command", "anything", True),
    ("admin", "command", "x", True),
    ("read", "pgs", None, False),
    ("submit:pgs", "pgs", None, True),
    ("submit:pgs", "command", "hello", False),
    ("submit:command", "command", "noop", True),
    ("submit:command:hello", "command", "hello", True),
    ("submit:command:hello", "command", "noop", False),
    ("submit:command:hello", "command", None, False),  # raw argv names no command
    ("submit:command:hello,submit:pgs", "pgs", None, True),
]


@pytest.mark.parametrize(("scopes", "pipeline", "command", "allowed"), CASES)
def test_what_a_token_may_submit(
    scopes: str, pipeline: str, command: str | None, allowed: bool
) -> None:
    caller = Caller.token("t", "lab", parse_scopes(scopes))
    assert caller.may_submit(pipeline, command) is allowed
    params = {"command": command} if command is not None else {"argv": ["true"]}
    assert caller.may_act_on(pipeline, params) is allowed


def test_the_command_a_request_names() -> None:
    assert command_of("command", {"command": "hello", "args": {}}) == "hello"
    assert command_of("command", {"argv": ["sh"]}) is None
    assert command_of("pgs", {"command": "hello"}) is None  # only the command pipeline has one
    assert command_of("command", None) is None


def test_tenants_and_admin() -> None:
    lab = Caller.token("t1", "lab-a", parse_scopes("submit,read"))
    admin = Caller.token("t2", "ops", parse_scopes("admin"))
    assert lab.sees("lab-a")
    assert not lab.sees("lab-b")
    assert admin.sees("lab-b")
    assert lab.may_read()
    assert not Caller.token("t3", "lab-a", parse_scopes("submit")).may_read()
    assert Caller.operator("alice").actor == "operator:alice"
    assert Caller.kafka("lab-a").actor == "kafka"
    assert Caller.oidc("sub-1", "lab-a", parse_scopes("read")).actor == "oidc:sub-1"
