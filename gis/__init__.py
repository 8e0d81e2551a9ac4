"""Geography only: ward/zone layers, CRS, heatmap grid, homographies, coverage, hotspots.

Imports nothing from store/, analytics/ or webapp/.
"""
