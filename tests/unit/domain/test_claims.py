"""How a user's OpenID Connect claims become a vatti tenant and scopes."""

from __future__ import annotations

import pytest

from vatti.domain.claims import BadTenant, ClaimMapping, NoScopes, parse_scope_map
from vatti.domain.scopes import InvalidScope, format_scopes

pytestmark = pytest.mark.unit

MAP = "vatti-admins=admin; lab-a=read,submit:pgs; hello=submit:command:hello"


def scopes_of(claims: dict[str, object], claim: str = "groups") -> str:
    return format_scopes(ClaimMapping.parse(claim, MAP).scopes(claims))


def test_the_scopes_of_every_mapped_value_are_united() -> None:
    assert scopes_of({"groups": ["lab-a", "hello", "other"]}) == (
        "read,submit:command:hello,submit:pgs"
    )


@pytest.mark.parametrize(
    "claims",
    [
        {"roles": "lab-a other"},  # a space-separated string
        {"roles": ["lab-a"]},
        {"roles": "lab-a"},
    ],
)
def test_a_claim_may_be_a_list_or_a_string(claims: dict[str, object]) -> None:
    assert scopes_of(claims, "roles") == "read,submit:pgs"


def test_a_dotted_claim_reaches_into_an_object_as_keycloak_nests_realm_roles() -> None:
    claims = {"realm_access": {"roles": ["vatti-admins"]}}
    assert scopes_of(claims, "realm_access.roles") == "admin"


@pytest.mark.parametrize(
    "claims",
    [{}, {"groups": []}, {"groups": ["staff"]}, {"groups": [{"lab-a": 1}]}, {"groups": 7}],
    ids=["absent", "empty", "unmapped", "not-strings", "a-number"],
)
def test_no_mapped_value_is_no_scope_and_is_refused(claims: dict[str, object]) -> None:
    with pytest.raises(NoScopes, match="'groups' claim"):
        scopes_of(claims)


def test_values_match_exactly() -> None:
    with pytest.raises(NoScopes):
        scopes_of({"groups": ["LAB-A", "lab-a-extra"]})


def test_the_tenant_comes_from_its_claim_or_the_default() -> None:
    mapping = ClaimMapping.parse("groups", MAP, tenant_claim="org", default_tenant="lab-z")
    assert mapping.tenant({"org": "lab-a"}) == "lab-a"
    assert mapping.tenant({}) == "lab-z"
    assert ClaimMapping.parse("groups", MAP).tenant({"org": "lab-a"}) == "default"


@pytest.mark.parametrize("value", ["../lab-b", "", ["lab-a"], "a" * 65])
def test_a_tenant_claim_that_is_no_tenant_name_is_refused(value: object) -> None:
    mapping = ClaimMapping.parse("groups", MAP, tenant_claim="org")
    with pytest.raises(BadTenant, match="'org' claim"):
        mapping.tenant({"org": value})


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("lab-a", "malformed entry 'lab-a'"),
        ("=admin", "malformed entry"),
        ("lab-a=root", "unknown scope 'root'"),
        ("lab-a=read:pgs", "only the submit scope can be narrowed"),
        ("a=read;a=admin", "mapped twice"),
        (" ; ", "at least one value"),
        ("lab-a=", "at least one scope"),
    ],
)
def test_a_malformed_map_names_its_faulty_entry(text: str, said: str) -> None:
    with pytest.raises(InvalidScope, match=said):
        parse_scope_map(text)
