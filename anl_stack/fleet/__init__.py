"""Fleets: the same command over a folder of commune inventories, several communes at a time.

``communes`` finds the communes of a fleet folder; ``run`` runs one
anl-stack command per commune in its own process (each with its own
inventory, vault and run folder, as an operator would by hand) and gathers
a summary per commune and for the fleet.
"""
