"""The invariant matrix: one row per (guarantee × path that can break it).

Each module holds the rows for one area, as a table (``pytest.mark.parametrize`` with ids
``"<guarantee> × <path>"``). A row causes the situation with the real services (PostgreSQL,
Redis, storage, the face model where faces matter) and asserts what a person would check.
Add a row whenever a path is added.
"""
