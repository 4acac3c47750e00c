"""finews: a self-hosted Chinese financial news aggregator.

Data flows one way: sources -> fetch -> normalize -> store -> publish.
"""

from finews.logs import mask_secrets_in_logs

__all__ = ["__version__"]

__version__ = "0.1.0"

# a source URL may carry credentials: no log record of finews (or httpx) shows them
mask_secrets_in_logs()
