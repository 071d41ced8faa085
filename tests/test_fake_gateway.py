"""The tests' fake gateway keeps implementing the gateway Protocol."""

import inspect

from billing.gateways import Gateway
from tests.fake_gateway import FakeGateway


def _methods(cls) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(cls).items()
            if callable(member) and not name.startswith("_")}


def test_the_fake_has_every_method_of_the_protocol_with_the_same_signature():
    protocol = _methods(Gateway)
    fake = {name: sig for name, sig in _methods(FakeGateway).items() if name in protocol}
    assert protocol and fake == protocol
    assert isinstance(FakeGateway().name, str)
