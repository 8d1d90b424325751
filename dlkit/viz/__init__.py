"""Figures and interactive explorers for the book's chapters.

One module per topic; chapters import the one they need, e.g.
``from dlkit.viz import neurons``. Nothing else in dlkit imports viz.
"""
