"""Map layers: imported and generated boundaries, grids, coordinate systems and base maps.

``layers`` reads the active village and grid layers (imported, else the shipped schematic
one); ``importer`` reads boundary files (``cockpit geodata import``); ``grids`` generates grids
and counts per grid; ``tiles`` describes the configured base map. Never imports dash, flask or
plotly (docs/geodata.md).
"""
