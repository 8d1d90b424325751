"""Figures and interactive explorers for the book's chapters.

One module per topic; chapters import the one they need, e.g.
``from dlkit.viz import neurons``. viz draws and never trains: the runs and sweeps it
draws are in :mod:`dlkit.experiments`, which a chapter calls first and whose results
it hands to a viz function. Nothing else in dlkit imports viz.
"""
