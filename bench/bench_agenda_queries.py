"""SQL statements per agenda request, for a patient with 1 plan item and with 12 (in-process);
the agenda's throughput is in bench_endpoints.py."""
import sys


def queries_per_agenda() -> str:
    """In-process: count statements for a patient with 1 item and with 12 items."""
    import os
    import tempfile

    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from flask_migrate import upgrade
    from sqlalchemy import event

    from app import create_app
    from app.cli import create_demo_accounts
    from app.common.seeding import seed_loaders
    from app.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tempfile.mkdtemp()}/q.sqlite3",
                      "RATELIMIT_ENABLED": False, "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024})
    with app.app_context():
        upgrade()
        for loader in seed_loaders(app):
            loader()
        create_demo_accounts()
        engine = db.engine
    client = app.test_client()
    coordinator = client.post("/api/v1/auth/login", json={"email": "coordinator@demo.standstrong.local",
                                                          "password": "StandStrong-demo-2026"}).get_json()
    headers = {"Authorization": f"Bearer {coordinator['access_token']}"}
    counts = {}
    for n_items in (1, 12):
        body = {"display_name": f"Bench {n_items}", "date_of_birth": "1980-01-01", "sex": "male",
                "injury_date": "2020-01-01", "neurological_level": "L1", "ais_grade": "A",
                "time_zone": "Europe/London", "language": "en"}
        patient = client.post("/api/v1/patients", json=body, headers=headers).get_json()["patient"]
        slugs = ["passive-range-of-motion", "upper-body-exercise", "pressure-relief"] * 4
        items = [{"exercise": slugs[i], "minutes": 10 + i, "days_of_week": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}
                 for i in range(n_items)]
        client.post(f"/api/v1/patients/{patient['id']}/plans", json={"items": items}, headers=headers)
        seen = []
        listener = lambda *args: seen.append(1)  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        client.get(f"/api/v1/patients/{patient['id']}/agenda", headers=headers)
        event.remove(engine, "before_cursor_execute", listener)
        counts[n_items] = len(seen)
    return f"SQL statements per agenda request: {counts[1]} with 1 item, {counts[12]} with 12 items"


def main():
    print(queries_per_agenda())


if __name__ == "__main__":
    main()
