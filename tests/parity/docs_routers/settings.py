from tests.parity.base import *  # noqa: F403
from tests.parity.base import installed

INSTALLED_APPS = installed("tests.parity.docs_routers.library")
DATABASE_ROUTERS = [
    "tests.parity.docs_routers.routers.AuthRouter",
    "tests.parity.docs_routers.routers.PrimaryReplicaRouter",
]
