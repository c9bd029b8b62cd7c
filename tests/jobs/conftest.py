import pytest

from jobs import engine


@pytest.fixture
def queued_jobs(app):
    """The engine as a queue in memory: jobs wait until the test runs them (engine.run_pending)."""
    app.config["JOBS_URL"] = "memory"
    engine.build(app)
    yield engine.engine()
    app.config["JOBS_URL"] = "immediate"
    engine.build(app)
