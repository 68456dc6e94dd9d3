"""No credentials on redirects: the transport never follows one, so nothing travels to another host."""

from __future__ import annotations

import pytest
import responses

import orderbridge as ob

SHOP = "https://shop.example.com"
EVIL = "https://evil.example.net"
SECRET = "canary-redirect-s3cret"


def _evil_calls(rsps: responses.RequestsMock) -> list[str]:
    return [call.request.url for call in rsps.calls if call.request.url.startswith(EVIL)]


def test_a_307_on_the_token_endpoint_does_not_repost_the_secret() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add("POST", SHOP + "/api/v1/oauth/token", status=307, headers={"Location": EVIL + "/token"})
        rsps.add("POST", EVIL + "/token", json={"access_token": "stolen", "expires_in": 3600})
        client = ob.connect(
            "webinone-v2", base_url=SHOP, client_id="id", client_secret=SECRET, sleep=lambda s: None
        )
        with pytest.raises(ob.TransportError) as info:
            list(client.iter_orders())
        assert _evil_calls(rsps) == []
        assert [c.request.url for c in rsps.calls] == [SHOP + "/api/v1/oauth/token"]
    assert EVIL in str(info.value) and SECRET not in str(info.value)


def test_a_302_on_a_lunasoft_list_does_not_forward_the_api_key() -> None:
    base = SHOP + "/api/v1/shopping_cart"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add("GET", base + "/orders", status=302, headers={"Location": EVIL + "/orders"})
        rsps.add(
            "GET", EVIL + "/orders", json={"orders": [{"id": "1", "line_items": []}], "next_page": False}
        )
        cart = ob.connect("lunasoft-cart", base_url=base, api_key=SECRET, sleep=lambda s: None)
        with pytest.raises(ob.RedirectRefused) as info:
            list(cart.iter_orders())
        assert _evil_calls(rsps) == []  # nothing sent there, and no answer from there taken as data
    assert info.value.location == EVIL + "/orders" and info.value.status == 302
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_no_redirect_is_followed_to_plain_http_either(status: int) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(
            "GET",
            SHOP + "/api/v2/admin/orders",
            status=status,
            headers={"Location": "http://shop.example.com/x"},
        )
        rsps.add("GET", "http://shop.example.com/x", json={"Items": [], "TotalItemsCount": 0})
        client = ob.connect("webinone-v2", base_url=SHOP, token=SECRET, sleep=lambda s: None)
        with pytest.raises(ob.RedirectRefused, match=r"redirects to http://shop\.example\.com/x"):
            list(client.iter_orders())
        assert len(rsps.calls) == 1
        assert "Authorization" in rsps.calls[0].request.headers  # sent only to the configured host
