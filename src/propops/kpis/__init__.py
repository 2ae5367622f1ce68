"""Agent performance KPIs over jobs (``GET /api/agents/performance``).

A package of its own above ``jobs``: the figures read jobs, and jobs read the agents' branch
visibility, so inside ``agents`` they would make an import cycle (tests/quality/test_layers.py).
"""
