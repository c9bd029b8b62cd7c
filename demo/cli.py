"""`flask demo load`."""

import os

import click
from flask.cli import with_appcontext

from core.extensions import db
from core.models import now_utc
from demo import district


@click.group("demo", help="Demonstration data.")
def demo_cli():
    pass


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing (successfully) when the database already has accounts.")
@with_appcontext
def load(if_empty):
    """Fill an empty database with the demo district and print the demo accounts (QE_ALLOW_DEMO=1 only)."""
    if os.environ.get("QE_ALLOW_DEMO") != "1":
        raise click.ClickException(
            "The demo district has well-known passwords; set QE_ALLOW_DEMO=1 to load it (make run does)."
        )
    if not district.database_is_empty():
        if not if_empty:
            raise click.ClickException("The database is not empty; the demo district is only loaded into an empty one.")
        accounts = district.demo_accounts_in_use()
        click.echo("The database already has accounts; demo data not loaded.")
        if accounts:  # `make run` ends with them every time, not only the first
            click.echo("Demo accounts still on the demo password (username / password / roles):")
    else:
        accounts = district.load(now_utc())
        db.session.commit()
        click.echo("Demo district loaded. Accounts (username / password / roles):")
    for username, password, roles in accounts:
        click.echo(f"  {username:<10} {password:<12} {roles}")


@demo_cli.command("lrmx-forms")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--count", default=10, show_default=True, help="Forms of this many cadres of the database.")
@with_appcontext
def lrmx_forms(folder, count):
    """Write 干部任免审批表 forms (.lrmx) to try the import with: invented forms for the first COUNT serving cadres
    (their names and birth dates, so they match), half in each layout, and two of people not yet in QualExam
    (their files named by an employee number), plus forms.zip of them all."""
    import io
    import zipfile
    from pathlib import Path

    from sqlalchemy import select

    from accounts.models import Cadre, User
    from demo.lrmx_forms import Form, export, photo_jpeg, software

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    cadres = db.session.scalars(select(Cadre).join(User).where(Cadre.status == "serving").order_by(User.username)
                                .limit(count))  # fmt: skip
    written = []
    for i, cadre in enumerate(cadres):
        form = Form(name=cadre.name, male=cadre.gender == "male", birth=cadre.birth_date, seq=100 + i,
                    photo=photo_jpeg(i), employee_number=cadre.employee_number)  # fmt: skip
        written.append((f"{cadre.name}.lrmx", (software if i % 2 else export)(form)))
    for i, (number, name) in enumerate((("Q9001", "程雨桐"), ("Q9002", "邵明轩"))):
        form = Form(name=name, male=i == 1, seq=900 + i, post="青山镇农业服务中心二级科员", photo=photo_jpeg(50 + i))
        written.append((f"{number}_{name}.lrmx", software(form)))
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in written:
            (out / name).write_bytes(data)
            z.writestr(f"任免审批表/{name}", data)
    (out / "forms.zip").write_bytes(packed.getvalue())
    click.echo(f"{len(written)} forms written to {out} (and forms.zip of them).")
