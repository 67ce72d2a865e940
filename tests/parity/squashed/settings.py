from tests.parity.base import *  # noqa: F403
from tests.parity.base import installed

INSTALLED_APPS = installed("tests.parity.squashed.ledger", "tests.parity.squashed.site")
DATABASE_ROUTERS = ["tests.parity.squashed.routers.LedgerRouter"]
