"""Imports every domain's models so that ``Base.metadata`` is complete (for Alembic and tests)."""

from propops.agents import models as agents_models  # noqa: F401
from propops.auth import models as auth_models  # noqa: F401
from propops.branches import models as branches_models  # noqa: F401
from propops.certifications import models as certifications_models  # noqa: F401
from propops.contractors import models as contractors_models  # noqa: F401
from propops.core import audit  # noqa: F401
from propops.core.db import Base
from propops.geo import models as geo_models  # noqa: F401
from propops.jobs import models as jobs_models  # noqa: F401
from propops.lookups import models as lookups_models  # noqa: F401
from propops.notifications import models as notifications_models  # noqa: F401
from propops.organisations import models as organisations_models  # noqa: F401
from propops.properties import models as properties_models  # noqa: F401

metadata = Base.metadata
