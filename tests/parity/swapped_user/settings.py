from tests.parity.base import *  # noqa: F403
from tests.parity.base import installed

INSTALLED_APPS = installed("tests.parity.swapped_user.accounts", "tests.parity.swapped_user.notes")
AUTH_USER_MODEL = "accounts.User"
DATABASE_ROUTERS = ["tests.parity.swapped_user.routers.UsersRouter"]
