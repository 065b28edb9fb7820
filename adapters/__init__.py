"""Adapters: the ports of ``domain.ports`` implemented over files, memory and databases."""
