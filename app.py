"""The application factory: a table of contents of QualExam."""

import os
from collections.abc import Mapping

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Config, engine_options


def create_app(config=None) -> Flask:
    """Build the app. `config` is a Config subclass (tests pass TestConfig) or a mapping of overrides."""
    # The instance folder (secret key, question images) is instance/ beside the code unless QE_INSTANCE_PATH names
    # another (an absolute path: a volume of its own, or one folder shared by several nodes).
    app = Flask(__name__, instance_path=os.environ.get("QE_INSTANCE_PATH") or None, instance_relative_config=True)
    cls = config if isinstance(config, type) else Config
    app.config.from_object(cls)
    app.config.update(cls.from_env(app.instance_path))
    if isinstance(config, Mapping):
        app.config.update(config)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    if app.config.get("TRUSTED_PROXIES"):
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)

    from core import crypto, i18n, static
    from core.errors import register_error_handlers
    from core.extensions import csrf, db, limiter, login_manager, migrate
    from core.models import init_transactions
    from core.security import (
        StrictJSONProvider,
        register_body_limits,
        register_csrf,
        register_input_checks,
        register_security_headers,
    )
    from core.web import register_converters

    app.json = StrictJSONProvider(app)
    register_converters(app)  # before the blueprints: `<int:…>` is bounded by what a column holds
    db.init_app(app)
    crypto.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/migrations"), render_as_batch=True)
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    csrf.init_app(app)
    limiter.init_app(app)
    register_body_limits(app)
    register_input_checks(app)
    register_csrf(app)
    i18n.init_app(app)
    # after_request hooks run last-registered first: the headers go on whatever the commit hook returns.
    register_security_headers(app)
    init_transactions(app)
    register_error_handlers(app)
    static.init_app(app)

    import accounts
    import archive
    import exam
    import integration
    import jobs
    import personnel
    import practice
    import proctoring
    import question_bank
    import reports
    import results
    import sitting

    jobs.init_app(app)
    for package in (
        jobs,
        accounts,
        question_bank,
        exam,
        archive,
        reports,
        sitting,
        results,
        practice,
        proctoring,
        personnel,
    ):
        app.register_blueprint(package.bp)
    from archive.verify import verify_bp
    from exam.api import api_bp
    from exam.candidate import take_bp
    from exam.grading_views import grading_bp
    from exam.marking_views import marking_bp
    from practice.api import api_bp as practice_api_bp
    from proctoring.api import api_bp as proctoring_api_bp

    for bp in (
        api_bp,
        practice_api_bp,
        proctoring_api_bp,
        take_bp,
        grading_bp,
        marking_bp,
        verify_bp,
        results.verify_bp,
        integration.bp,
    ):
        app.register_blueprint(bp)

    from accounts.cli import accounts_cli, cadres_cli, units_cli
    from archive.cli import archive_cli
    from core.audit_chain import audit_cli
    from core.backup import backup_cli
    from demo.cli import demo_cli
    from exam.cli import exams_cli
    from jobs.cli import jobs_cli
    from personnel.cli import personal_data_cli  # also adds `flask cadres import-lrmx`
    from question_bank.cli import banks_cli, questions_cli
    from reports.cli import reports_cli
    from results.cli import results_cli

    groups = (accounts_cli, cadres_cli, banks_cli, questions_cli, exams_cli, archive_cli, reports_cli, demo_cli)
    for group in (*groups, units_cli, backup_cli, audit_cli, jobs_cli, results_cli, personal_data_cli):
        app.cli.add_command(group)

    import core.audit  # noqa: F401  (its model belongs to the schema)

    return app
