"""Framework mappings and regulatory clocks, both kept as data files in ``data/``."""
