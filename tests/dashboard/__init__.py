"""Tests of the dashboard server: API, pages, security, exports, Socket.IO."""
