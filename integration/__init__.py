"""The admin API for other systems (the personnel system): units and cadres read and written, exams, results,
learning archives and qualifications read, under /api/v1/admin/, with system accounts' scoped tokens
(accounts.system). It sits above every domain it serves and reads them through their services and queries;
nothing imports it.
"""

from integration.api import bp  # noqa: F401
