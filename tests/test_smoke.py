from tests.conftest import AuthedClient


async def test_trades_seed_shape(admin: AuthedClient) -> None:
    r = await admin.get("/api/contractors/trades")
    assert r.status_code == 200
    assert r.json() == {
        "success": True,
        "data": [
            {"trade_id": 1, "name": "Gas & Heating"},
            {"trade_id": 2, "name": "Plumbing"},
            {"trade_id": 3, "name": "Electrical"},
            {"trade_id": 4, "name": "Roofing"},
            {"trade_id": 5, "name": "General Maintenance"},
        ],
        "message": "Operation completed successfully",
    }
