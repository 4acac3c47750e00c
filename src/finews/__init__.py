"""finews: a self-hosted Chinese financial news aggregator.

Data flows one way: sources -> fetch -> normalize -> store -> publish.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
