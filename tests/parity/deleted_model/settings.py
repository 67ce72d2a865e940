from tests.parity.base import *  # noqa: F403
from tests.parity.base import installed

INSTALLED_APPS = installed("tests.parity.deleted_model.store")
DATABASE_ROUTERS = ["tests.parity.deleted_model.routers.EntryRouter"]
