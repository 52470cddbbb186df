from tests.conftest import Deployed


def test_dev_members_are_enrolled(deployed: Deployed) -> None:
    m = deployed.membership
    assert deployed.chain.call(m.functions.hasRole(deployed.accounts["bank"].address, 8))
    assert deployed.chain.call(m.functions.memberCount()) == 9
