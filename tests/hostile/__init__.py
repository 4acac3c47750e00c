"""The hostile corpus: bad input of every family, served by the loopback upstream and pushed
through every finews command (see README.md in this folder)."""
