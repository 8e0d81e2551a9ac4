"""`vigil demo`: seed cameras for Phú Quốc and Thanh Hóa, a labelled event simulator,
and the orchestration that runs the database, real workers, the simulator and the web app.

Everything the simulator produces carries ``attributes["simulated"] = True``.
"""
