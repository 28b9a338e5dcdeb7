"""The live web page of the daemon: server.py and the static files it serves."""
